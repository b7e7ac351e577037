export { type ConformanceCase, conformanceCases, makeCaseInputs } from './cases.js';
export { type ConformanceConfig, describeVariant } from './describe-variant.js';
export { type MalformedInput, malformedInputs } from './malformed.js';
export {
  expectBitwiseEqual,
  expectRefusalChangesNothing,
  type RefusalScenario,
  sliceSequence,
} from './refusal.js';
