export type { AttentionOptions, AttentionProblem, AttentionVariant, Tensor } from './types.js';
