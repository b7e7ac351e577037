/** The causal package's options: the common AttentionOptions, the engine's (backend, threads), and the row block. */
import { type AttentionOptions, z } from '@attnkit/core';
import type { EngineOptions } from '@attnkit/kernels';
import { variantOptionsSchema } from '@attnkit/kernels/runtime';

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

/** Strict: an unknown key is refused with an error naming it (docs/design.md, Options). */
export const causalOptionsSchema = variantOptionsSchema({
  blockQ: z.number().int().positive().optional(),
});
