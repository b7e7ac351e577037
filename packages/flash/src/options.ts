/** Flash's options: the common AttentionOptions, the engine's (backend, threads), and the tile sizes. */
import { type AttentionOptions, attentionOptionsSchema, z } from '@attnkit/core';
import { type EngineOptions, engineOptionsSchema } from '@attnkit/kernels';

/**
 * Default tile sizes, measured (README "Block sizes"): 64 query rows × 64 keys keeps a score tile at
 * 16 KiB, the rows of Q and the tile of K/V for d = 64 at 16 KiB each, all inside L1/L2, while each
 * gemm call is long enough to hide the per-call overhead.
 */
export const DEFAULT_BLOCK_Q = 64;
export const DEFAULT_BLOCK_K = 64;

export interface FlashOptions extends AttentionOptions, EngineOptions {
  /** Query rows per tile (and per parallel work item). Default DEFAULT_BLOCK_Q. */
  blockQ?: number;
  /** Keys per tile. Default DEFAULT_BLOCK_K. */
  blockK?: number;
}

/**
 * Strict: an unknown key (a typo such as `blockq`, or another variant's option) is refused with an
 * error naming it, never silently ignored (DESIGN §3).
 */
export const flashOptionsSchema = attentionOptionsSchema
  .extend({
    ...engineOptionsSchema.shape,
    blockQ: z.number().int().positive().optional(),
    blockK: z.number().int().positive().optional(),
  })
  .strict();
