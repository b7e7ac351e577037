/**
 * What every variant's forward shares around its per-item kernel loop (DESIGN §4): reading the
 * dimensions for the analytic paths (which must not throw), counting (batch, head, query-block)
 * items, the arena budget of a call, the reasons an engine cannot run it, the payload fields every
 * work module reads, and running the items on one thread or on the pool. One place, so flash,
 * causal, sliding-window and linear stay alike and their workspaceBytes match what the pool reserves.
 */
import type { AttentionProblem, Tensor } from '@attnkit/core';
import { alignFloats } from './arena.js';
import type { PlacedAttention } from './attention-io.js';
import {
  type Backend,
  type Engine,
  INSTANCE_SCRATCH_BYTES,
  MAX_ARENA_BYTES,
  wasmUnavailableReason,
} from './engine.js';
import { maxThreads, registerWorkModule, runParallel } from './thread-pool.js';

export interface ShapeSummary {
  readonly batch: number;
  readonly qHeads: number;
  readonly kvHeads: number;
  readonly qLength: number;
  readonly kvLength: number;
  readonly headDim: number;
  readonly valueDim: number;
}

/** The dimensions straight from the shapes, or null when they are not rank 4 (forward reports that). */
export function summariseShapes(q: Tensor, k: Tensor, v: Tensor): ShapeSummary | null {
  if (q?.shape?.length !== 4 || k?.shape?.length !== 4 || v?.shape?.length !== 4) return null;
  return {
    batch: q.shape[0]!,
    qHeads: q.shape[1]!,
    kvHeads: k.shape[1]!,
    qLength: q.shape[2]!,
    kvLength: k.shape[2]!,
    headDim: q.shape[3]!,
    valueDim: v.shape[3]!,
  };
}

/** Work items of a query-blocked call: one per (batch, query head, query block). */
export function queryBlockItems(
  dims: Pick<ShapeSummary, 'batch' | 'qHeads' | 'qLength'>,
  blockQ: number,
): number {
  return dims.batch * dims.qHeads * Math.ceil(dims.qLength / blockQ);
}

/**
 * Floats a call places in the arena: the copies of q, k, v (placeAttention), the out and lse rows,
 * one item scratch per running thread, and, per pool worker, the kernels' own scratch that the pool
 * reserves next to the region it hands the worker.
 */
export function callArenaFloats(
  dims: ShapeSummary,
  itemScratchFloats: number,
  items: number,
  threads: number,
): number {
  const rows = dims.batch * dims.qHeads * dims.qLength;
  const keys = dims.batch * dims.kvHeads * dims.kvLength;
  const running = Math.max(1, Math.min(threads, items));
  return (
    alignFloats(rows * dims.headDim) +
    alignFloats(keys * dims.headDim) +
    alignFloats(keys * dims.valueDim) +
    alignFloats(rows * dims.valueDim) +
    alignFloats(rows) +
    running * alignFloats(itemScratchFloats) +
    (running - 1) * (INSTANCE_SCRATCH_BYTES / 4)
  );
}

/** Why the engine cannot run a call needing `arenaBytes` on `backend` ([] when it can). Never throws. */
export function engineReasons(backend: Backend | undefined, arenaBytes: number): string[] {
  const reasons: string[] = [];
  if (backend === 'wasm') {
    const why = wasmUnavailableReason();
    if (why) reasons.push(`backend 'wasm' is unavailable here (${why}): pass backend 'js' or leave it unset`);
  }
  if (arenaBytes > MAX_ARENA_BYTES) {
    reasons.push(
      `the inputs, output and scratch need ${(arenaBytes / 2 ** 30).toFixed(2)} GiB of engine memory, above the ` +
        `${(MAX_ARENA_BYTES / 2 ** 30).toFixed(2)} GiB WebAssembly limit: split the batch or the heads into several calls`,
    );
  }
  return reasons;
}

/**
 * engineReasons for a call of `items` items on `threads` threads, each running thread holding
 * `itemScratchFloats` of scratch (callArenaFloats counts the arena need). Threads are counted as the
 * pool runs them: at most maxThreads() (surplus requests are clamped) and `items`. When only the
 * per-thread scratch pushes the call over the limit, the reason says so and names the most threads
 * that fit, instead of asking to split the batch. Never throws.
 */
export function threadedEngineReasons(
  backend: Backend | undefined,
  dims: ShapeSummary,
  itemScratchFloats: number,
  items: number,
  threads: number,
): string[] {
  const running = Math.max(1, Math.min(threads, maxThreads(), items));
  const need = (count: number) => 4 * callArenaFloats(dims, itemScratchFloats, items, count);
  const bytes = need(running);
  if (running === 1 || bytes <= MAX_ARENA_BYTES || need(1) > MAX_ARENA_BYTES) {
    return engineReasons(backend, bytes);
  }
  let fits = running - 1;
  while (fits > 1 && need(fits) > MAX_ARENA_BYTES) fits--;
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
  return [
    ...engineReasons(backend, 0),
    `with threads: ${threads}, each of the ${running} running threads holds its own ` +
      `${((4 * alignFloats(itemScratchFloats)) / 2 ** 20).toFixed(2)} MiB of item scratch: the call needs ` +
      `${gib(bytes)} of engine memory, above the ${gib(MAX_ARENA_BYTES)} WebAssembly limit; ` +
      `pass threads: ${fits} or fewer (one thread needs ${gib(need(1))})`,
  ];
}

