/**
 * Flash attention: exact softmax attention computed tile by tile with an online softmax, never
 * materialising the Lq × Lk score matrix (Dao et al., FlashAttention-2 loop order: query blocks
 * outer — the parallel work items —, key blocks inner; work.ts has the per-item loop).
 * Key tiles the mask hides entirely are skipped, partly hidden ones are masked inside (plan.ts).
 *
 * Time O(B · Hq · Σ_rows visibleKeys · (Dk + Dv)): ≈ half of dense when causal, O(N · w) for a
 * window. Extra memory: the arena copies of q, k, v, out and lse (O(N · D)) plus, per thread, one
 * blockQ × blockK score tile and 2 · blockQ running statistics — independent of N.
 */
import {
  type AttentionProblem,
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
  MAX_ARENA_BYTES,
  placeAttention,
  registerWorkModule,
  runParallel,
  wasmUnavailableReason,
} from '@attnkit/kernels';
import { DEFAULT_BLOCK_K, DEFAULT_BLOCK_Q, type FlashOptions, flashOptionsSchema } from './options.js';
import { alignFloats, type FlashPayload, runItem, scratchFloats } from './work.js';

/** The module each pool worker imports to run flash items (the built work.js next to this file). */
export const FLASH_WORK_MODULE_URL = new URL('./work.js', import.meta.url).href;

/**
 * Bytes the pool reserves per worker for that worker's own kernel scratch (packed GEMM panels), on
 * top of the arena region we ask for: kernels' INSTANCE_SCRATCH_BYTES (engine.ts), not exported
 * yet, so mirrored here; the threads test compares workspaceBytes with the measured arena peak and
 * fails if the two drift apart.
 */
const WORKER_KERNEL_SCRATCH_BYTES = 131072;

/** Tile sizes actually used: the requested ones, clipped to the sequence lengths (a tile never exceeds them). */
export function effectiveBlocks(
  qLength: number,
  kvLength: number,
  blockQ = DEFAULT_BLOCK_Q,
  blockK = DEFAULT_BLOCK_K,
): { blockQ: number; blockK: number } {
  return { blockQ: Math.max(1, Math.min(blockQ, qLength)), blockK: Math.max(1, Math.min(blockK, kvLength)) };
}

/** Work items of a call: one per (batch, query head, query block). */
function itemCount(batch: number, qHeads: number, qLength: number, blockQ: number): number {
  return batch * qHeads * Math.ceil(qLength / blockQ);
}

interface ShapeSummary {
  batch: number;
  qHeads: number;
  qLength: number;
  kvLength: number;
  valueDim: number;
}

/** Reads the dimensions straight from the shapes, for the analytic paths that must not throw. */
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

/**
 * Floats the call places in the arena: the copies of q, k, v, the out and lse rows, one scratch per
 * running item (one per thread), and, per pool worker, the kernels' own scratch the pool reserves.
 */
function arenaFloats(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: ShapeSummary,
  blockQ: number,
  blockK: number,
  threads: number,
): number {
  const rows = dims.batch * dims.qHeads * dims.qLength;
  const running = Math.max(1, Math.min(threads, itemCount(dims.batch, dims.qHeads, dims.qLength, blockQ)));
  return (
    alignFloats(q.data.length) +
    alignFloats(k.data.length) +
    alignFloats(v.data.length) +
    alignFloats(rows * dims.valueDim) +
    alignFloats(rows) +
    running * scratchFloats(blockQ, blockK) +
    (running - 1) * (WORKER_KERNEL_SCRATCH_BYTES / 4)
  );
}

