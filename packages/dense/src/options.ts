/** Dense's options: the common AttentionOptions, the engine's (backend, threads), and the score budget. */
import { type AttentionOptions, z } from '@attnkit/core';
import type { EngineOptions } from '@attnkit/kernels';
import { variantOptionsSchema } from '@attnkit/kernels/runtime';

/**
 * Default budget: 1 GiB of float32 scores materialised at once (one (b, h) for denseAttention), i.e.
 * Lq·Lk <= 2^28, a 16384 × 16384 score matrix. Beyond that the quadratic memory is the problem and
 * flash (O(N) memory) or sliding-window (O(N·w)) is the answer.
 */
export const DEFAULT_MAX_SCORES_BYTES = 2 ** 30;

export interface DenseOptions extends AttentionOptions, EngineOptions {
  /** Largest score matrix (bytes of float32) dense may materialise at once. Default 1 GiB; Infinity: no budget. */
  maxScoresBytes?: number;
}

/** Strict: an option dense does not know is refused (named in the error), never silently ignored. */
export const denseOptionsSchema = variantOptionsSchema({
  // Infinity lifts the budget (the engine's own 4 GiB limit still applies, as a notSupportedReason);
  // z.number() alone refuses it
  maxScoresBytes: z
    .custom<number>((x) => x === Number.POSITIVE_INFINITY || (Number.isInteger(x) && (x as number) > 0), {
      error: 'a positive integer number of bytes, or Infinity (no budget)',
    })
    .optional(),
});
