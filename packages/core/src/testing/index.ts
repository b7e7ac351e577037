export {
  type ConformanceCase,
  conformanceCases,
  MASK_FEATURE_OPTION,
  MASK_FEATURES,
  type MaskCase,
  type MaskFeature,
  makeCaseInputs,
  maskCases,
  maskRefusalCase,
} from './cases.js';
export { type ConformanceConfig, describeVariant } from './describe-variant.js';
export {
  attentionInputs,
  DECODE_TOLERANCE,
  expectDecodeOracle,
  expectWithin,
  MATERIALISED_TOLERANCE,
  thrownInputError,
} from './helpers.js';
export { type MalformedInput, malformedInputs } from './malformed.js';
export {
  expectBitwiseEqual,
  expectRefusalChangesNothing,
  placeSequence,
  type RefusalScenario,
  sliceSequence,
} from './refusal.js';
export {
  defaultLseTolerance,
  firstBitDifference,
  maxAbsFinite,
  TWO_X_RULE_FLOOR_ULPS,
  type TwoXRule,
  twoXRule,
} from './rules.js';