function notSupported(q: Tensor, k: Tensor, v: Tensor, options: FlashOptions | undefined): string[] {
  const parsed = flashOptionsSchema.safeParse(options ?? {});
  const dims = summariseShapes(q, k, v);
  // Malformed inputs are forward's to reject with a precise error, not a "not supported" reason.
  if (!parsed.success || !dims) return [];
  const reasons: string[] = [];
  const threads = parsed.data.threads ?? 1;
  if (parsed.data.backend === 'wasm') {
    const why = wasmUnavailableReason();
    if (why) reasons.push(`backend 'wasm' is unavailable here (${why}): pass backend 'js' or leave it unset`);
  }
  const blocks = effectiveBlocks(dims.qLength, dims.kvLength, parsed.data.blockQ, parsed.data.blockK);
  const bytes = 4 * arenaFloats(q, k, v, dims, blocks.blockQ, blocks.blockK, threads);
  if (bytes > MAX_ARENA_BYTES) {
    reasons.push(
      `the inputs, output and tiles need ${(bytes / 2 ** 30).toFixed(2)} GiB of engine memory, above the ` +
        `${(MAX_ARENA_BYTES / 2 ** 30).toFixed(2)} GiB WebAssembly limit: split the batch or the heads into several calls`,
    );
  }
  return reasons;
}

export const flash: AttentionVariant<FlashOptions> = {
  name: 'flash',
  exact: true,
  notSupportedReasons(q, k, v, options) {
    return notSupported(q, k, v, options);
  },
  forward(q, k, v, options) {
    return flashAttention(q, k, v, options);
  },
  workspaceBytes(q, k, v, options) {
    const dims = summariseShapes(q, k, v);
    if (!dims) return 0;
    const parsed = flashOptionsSchema.safeParse(options ?? {});
    const own = parsed.success ? parsed.data : {};
    const blocks = effectiveBlocks(dims.qLength, dims.kvLength, own.blockQ, own.blockK);
    return 4 * arenaFloats(q, k, v, dims, blocks.blockQ, blocks.blockK, own.threads ?? 1);
  },
};

/**
 * Exact softmax attention (DESIGN §3 semantics: scale, causal, window, kvLengths, GQA/MQA, Lq ≠ Lk
 * bottom-right aligned, out, lse) in O(N) memory, skipping the key tiles a mask hides.
 */
export function flashAttention(q: Tensor, k: Tensor, v: Tensor, options: FlashOptions = {}): Tensor {
  const problem = validateAttentionInputs(q, k, v, options);
  const own = parseOptions(flashOptionsSchema, options);
  assertSupported('flash', notSupported(q, k, v, options));
  const engine = getEngine(own.backend);
  const { blockQ, blockK } = effectiveBlocks(problem.qLength, problem.kvLength, own.blockQ, own.blockK);
  const threads = own.threads ?? 1;
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const items = itemCount(problem.batch, problem.qHeads, problem.qLength, blockQ);
    const payload: FlashPayload = {
      ...problemDimensions(problem),
      blockQ,
      blockK,
      queryBlocks: Math.ceil(problem.qLength / blockQ),
      q: placed.q,
      k: placed.k,
      v: placed.v,
      out: placed.out,
      lse: placed.lse,
    };
    runItems(engine, payload, items, threads);
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}

function problemDimensions(problem: AttentionProblem) {
  return {
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
    windowRight: problem.windowRight,
    validKeys: Array.from(problem.validKeys),
  };
}

let workModuleRegistered = false;

/**
 * One thread: the items in a plain loop on this engine. More: the kernels pool runs the same
 * runItem on the caller plus threads − 1 workers over the shared memory (it falls back to the
 * loop itself where workers or shared memory are unavailable — same result, one thread).
 */
function runItems(engine: Engine, payload: FlashPayload, items: number, threads: number): void {
  if (threads <= 1 || items <= 1) {
    for (let item = 0; item < items; item++) runItem(engine, payload, item);
    return;
  }
  // The caller thread runs items too: hand it the module already loaded here, so it needs no
  // synchronous import by URL (impossible in browsers).
  if (!workModuleRegistered) {
    registerWorkModule(FLASH_WORK_MODULE_URL, { runItem });
    workModuleRegistered = true;
  }
  runParallel(FLASH_WORK_MODULE_URL, payload, items, threads, {
    backend: engine.backend,
    workerArenaBytes: 4 * scratchFloats(payload.blockQ, payload.blockK),
  });
}
