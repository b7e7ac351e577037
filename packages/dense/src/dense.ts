/**
 * Dense (full quadratic) softmax attention: for each (b, h), materialise all Lq × Lk scaled scores
 * in the engine's arena, mask them, max-subtracted softmax, then P·V — the kernels' `attendRows`
 * over all rows and all keys. The reference variant: every option, GQA/MQA, and the baseline
 * every benchmark times.
 * Items — one per (batch, query head), kernels' banded work module (the window [∞, ∞], or the
 * call's mask) — run in a loop or on the kernels worker pool (threads > 1), with the same bits
 * either way. The rows of a head attend only their visible key union (kvLengths padding is never read).
 * Time O(B·Hq·Lq·Lk·(Dk + Dv)); extra memory: arena copies of q, k, v, out, lse plus one Lq·Lk
 * score buffer per running thread.
 */
import { AttentionInputError, type Tensor } from '@attnkit/core';
import {
  type BandParams,
  bandWorkModule,
  defineVariant,
  planBand,
  splitKvHooks,
} from '@attnkit/kernels/runtime';
import { DEFAULT_MAX_SCORES_BYTES, type DenseOptions, denseOptionsSchema } from './options.js';

/**
 * This variant's work module (the shared banded step: one item per (batch, query head)), for a pool
 * worker an app supplies itself (bundled browser apps; see kernels' setWorkerFactory):
 * `registerWorkModule(denseWorkModule.url, denseWorkModule)` inside that worker.
 */
export const denseWorkModule = bandWorkModule;

const FLOAT_BYTES = 4;

/** Bytes of the Lq × Lk float32 score matrix one (b, h) materialises. */
export function scoresBytes(qLength: number, kvLength: number): number {
  return qLength * kvLength * FLOAT_BYTES;
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB (${bytes} bytes)`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(2)} MiB (${bytes} bytes)`;
  return `${bytes} bytes`;
}

/** Throws the memory-budget error (docs/design.md, Errors) when `bytes` of scores exceed the budget. */
export function checkScoresBudget(bytes: number, budget: number, what: string): void {
  if (bytes <= budget) return;
  throw new AttentionInputError(
    'options.maxScoresBytes',
    `a score matrix of at most ${formatBytes(budget)}`,
    `${what} of ${formatBytes(bytes)}`,
    'Use flashAttention (@attnkit/flash, exact, O(N) memory) or slidingWindowAttention ' +
      '(@attnkit/sliding-window, O(N·w)) for sequences this long, or raise options.maxScoresBytes.',
  );
}

const defined = defineVariant<DenseOptions, BandParams>({
  name: 'dense',
  exact: true,
  options: denseOptionsSchema,
  check(problem, options) {
    checkScoresBudget(
      scoresBytes(problem.qLength, problem.kvLength),
      options.maxScoresBytes ?? DEFAULT_MAX_SCORES_BYTES,
      `the ${problem.qLength} × ${problem.kvLength} score matrix`,
    );
  },
  // One block of all Lq rows per (batch, query head): the whole score matrix of a head at once.
  plan: (problem) => planBand(problem, problem.qLength),
  // split-KV when the call has few items (decoding): partial results placed, then merged
  ...splitKvHooks,
  work: bandWorkModule,
});

/** The reference variant: every option, materialised scores (see the file header). */
export const dense = defined.variant;

/** Softmax attention with every score materialised (see the file header). */
export const denseAttention: (q: Tensor, k: Tensor, v: Tensor, options?: DenseOptions) => Tensor =
  defined.attention;
