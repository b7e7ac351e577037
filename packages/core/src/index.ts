/** The zod instance core's schemas are built with, so variants `.extend()` them without a zod dependency of their own. */
export { z } from 'zod';
export { type ErrorStats, errorStats, formatErrorStats, type Tolerance } from './accuracy.js';
export { AttentionInputError, describeValue } from './errors.js';
export { attentionFlops, attentionGflops } from './flops.js';
export { kvHeadOf, kvHeadRow, queryHeadRow } from './heads.js';
export {
  andMasks,
  causalMask,
  firstVisibleKey,
  isVisible,
  keyPosition,
  kvLengthMask,
  type MaskPredicate,
  maskForProblem,
  maskToString,
  materializeMask,
  visibleKeyEnd,
  visiblePairs,
  windowMask,
} from './masks.js';
export { type AttentionPart, type MergeOptions, mergeAttention, mergeAttentionRows } from './merge.js';
export { naiveFloat32Attention } from './naive.js';
export { referenceAttention } from './oracle.js';
export { createRng, portableLog, type Rng } from './rng.js';
export { type RopeOptions, referenceRope, rope } from './rope.js';
export { numel, randn, tensor, zeros } from './tensor.js';
export type {
  AttentionCache,
  AttentionCall,
  AttentionOptions,
  AttentionProblem,
  AttentionVariant,
  Tensor,
} from './types.js';
export {
  assertSupported,
  attentionOptionsSchema,
  attentionOptionsShape,
  type CachedKeyValues,
  defaultScale,
  parseAttentionCall,
  parseCachedAttentionCall,
  parseOptions,
  parseTensor,
  tensorSchema,
  validateAttentionInputs,
} from './validate.js';
