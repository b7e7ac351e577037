/** The sliding-window package's options: AttentionOptions (window required), engine options, row block, global tokens. */
import { type AttentionOptions, z } from '@attnkit/core';
import type { EngineOptions } from '@attnkit/kernels';
import { variantOptionsSchema } from '@attnkit/kernels/runtime';

/**
 * Default query rows per block. A block of blockQ rows materialises blockQ × (blockQ + left + right)
 * scores for blockQ × (left + right + 1) useful ones, so smaller blocks waste less (12 % at 64 rows
 * and window [512, 0]) while larger ones keep each gemm call long enough to amortise its overhead
 * (README "Block size" has the measurements).
 */
export const DEFAULT_BLOCK_Q = 64;

export interface SlidingWindowOptions extends AttentionOptions, EngineOptions {
  /** Required: each query (at key position p) sees keys in [p − left, p + right]. */
  window?: readonly [left: number, right: number];
  /** Query rows per block (each block attends its band's key range). Default DEFAULT_BLOCK_Q. */
  blockQ?: number;
  /**
   * Longformer global tokens, as key positions in [0, Lk): the query at such a position attends every
   * key, and every query attends the keys at these positions (kvLengths still hides padding; with
   * causal: true, nobody sees a future key).
   */
  globalTokens?: readonly number[];
}

/** Strict: an unknown key is refused with an error naming it (docs/design.md, Options). */
export const slidingWindowOptionsSchema = variantOptionsSchema({
  blockQ: z.number().int().positive().optional(),
  globalTokens: z
    .array(z.number().int().nonnegative(), { error: 'an array of key positions (non-negative integers)' })
    .optional(),
});
