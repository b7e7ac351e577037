/**
 * Causal attention that skips the masked half (docs/design.md, Masks: causal is the window [∞, 0],
 * bottom-right aligned).
 *
 * Algorithm: for each (batch, query head), query rows in blocks of blockQ; each block attends only
 * [firstVisibleKey(first row), visibleKeyEnd(last row)) through kernels' banded step (attendBand),
 * so the hidden upper triangle is never computed. A window's left reach and kvLengths shrink the
 * same ranges.
 * Time O(B · Hq · (½ · Lq · Lk + Lq · blockQ / 2) · (Dk + Dv)) for a full causal mask — about half
 * of dense — and O(B · Hq · Lq · (left + blockQ) · D) with a window of left reach.
 * Items — one per (batch, query head, query block), kernels' banded work module — run in a loop or
 * on the kernels worker pool (threads > 1), with the same bits either way.
 * Extra memory: the arena copies of q, k, v, out and lse (O(N · D)) plus, per running thread, one
 * scores buffer of blockQ · min(Lk, blockQ + left) floats — O(blockQ · Lk), never O(Lq · Lk).
 */
import { AttentionInputError, type Tensor } from '@attnkit/core';
import {
  type BandParams,
  bandWorkModule,
  defineVariant,
  planBand,
  splitKvHooks,
} from '@attnkit/kernels/runtime';
import { type CausalOptions, causalOptionsSchema, DEFAULT_BLOCK_Q } from './options.js';

/**
 * This variant's work module (kernels' banded step), for a pool worker an app supplies itself
 * (bundled browser apps; see kernels' setWorkerFactory):
 * `registerWorkModule(causalWorkModule.url, causalWorkModule)` inside that worker.
 */
export const causalWorkModule = bandWorkModule;

const defined = defineVariant<CausalOptions, BandParams>({
  name: 'causal',
  exact: true,
  options: causalOptionsSchema,
  // The variant object keeps the shared meaning of options (causal defaults to false), so it refuses
  // a non-causal call instead of silently computing a different function; causalAttention implies it.
  reasons: (problem) =>
    problem.causal
      ? []
      : [
          'causal: the causal variant computes causal attention only: pass causal: true (dense or flash handle non-causal calls)',
        ],
  plan: (problem, options) => planBand(problem, options.blockQ ?? DEFAULT_BLOCK_Q),
  // split-KV when the call has few items (decoding): partial results placed, then merged
  ...splitKvHooks,
  work: bandWorkModule,
});

export const causal = defined.variant;

/** Refuses causal: false (this function is causal by definition); returns the options with causal set. */
export function withCausal<T extends CausalOptions>(options: T | undefined, argument = 'options'): T {
  if (options === undefined) return { causal: true } as T;
  if (typeof options !== 'object' || options === null) return options; // validation names the problem
  if (options.causal === false) {
    throw new AttentionInputError(
      `${argument}.causal`,
      'true or undefined (this attention is always causal)',
      'false',
      'Use denseAttention or flashAttention for non-causal attention.',
    );
  }
  return { ...options, causal: true };
}

/**
 * Exact causal softmax attention (causal implied; docs/design.md semantics for scale, window — a
 * causal window of left reach —, kvLengths, GQA/MQA, Lq ≠ Lk bottom-right aligned, out, lse),
 * computing only the visible lower triangle.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, options?: CausalOptions): Tensor {
  return defined.attention(q, k, v, withCausal(options));
}
