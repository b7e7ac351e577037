/** Flash's options: the common AttentionOptions, the engine's (backend, threads), and the tile sizes. */
import { type AttentionOptions, z } from '@attnkit/core';
import type { EngineOptions } from '@attnkit/kernels';
import { variantOptionsSchema } from '@attnkit/kernels/runtime';

/**
 * Default tile sizes, measured (README "Block sizes"; `node dist/bench/flash.bench.js blocks`): at
 * N = 2048, d = 64 the speed plateaus once blockK >= 256 and blockQ >= 64 (+9% over 64 × 64: fewer
 * rescales of the accumulator and fewer, longer GEMM calls; 256 keys is also the kernels' KC, so
 * P·V stays one k-block). Of the plateau, blockQ 64 is the smallest query block: it keeps causal
 * skipping fine (the wasted half of the diagonal tiles grows with blockQ, not blockK, since tiles
 * are clipped to the visible keys) and gives the most parallel items. Scratch: 66 KiB per thread.
 */
export const DEFAULT_BLOCK_Q = 64;
export const DEFAULT_BLOCK_K = 256;

export interface FlashOptions extends AttentionOptions, EngineOptions {
  /** Query rows per tile (and per parallel work item). Default DEFAULT_BLOCK_Q. */
  blockQ?: number;
  /** Keys per tile. Default DEFAULT_BLOCK_K. */
  blockK?: number;
}

/**
 * Strict: an unknown key (a typo such as `blockq`, or another variant's option) is refused with an
 * error naming it, never silently ignored (docs/design.md, Options).
 */
export const flashOptionsSchema = variantOptionsSchema({
  blockQ: z.number().int().positive().optional(),
  blockK: z.number().int().positive().optional(),
});
