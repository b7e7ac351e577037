/**
 * What every variant's forward shares around its per-item kernel loop (docs/design.md, The variant
 * interface): counting (batch, head, query-block) items, the arena budget of a call, the reasons an
 * engine cannot run it, the payload every work module reads (the problem itself plus arena offsets),
 * and running the items on one thread or on the pool. One place, so the variants stay alike and their
 * workspaceBytes match what the pool reserves.
 */
import {
  AttentionInputError,
  type AttentionProblem,
  describeValue,
  kvHeadRow,
  queryHeadRow,
} from '@attnkit/core';
import { alignFloats } from '../engine/arena.js';
import {
  type BackendChoice,
  backendUnavailableReason,
  type Engine,
  getEngine,
  INSTANCE_SCRATCH_BYTES,
  MAX_ARENA_BYTES,
} from '../engine/engine.js';
import { maxThreads, registerWorkModule, runParallelWith } from '../pool/thread-pool.js';
import { type ArenaOffsets, biasFloats } from './attention-io.js';

/** The dimensions the arena budget reads (an AttentionProblem has them). */
export type ShapeSummary = Pick<
  AttentionProblem,
  'batch' | 'qHeads' | 'kvHeads' | 'qLength' | 'kvLength' | 'headDim' | 'valueDim'
> &
  Partial<Pick<AttentionProblem, 'bias'>>;

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
    alignFloats(biasFloats({ bias: dims.bias ?? null, ...dims })) +
    running * alignFloats(itemScratchFloats) +
    (running - 1) * (INSTANCE_SCRATCH_BYTES / 4)
  );
}

