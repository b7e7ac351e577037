/**
 * Sliding-window (banded, local) attention: query i at key position p = i + Lk − Lq sees keys in
 * [p − left, p + right] (DESIGN §3; causal: true sets right = 0 — Mistral-style; symmetric windows
 * are Longformer's local attention), optionally with Longformer global tokens (global-tokens.ts).
 *
 * Algorithm: for each (batch, query head), query rows in blocks of blockQ; each block attends only
 * its band's key range through kernels' attendRows (band-blocks.ts) — keys outside the band are
 * never touched.
 * Time O(B · Hq · Lq · (blockQ + left + right) · (Dk + Dv)): linear in N for a fixed window, never
 * N² (plus O(G · Lk) per head for G global tokens).
 * Items — one per (batch, query head, query block), work.ts — run in a loop or on the kernels
 * worker pool (threads > 1), with the same bits either way.
 * Extra memory: the arena copies of q, k, v, out and lse (O(N · D)) plus, per running thread, one
 * scores buffer of blockQ · (blockQ + left + right) floats (and, with global tokens, G · (Dk + Dv)
 * gathered floats and G more score columns per row, at least one full key row).
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
  engineReasons,
  finishAttention,
  getEngine,
  placeAttention,
  problemPayload,
  queryBlockItems,
  runWorkItems,
  type ShapeSummary,
  summariseShapes,
} from '@attnkit/kernels';
import { effectiveBlockQ } from './band-blocks.js';
import { globalPositions } from './global-tokens.js';
import { DEFAULT_BLOCK_Q, type SlidingWindowOptions, slidingWindowOptionsSchema } from './options.js';
import { itemScratchFloats, runItem, type SlidingWindowPayload } from './work.js';

/** The module each pool worker imports to run sliding-window items (the built work.js next to this file). */
export const SLIDING_WINDOW_WORK_MODULE_URL = new URL('./work.js', import.meta.url).href;

/**
 * This variant's work module, for a pool worker an app supplies itself (bundled browser apps; see
 * kernels' setWorkerFactory): `registerWorkModule(slidingWindowWorkModule.url, slidingWindowWorkModule)` inside that worker.
 */
export const slidingWindowWorkModule = { url: SLIDING_WINDOW_WORK_MODULE_URL, runItem };

interface Band {
  left: number;
  right: number;
  globals: number;
}

/** Window (causal folded in) and global count from raw options, for the analytic paths. */
function bandOf(options: SlidingWindowOptions | undefined): Band | null {
  const window = options?.window;
  if (!Array.isArray(window) || window.length !== 2) return null;
  const [left, right] = window as [number, number];
  if (!(left >= 0) || !(right >= 0)) return null;
  const globals = Array.isArray(options?.globalTokens) ? new Set(options.globalTokens).size : 0;
  return { left, right: options?.causal === true ? 0 : right, globals };
}

/**
 * Arena floats of a call: the shared copies plus, per running thread, one item scratch (scores, and
 * with global tokens the gathered keys/values).
 */
function arenaFloats(dims: ShapeSummary, blockQ: number, band: Band, threads: number): number {
  const scratch = itemScratchFloats({
    blockQ,
    kvLength: dims.kvLength,
    windowLeft: band.left,
    windowRight: band.right,
    headDim: dims.headDim,
    valueDim: dims.valueDim,
    globalCount: band.globals,
  });
  return callArenaFloats(dims, scratch, queryBlockItems(dims, blockQ), threads);
}

function missingWindowReason(options: SlidingWindowOptions | undefined): string | null {
  return options?.window === undefined
    ? 'window: sliding-window attention needs options.window = [left, right] (dense, causal or flash handle unbounded attention)'
    : null;
}

/** Why this call cannot run (never throws; malformed inputs are forward's to reject precisely). */
function notSupported(q: Tensor, k: Tensor, v: Tensor, options: SlidingWindowOptions | undefined): string[] {
  const missing = missingWindowReason(options);
  const parsed = slidingWindowOptionsSchema.safeParse(options ?? {});
  const dims = summariseShapes(q, k, v);
  const band = bandOf(options);
  const reasons: string[] = missing ? [missing] : [];
  if (!parsed.success || !dims || !band) return reasons;
  const blockQ = effectiveBlockQ(dims.qLength, parsed.data.blockQ ?? DEFAULT_BLOCK_Q);
  reasons.push(
    ...engineReasons(parsed.data.backend, 4 * arenaFloats(dims, blockQ, band, parsed.data.threads ?? 1)),
  );
  return reasons;
}

export const slidingWindow: AttentionVariant<SlidingWindowOptions> = {
  name: 'sliding-window',
  exact: true,
  notSupportedReasons(q, k, v, options) {
    return notSupported(q, k, v, options);
  },
  forward(q, k, v, options) {
    return slidingWindowAttention(q, k, v, options);
  },
  workspaceBytes(q, k, v, options) {
    const dims = summariseShapes(q, k, v);
    const band = bandOf(options);
    if (!dims || !band) return 0;
    const parsed = slidingWindowOptionsSchema.safeParse(options ?? {});
    const own = parsed.success ? parsed.data : {};
    const blockQ = effectiveBlockQ(dims.qLength, own.blockQ ?? DEFAULT_BLOCK_Q);
    return 4 * arenaFloats(dims, blockQ, band, own.threads ?? 1);
  },
};

/**
 * Exact banded softmax attention (DESIGN §3 semantics; window required; scale, causal, kvLengths,
 * GQA/MQA, Lq ≠ Lk bottom-right aligned, out, lse), plus optional Longformer global tokens.
 */
export function slidingWindowAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: SlidingWindowOptions = {},
): Tensor {
  const problem = validateAttentionInputs(q, k, v, options);
  const own = parseOptions(slidingWindowOptionsSchema, options);
  // After the shared validation, so a malformed argument is named before the missing window.
  if (own.window === undefined) {
    throw new AttentionInputError(
      'options.window',
      'a [left, right] window (sliding-window attention is banded by definition)',
      'undefined',
      'Pass e.g. window: [512, 0] for Mistral-style causal local attention or [256, 256] for Longformer-style; use dense, causal or flash for unbounded attention.',
    );
  }
  const globals = globalPositions(own.globalTokens, problem.kvLength);
  assertSupported('sliding-window', notSupported(q, k, v, options));
  const engine = getEngine(own.backend);
  const blockQ = effectiveBlockQ(problem.qLength, own.blockQ ?? DEFAULT_BLOCK_Q);
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const payload: SlidingWindowPayload = {
      ...problemPayload(problem, placed),
      globals: Array.from(globals),
      blockQ,
      queryBlocks: Math.ceil(problem.qLength / blockQ),
    };
    runWorkItems(
      engine,
      SLIDING_WINDOW_WORK_MODULE_URL,
      runItem,
      payload,
      queryBlockItems(problem, blockQ),
      own.threads ?? 1,
      itemScratchFloats({ ...payload, globalCount: globals.length }),
    );
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}
