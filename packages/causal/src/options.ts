/** The causal package's options: the common AttentionOptions, the engine's (backend, threads), and the row block. */
import { type AttentionOptions, attentionOptionsSchema, z } from '@attnkit/core';
import { type EngineOptions, engineOptionsSchema } from '@attnkit/kernels';

/**
 * Default query rows per block. Each block materialises blockQ × (visible prefix) scores, so the
 * wasted work on the diagonal is ≈ blockQ / 2 keys per row (3 % of the useful work at N = 2048),
 * while a block of 64 rows keeps each gemm call long enough to amortise its overhead (README
 * "Block size" has the measurements).
 */
export const DEFAULT_BLOCK_Q = 64;

export interface CausalOptions extends AttentionOptions, EngineOptions {
  /** Query rows per block (each block attends its visible key prefix). Default DEFAULT_BLOCK_Q. */
  blockQ?: number;
}

export const causalOptionsSchema = attentionOptionsSchema.extend({
  ...engineOptionsSchema.shape,
  blockQ: z.number().int().positive().optional(),
});