/** Why the engine cannot run a call needing `arenaBytes` on `backend` ([] when it can). Never throws. */
export function engineReasons(backend: BackendChoice | undefined, arenaBytes: number): string[] {
  const reasons: string[] = [];
  if (backend === 'wasm' || backend === 'native') {
    const why = backendUnavailableReason(backend);
    if (why) {
      const others = backend === 'wasm' ? "'js'" : "'wasm' or 'js'";
      reasons.push(
        `backend '${backend}' is unavailable here (${why}): pass backend ${others} or leave it unset`,
      );
    }
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
  backend: BackendChoice | undefined,
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

/**
 * What crosses to a worker: the call's problem as validated (plain numbers), where its tensors sit in
 * the arena, and the variant's own parameters. Nothing is rebuilt on the other side.
 */
export interface VariantPayload<P = unknown> {
  readonly problem: AttentionProblem;
  readonly at: ArenaOffsets;
  readonly params: P;
}

/** The engine for `backend`, or an AttentionInputError naming options.backend when it cannot start. */
export function engineFor(backend: BackendChoice | undefined): Engine {
  try {
    return getEngine(backend);
  } catch (error) {
    throw new AttentionInputError(
      'options.backend',
      'a backend that is available here',
      `${describeValue(backend ?? 'default')} (${error instanceof Error ? error.message : String(error)})`,
      "Pass backend: 'js' (the plain-TS kernels run everywhere).",
    );
  }
}

/**
 * A variant's work module: `runItem` computes one item, and `url` is the module that exports it, which
 * pool workers import (or find registered inside them: kernels' registerWorkModule).
 */
export interface VariantWorkModule<P> {
  readonly url: string;
  runItem(engine: Engine, payload: VariantPayload<P>, item: number): void;
}

/**
 * Runs `items` work items. One thread: `runItem` in a plain loop on this engine. More: the kernels
 * pool runs the same runItem on the caller plus threads − 1 workers over the shared memory (and
 * falls back to the loop where workers or shared memory are unavailable: same result, one thread).
 * The module is registered for the caller thread, which then needs no synchronous import by URL
 * (impossible in browsers); workers import `workModuleUrl` themselves. `callerFirst` runs once on
 * the caller before it takes items (the workers start on them meanwhile): see runParallelWith.
 */
export function runWorkItems<P>(
  engine: Engine,
  workModule: VariantWorkModule<P>,
  payload: VariantPayload<P>,
  items: number,
  threads: number,
  workerArenaFloats: number,
  callerFirst?: () => void,
): void {
  if (threads <= 1 || items <= 1) {
    callerFirst?.();
    for (let item = 0; item < items; item++) workModule.runItem(engine, payload, item);
    return;
  }
  registerWorkModule(workModule.url, {
    runItem: workModule.runItem as (engine: Engine, payload: unknown, item: number) => void,
  });
  runParallelWith(
    workModule.url,
    payload,
    items,
    threads,
    { backend: engine.backend, workerArenaBytes: 4 * alignFloats(workerArenaFloats) },
    callerFirst,
  );
}

/** Where a query-block item sits: its batch entry, query head, rows, and its head's arena offsets. */
export interface QueryBlockItem extends HeadOffsets {
  b: number;
  h: number;
  rowStart: number;
  rowEnd: number;
}

export function createQueryBlockItem(): QueryBlockItem {
  return { b: 0, h: 0, rowStart: 0, rowEnd: 0, q: 0, out: 0, lse: 0, k: 0, v: 0, head: 0, bias: -1 };
}

/**
 * Fills `into` for item `item` of a call with `queryBlocks` blocks of `blockQ` rows per head. Items are
 * numbered head by head with query blocks in DESCENDING order: the pool hands items out in order and
 * under a causal mask the last blocks are the longest, so the longest run first and a job's tail is
 * made of short items (longest-processing-time-first). The numbering changes no result.
 */
export function locateQueryBlockItem(
  payload: VariantPayload,
  blockQ: number,
  queryBlocks: number,
  item: number,
  into: QueryBlockItem,
): QueryBlockItem {
  const { problem, at } = payload;
  const headIndex = Math.floor(item / queryBlocks); // b · Hq + h
  const block = queryBlocks - 1 - (item - headIndex * queryBlocks);
  const b = Math.floor(headIndex / problem.qHeads);
  const h = headIndex - b * problem.qHeads;
  into.b = b;
  into.h = h;
  into.rowStart = block * blockQ;
  into.rowEnd = Math.min(problem.qLength, into.rowStart + blockQ);
  return headOffsetsInto(problem, at, b, h, into);
}

/** Fills the arena offsets of head (b, h): q, out, lse of query head h; k, v of its kv head (GQA). */
export function headOffsetsInto<T extends HeadOffsets>(
  problem: AttentionProblem,
  at: ArenaOffsets,
  b: number,
  h: number,
  into: T,
): T {
  const qRow = queryHeadRow(problem, b, h);
  const kvRow = kvHeadRow(problem, b, h);
  into.q = at.q + qRow * problem.headDim;
  into.out = at.out + qRow * problem.valueDim;
  into.lse = at.lse + qRow;
  into.k = at.k + kvRow * problem.headDim;
  into.v = at.v + kvRow * problem.valueDim;
  into.head = h;
  const bias = problem.bias;
  into.bias = bias && at.bias >= 0 ? at.bias + b * bias.batchStride + h * bias.headStride : -1;
  return into;
}

/** Arena offsets of one head's rows, and the query head they belong to. */
export interface HeadOffsets {
  q: number;
  out: number;
  lse: number;
  k: number;
  v: number;
  /** Query head index h (ALiBi's slope, a per-head mask). */
  head: number;
  /** This (b, h)'s bias rows [Lq, Lk], −1 without a bias. */
  bias: number;
}

/**
 * Peak bytes `call` takes from the shared arena of `backend`'s engine above its current mark (the
 * conformance kit's workspace check: workspaceBytes must bound it). One thread's view: run the call
 * with threads = 1, or read the figure as the caller thread's share.
 */
export function measureArenaBytes(call: () => unknown, backend?: string): number {
  const { arena } = getEngine(backend as BackendChoice | undefined);
  const start = arena.mark();
  let peak = start;
  const alloc = arena.alloc;
  arena.alloc = (floats: number): number => {
    const offset = alloc.call(arena, floats);
    peak = Math.max(peak, arena.mark());
    return offset;
  };
  try {
    call();
  } finally {
    delete (arena as { alloc?: unknown }).alloc; // back to the prototype's method
  }
  return (peak - start) * 4;
}
