export {
  createMultiHeadDecoder,
  type DecoderCacheSpec,
  type DecoderKVCache,
  type MultiHeadDecoder,
  type MultiHeadDecoderOptions,
} from './decoder.js';
export { mergeHeads, splitHeads } from './heads.js';
export {
  type InitMultiHeadWeightsOptions,
  initMultiHeadWeights,
  type XavierDistribution,
  type XavierOptions,
  xavierInit,
  xavierNormal,
  xavierUniform,
} from './init.js';
export {
  type MultiHeadAttentionOptions,
  multiHeadAttention,
  type ProjectedHeads,
} from './multi-head-attention.js';
export { type ReferenceLayerOptions, referenceMultiHeadAttention } from './oracle.js';
export { linearLayer } from './projection.js';
export type { LayerShape, MultiHeadWeights, VariantOptionsOf } from './validate.js';
