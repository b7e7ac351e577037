export { favorProjection } from './favor-projection.js';
export { linear, linearAttention, linearWorkModule } from './linear-attention.js';
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_EPS,
  DEFAULT_FEATURE_MAP,
  DEFAULT_FEATURES,
  DEFAULT_SEED,
  FEATURE_MAPS,
  type FeatureMap,
  type LinearOptions,
  linearOptionsSchema,
} from './options.js';
export { createLinearState, type LinearState, type LinearStateConfig } from './recurrent-state.js';
export { referenceLinearAttention } from './reference.js';
export { distanceFromSoftmax, distancesFromSoftmax, type SoftmaxDistance } from './softmax-distance.js';
