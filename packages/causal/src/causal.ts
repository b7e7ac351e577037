/**
 * Causal attention that skips the masked half (DESIGN §3 causal mask, bottom-right aligned).
 *
 * Algorithm: for each (batch, query head), query rows in blocks of blockQ; each block attends only
 * [firstVisibleKey(first row), visibleKeyEnd(last row)) through kernels' attendRows (causal-blocks.ts),
 * so the hidden upper triangle is never computed. A window's left reach and kvLengths shrink the
 * same ranges.
 * Time O(B · Hq · (½ · Lq · Lk + Lq · blockQ / 2) · (Dk + Dv)) for a full causal mask — about half
 * of dense — and O(B · Hq · Lq · (left + blockQ) · D) with a window of left reach.
 * Items — one per (batch, query head, query block), work.ts — run in a loop or on the kernels
 * worker pool (threads > 1), with the same bits either way.
 * Extra memory: the arena copies of q, k, v, out and lse (O(N · D)) plus, per running thread, one
 * scores buffer of blockQ · min(Lk, blockQ + left) floats — O(blockQ · Lk), never O(Lq · Lk).
 */
import {
  AttentionInputError,
  type AttentionVariant,
  assertSupported,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
} from '@attnkit/core';
import {
  callArenaFloats,
  finishAttention,
  getEngine,
  engineReasons as kernelEngineReasons,
  placeAttention,
  problemPayload,
  queryBlockItems,
  runWorkItems,
  type ShapeSummary,
  summariseShapes,
} from '@attnkit/kernels';
import { effectiveBlockQ } from './causal-blocks.js';
import { type CausalOptions, causalOptionsSchema, DEFAULT_BLOCK_Q } from './options.js';
import { type CausalPayload, itemScoreFloats, runItem } from './work.js';

/** The module each pool worker imports to run causal items (the built work.js next to this file). */
export const CAUSAL_WORK_MODULE_URL = new URL('./work.js', import.meta.url).href;

/**
 * This variant's work module, for a pool worker an app supplies itself (bundled browser apps; see
 * kernels' setWorkerFactory): `registerWorkModule(causalWorkModule.url, causalWorkModule)` inside that worker.
 */
export const causalWorkModule = { url: CAUSAL_WORK_MODULE_URL, runItem };

/** Left reach of the window in options (Infinity when absent or malformed: the widest buffer). */
function windowLeftOf(options: CausalOptions | undefined): number {
  const left = options?.window?.[0];
  return typeof left === 'number' && left >= 0 ? left : Number.POSITIVE_INFINITY;
}

/** Arena floats of a call: the shared copies plus one scores buffer per running thread. */
function arenaFloats(dims: ShapeSummary, options: CausalOptions): number {
  const blockQ = effectiveBlockQ(dims.qLength, options.blockQ ?? DEFAULT_BLOCK_Q);
  const scores = itemScoreFloats({ blockQ, kvLength: dims.kvLength, windowLeft: windowLeftOf(options) });
  return callArenaFloats(dims, scores, queryBlockItems(dims, blockQ), options.threads ?? 1);
}

/** What causalAttention itself cannot run (the variant adds "must be causal"). Never throws. */
function engineReasons(q: Tensor, k: Tensor, v: Tensor, options: CausalOptions | undefined): string[] {
  const parsed = causalOptionsSchema.safeParse(options ?? {});
  const dims = summariseShapes(q, k, v);
  // Malformed inputs are forward's to reject with a precise error, not a "not supported" reason.
  if (!parsed.success || !dims) return [];
  return kernelEngineReasons(
    parsed.data.backend,
    4 * arenaFloats(dims, { ...parsed.data, window: options?.window }),
  );
}

function variantReasons(q: Tensor, k: Tensor, v: Tensor, options: CausalOptions | undefined): string[] {
  const reasons = engineReasons(q, k, v, options);
  // The variant object follows the shared AttentionOptions meaning (causal defaults to false), so it
  // refuses a non-causal call instead of silently computing a different function.
  if (options?.causal !== true) {
    reasons.unshift(
      'causal: the causal variant computes causal attention only: pass causal: true (dense or flash handle non-causal calls)',
    );
  }
  return reasons;
}

export const causal: AttentionVariant<CausalOptions> = {
  name: 'causal',
  exact: true,
  notSupportedReasons(q, k, v, options) {
    return variantReasons(q, k, v, options);
  },
  forward(q, k, v, options) {
    return runCausal(q, k, v, options, true);
  },
  workspaceBytes(q, k, v, options) {
    const dims = summariseShapes(q, k, v);
    if (!dims) return 0;
    const parsed = causalOptionsSchema.safeParse(options ?? {});
    return 4 * arenaFloats(dims, { ...(parsed.success ? parsed.data : {}), window: options?.window });
  },
};

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
 * Exact causal softmax attention (causal implied; DESIGN §3 semantics for scale, window — a causal
 * window of left reach —, kvLengths, GQA/MQA, Lq ≠ Lk bottom-right aligned, out, lse), computing
 * only the visible lower triangle.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, options?: CausalOptions): Tensor {
  return runCausal(q, k, v, options, false);
}

/**
 * The one forward path. As a variant (`asVariant`), options keep the shared meaning — causal must be
 * given — and malformed arguments are named before "not supported" is considered; as
 * causalAttention, causal is implied and only causal: false is refused.
 */
function runCausal(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: CausalOptions | undefined,
  asVariant: boolean,
): Tensor {
  const causalOptions = asVariant ? options : withCausal(options);
  const problem = validateAttentionInputs(q, k, v, causalOptions);
  const own = parseOptions(causalOptionsSchema, causalOptions);
  assertSupported(
    'causal',
    asVariant ? variantReasons(q, k, v, options) : engineReasons(q, k, v, causalOptions),
  );
  const engine = getEngine(own.backend);
  const blockQ = effectiveBlockQ(problem.qLength, own.blockQ ?? DEFAULT_BLOCK_Q);
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const payload: CausalPayload = {
      ...problemPayload(problem, placed),
      blockQ,
      queryBlocks: Math.ceil(problem.qLength / blockQ),
    };
    runWorkItems(
      engine,
      CAUSAL_WORK_MODULE_URL,
      runItem,
      payload,
      queryBlockItems(problem, blockQ),
      own.threads ?? 1,
      itemScoreFloats(payload),
    );
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}
