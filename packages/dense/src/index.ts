export { dense, denseAttention, denseWorkModule } from './dense.js';
export { DEFAULT_MAX_SCORES_BYTES, type DenseOptions, denseOptionsSchema } from './options.js';
export { type AttentionWeightsOptions, attentionWeights } from './weights.js';
