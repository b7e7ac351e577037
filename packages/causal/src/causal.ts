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
  type Engine,
  finishAttention,
  getEngine,
  INSTANCE_SCRATCH_BYTES,
  MAX_ARENA_BYTES,
  placeAttention,
  registerWorkModule,
  runParallel,
  wasmUnavailableReason,
} from '@attnkit/kernels';
import { effectiveBlockQ } from './causal-blocks.js';
import { alignFloats, type CausalOptions, causalOptionsSchema, DEFAULT_BLOCK_Q } from './options.js';
import { type CausalPayload, itemScoreFloats, runItem } from './work.js';

/** The module each pool worker imports to run causal items (the built work.js next to this file). */
export const CAUSAL_WORK_MODULE_URL = new URL('./work.js', import.meta.url).href;

interface ShapeSummary {
  batch: number;
  qHeads: number;
  qLength: number;
  kvLength: number;
  valueDim: number;
}

/** The dimensions read straight from the shapes, for the analytic paths that must not throw. */
function summariseShapes(q: Tensor, k: Tensor, v: Tensor): ShapeSummary | null {
  if (q?.shape?.length !== 4 || k?.shape?.length !== 4 || v?.shape?.length !== 4) return null;
  return {
    batch: q.shape[0]!,
    qHeads: q.shape[1]!,
    qLength: q.shape[2]!,
    kvLength: k.shape[2]!,
    valueDim: v.shape[3]!,
  };
}

/** Left reach of the window in options (Infinity when absent or malformed: the widest buffer). */
function windowLeftOf(options: CausalOptions | undefined): number {
  const left = options?.window?.[0];
  return typeof left === 'number' && left >= 0 ? left : Number.POSITIVE_INFINITY;
}

/** Work items of a call: one per (batch, query head, query block). */
function itemCount(dims: ShapeSummary, blockQ: number): number {
  return dims.batch * dims.qHeads * Math.ceil(dims.qLength / blockQ);
}

/**
 * Floats the call places in the arena: copies of q, k, v, the out and lse rows, a scores buffer per
 * running thread, and each pool worker's kernel scratch.
 */
function arenaFloats(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: ShapeSummary,
  blockQ: number,
  left: number,
  threads: number,
): number {
  const rows = dims.batch * dims.qHeads * dims.qLength;
  const running = Math.max(1, Math.min(threads, itemCount(dims, blockQ)));
  return (
    alignFloats(q.data.length) +
    alignFloats(k.data.length) +
    alignFloats(v.data.length) +
    alignFloats(rows * dims.valueDim) +
    alignFloats(rows) +
    running * alignFloats(itemScoreFloats({ blockQ, kvLength: dims.kvLength, windowLeft: left })) +
    (running - 1) * (INSTANCE_SCRATCH_BYTES / 4) // each pool worker's own kernel scratch
  );
}

/** What causalAttention itself cannot run (the variant adds "must be causal"). Never throws. */
function engineReasons(q: Tensor, k: Tensor, v: Tensor, options: CausalOptions | undefined): string[] {
  const parsed = causalOptionsSchema.safeParse(options ?? {});
  const dims = summariseShapes(q, k, v);
  // Malformed inputs are forward's to reject with a precise error, not a "not supported" reason.
  if (!parsed.success || !dims) return [];
  const reasons: string[] = [];
  const threads = parsed.data.threads ?? 1;
  if (parsed.data.backend === 'wasm') {
    const why = wasmUnavailableReason();
    if (why) reasons.push(`backend 'wasm' is unavailable here (${why}): pass backend 'js' or leave it unset`);
  }
  const blockQ = effectiveBlockQ(dims.qLength, parsed.data.blockQ ?? DEFAULT_BLOCK_Q);
  const bytes = 4 * arenaFloats(q, k, v, dims, blockQ, windowLeftOf(options), threads);
  if (bytes > MAX_ARENA_BYTES) {
    reasons.push(
      `the inputs, output and scores need ${(bytes / 2 ** 30).toFixed(2)} GiB of engine memory, above the ` +
        `${(MAX_ARENA_BYTES / 2 ** 30).toFixed(2)} GiB WebAssembly limit: split the batch or the heads into several calls`,
    );
  }
  return reasons;
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
    const own = parsed.success ? parsed.data : {};
    const blockQ = effectiveBlockQ(dims.qLength, own.blockQ ?? DEFAULT_BLOCK_Q);
    return 4 * arenaFloats(q, k, v, dims, blockQ, windowLeftOf(options), own.threads ?? 1);
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
      batch: problem.batch,
      qHeads: problem.qHeads,
      kvHeads: problem.kvHeads,
      groupSize: problem.groupSize,
      qLength: problem.qLength,
      kvLength: problem.kvLength,
      headDim: problem.headDim,
      valueDim: problem.valueDim,
      scale: problem.scale,
      windowLeft: problem.windowLeft,
      validKeys: Array.from(problem.validKeys),
      blockQ,
      queryBlocks: Math.ceil(problem.qLength / blockQ),
      q: placed.q,
      k: placed.k,
      v: placed.v,
      out: placed.out,
      lse: placed.lse,
    };
    runItems(engine, payload, problem.batch * problem.qHeads * payload.queryBlocks, own.threads ?? 1);
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}

let workModuleRegistered = false;

/**
 * One thread: the items in a plain loop on this engine. More: the kernels pool runs the same
 * runItem on the caller plus threads − 1 workers over the shared memory (it falls back to the loop
 * itself where workers or shared memory are unavailable — same result, one thread).
 */
function runItems(engine: Engine, payload: CausalPayload, items: number, threads: number): void {
  if (threads <= 1 || items <= 1) {
    for (let item = 0; item < items; item++) runItem(engine, payload, item);
    return;
  }
  // The caller thread runs items too: hand it the module already loaded here, so it needs no
  // synchronous import by URL (impossible in browsers).
  if (!workModuleRegistered) {
    registerWorkModule(CAUSAL_WORK_MODULE_URL, { runItem });
    workModuleRegistered = true;
  }
  runParallel(CAUSAL_WORK_MODULE_URL, payload, items, threads, {
    backend: engine.backend,
    workerArenaBytes: 4 * alignFloats(itemScoreFloats(payload)),
  });
}