/** The problem and the arena offsets of a placed call as plain numbers: what crosses to a worker. */
export interface ProblemPayload {
  readonly batch: number;
  readonly qHeads: number;
  readonly kvHeads: number;
  readonly groupSize: number;
  readonly qLength: number;
  readonly kvLength: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly scale: number;
  readonly causal: boolean;
  readonly masked: boolean;
  readonly windowLeft: number;
  readonly windowRight: number;
  readonly validKeys: readonly number[];
  readonly q: number;
  readonly k: number;
  readonly v: number;
  readonly out: number;
  readonly lse: number;
}

export function problemPayload(problem: AttentionProblem, placed: PlacedAttention): ProblemPayload {
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
    causal: problem.causal,
    masked: problem.masked,
    windowLeft: problem.windowLeft,
    windowRight: problem.windowRight,
    validKeys: Array.from(problem.validKeys),
    q: placed.q,
    k: placed.k,
    v: placed.v,
    out: placed.out,
    lse: placed.lse,
  };
}

/**
 * Runs `items` work items. One thread: `runItem` in a plain loop on this engine. More: the kernels
 * pool runs the same runItem on the caller plus threads − 1 workers over the shared memory (and
 * falls back to the loop where workers or shared memory are unavailable: same result, one thread).
 * The module is registered for the caller thread, which then needs no synchronous import by URL
 * (impossible in browsers); workers import `workModuleUrl` themselves.
 */
export function runWorkItems<P>(
  engine: Engine,
  workModuleUrl: string,
  runItem: (engine: Engine, payload: P, item: number) => void,
  payload: P,
  items: number,
  threads: number,
  workerArenaFloats: number,
): void {
  if (threads <= 1 || items <= 1) {
    for (let item = 0; item < items; item++) runItem(engine, payload, item);
    return;
  }
  registerWorkModule(workModuleUrl, {
    runItem: runItem as (engine: Engine, payload: unknown, item: number) => void,
  });
  runParallel(workModuleUrl, payload, items, threads, {
    backend: engine.backend,
    workerArenaBytes: 4 * alignFloats(workerArenaFloats),
  });
}

const problems = new WeakMap<ProblemPayload, AttentionProblem>();

/**
 * The AttentionProblem a work module computes with, rebuilt from its payload once per payload (once
 * per call, or per job in a worker) and cached, so nothing is allocated per item. out/lse are null:
 * items write into the arena rows the payload names.
 */
export function problemOf(payload: ProblemPayload): AttentionProblem {
  let problem = problems.get(payload);
  if (!problem) {
    problem = {
      batch: payload.batch,
      qHeads: payload.qHeads,
      kvHeads: payload.kvHeads,
      groupSize: payload.groupSize,
      qLength: payload.qLength,
      kvLength: payload.kvLength,
      headDim: payload.headDim,
      valueDim: payload.valueDim,
      scale: payload.scale,
      causal: payload.causal,
      windowLeft: payload.windowLeft,
      windowRight: payload.windowRight,
      validKeys: Int32Array.from(payload.validKeys),
      hasKvLengths: true,
      masked: payload.masked,
      out: null,
      lse: null,
    };
    problems.set(payload, problem);
  }
  return problem;
}

/** Where a query-block item sits: its batch entry, query head, rows, and its head's arena offsets. */
export interface QueryBlockItem {
  b: number;
  h: number;
  rowStart: number;
  rowEnd: number;
  /** Offsets of the head (row 0), as headOffsets gives them: q, out, lse of head h; k, v of its kv head. */
  q: number;
  out: number;
  lse: number;
  k: number;
  v: number;
}

export function createQueryBlockItem(): QueryBlockItem {
  return { b: 0, h: 0, rowStart: 0, rowEnd: 0, q: 0, out: 0, lse: 0, k: 0, v: 0 };
}

/**
 * Fills `into` for item `item` of a call with `queryBlocks` blocks of `blockQ` rows per head. Items are
 * numbered head by head with query blocks in DESCENDING order: the pool hands items out in order and
 * under a causal mask the last blocks are the longest, so the longest run first and a job's tail is
 * made of short items (longest-processing-time-first). The numbering changes no result.
 */
export function locateQueryBlockItem(
  payload: ProblemPayload,
  blockQ: number,
  queryBlocks: number,
  item: number,
  into: QueryBlockItem,
): QueryBlockItem {
  const headIndex = Math.floor(item / queryBlocks); // b · Hq + h
  const block = queryBlocks - 1 - (item - headIndex * queryBlocks);
  const b = Math.floor(headIndex / payload.qHeads);
  const h = headIndex - b * payload.qHeads;
  const kvHeadIndex = b * payload.kvHeads + Math.floor(h / payload.groupSize);
  into.b = b;
  into.h = h;
  into.rowStart = block * blockQ;
  into.rowEnd = Math.min(payload.qLength, into.rowStart + blockQ);
  into.q = payload.q + headIndex * payload.qLength * payload.headDim;
  into.out = payload.out + headIndex * payload.qLength * payload.valueDim;
  into.lse = payload.lse + headIndex * payload.qLength;
  into.k = payload.k + kvHeadIndex * payload.kvLength * payload.headDim;
  into.v = payload.v + kvHeadIndex * payload.kvLength * payload.valueDim;
  return into;
}
