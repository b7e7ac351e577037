/** The zod instance core's schemas are built with, so variants `.extend()` them without a zod dependency of their own. */
export { z } from 'zod';
export { type ErrorStats, errorStats, formatErrorStats, type Tolerance } from './accuracy.js';
export { AttentionInputError, describeValue } from './errors.js';
export { attentionFlops, attentionGflops } from './flops.js';
export { kvHeadOf, kvHeadRow, queryHeadRow } from './heads.js';
export {
  type AndMask,
  type AttentionMask,
  andMasks,
  type BlockSparseMask,
  blockSparseMask,
  causalMask,
  type DocumentMask,
  documentMask,
  type GlobalTokensMask,
  globalTokensMask,
  isAttentionMask,
  type KvLengthsMask,
  kvLengthMask,
  type NotMask,
  notMask,
  type OrMask,
  orMasks,
  type PredicateMask,
  type PredicateMaskOptions,
  type PrefixLMMask,
  predicateMask,
  prefixLMMask,
  type WindowMask,
  windowMask,
} from './mask-values.js';
export {
  firstVisibleKey,
  isVisible,
  keyPosition,
  type MaskPredicate,
  maskForProblem,
  maskToString,
  materializeMask,
  visibleKeyEnd,
  visiblePairs,
} from './masks.js';
export { type AttentionPart, type MergeOptions, mergeAttention, mergeAttentionRows } from './merge.js';
export { naiveFloat32Attention } from './naive.js';
export { referenceAttention } from './oracle.js';
export { createRng, portableLog, type Rng } from './rng.js';
export { type RopeOptions, referenceRope, rope } from './rope.js';
export {
  type AlibiMod,
  alibi,
  alibiSlopes,
  isScoreMod,
  referenceScore,
  type ScoreFunction,
  type ScoreFunctionMod,
  type ScoreMod,
  type SoftcapMod,
  scoreFunction,
  scoreModList,
  softcap,
} from './score-mods.js';
export { numel, randn, tensor, zeros } from './tensor.js';
export type {
  AttentionCache,
  AttentionCall,
  AttentionOptions,
  AttentionProblem,
  AttentionVariant,
  ProblemScoreMod,
  Tensor,
} from './types.js';
export {
  type AttentionShape,
  assertSupported,
  attentionOptionsSchema,
  attentionOptionsShape,
  type CachedKeyValues,
  defaultScale,
  parseAttentionCall,
  parseCachedAttentionCall,
  parseOptions,
  parseTensor,
  problemForShape,
  tensorSchema,
  validateAttentionInputs,
} from './validate.js';
export {
  BLOCK_EMPTY,
  BLOCK_FULL,
  BLOCK_PARTIAL,
  type BlockMask,
  blockIndex,
  documentOf,
  emptyRowRange,
  evaluateMask,
  generalAllows,
  isMaskCompiled,
  isVisibleIn,
  MASK_BLOCK,
  MASK_CACHE_SHAPES,
  type ProblemDocuments,
  queryPosition,
  type RowRange,
  rowRange,
} from './visibility.js';
