/**
 * The per-item step of slidingWindowAttention, shared by the one-thread loop and the kernels worker
 * pool: one item = one (batch, query head, query block), attended against its band (band-blocks.ts)
 * or, with global tokens, against its band plus the global keys, its global rows fixed up after
 * (global-tokens.ts). Items write disjoint out/lse rows, so they run in any order on any thread, and
 * each is computed start to end by one thread: threads = n gives the same bits as 1.
 * Time per item O(rows · (blockQ + left + right + G) · (Dk + Dv) + G_rows · Lk · (Dk + Dv)); extra
 * memory per item: itemScratchFloats floats from the running thread's arena, released at its end.
 */
import type { AttentionProblem } from '@attnkit/core';
import {
  attendBand,
  bandScoreFloats,
  createQueryBlockItem,
  type Engine,
  locateQueryBlockItem,
  runBandItem,
  type SplitParams,
  type VariantPayload,
} from '@attnkit/kernels/runtime';
import {
  attendBandWithGlobalsBlock,
  type GlobalScratch,
  gatherGlobals,
  globalScratchAt,
  globalScratchFloats,
} from './global-tokens.js';

/** Sliding-window's own part of the payload (the rest is the problem and the arena offsets). */
export interface SlidingWindowParams extends SplitParams {
  /** Sorted, distinct global key positions (empty: the plain band). */
  readonly globals: readonly number[];
  readonly blockQ: number;
  /** ceil(qLength / blockQ): kernels' locateQueryBlockItem numbers items per head. */
  readonly queryBlocks: number;
}

export type SlidingWindowPayload = VariantPayload<SlidingWindowParams>;

/** Floats of one item's scratch: its scores (and, with global tokens, the gathered global keys/values). */
export function itemScratchFloats(problem: AttentionProblem, blockQ: number, globalCount: number): number {
  const { kvLength, windowLeft, windowRight } = problem;
  if (globalCount === 0) return bandScoreFloats(blockQ, kvLength, windowLeft, windowRight);
  return globalScratchFloats(
    blockQ,
    kvLength,
    windowLeft,
    windowRight,
    globalCount,
    problem.headDim,
    problem.valueDim,
  );
}

// Per module instance (per thread): the problem, the unmasked problem of the global rows and the
// global positions, rebuilt only when a new payload arrives (once per call, or per job in a worker),
// and one reused head-offsets object: nothing is allocated per item.
let statePayload: SlidingWindowPayload | undefined;
let problem: AttentionProblem | undefined;
let globalRows: AttentionProblem | undefined;
let globals = new Int32Array(0);
let scratchFloats = 0;
/** Offsets of the gathered keys and values relative to the item's scratch (global path). */
let keysAt = 0;
let valuesAt = 0;
const layout: { -readonly [K in keyof GlobalScratch]: number } = { scores: 0, keys: 0, values: 0 };
const located = createQueryBlockItem();

function prepare(payload: SlidingWindowPayload): void {
  if (payload === statePayload && problem) return;
  problem = payload.problem;
  // Global rows: no mask at all; their key ranges are cut to exactly what they may see.
  globalRows = {
    ...problem,
    windowLeft: Number.POSITIVE_INFINITY,
    windowRight: Number.POSITIVE_INFINITY,
    masked: false,
  };
  globals = Int32Array.from(payload.params.globals);
  scratchFloats = itemScratchFloats(problem, payload.params.blockQ, globals.length);
  const relative = globalScratchAt(
    0,
    payload.params.blockQ,
    problem.kvLength,
    problem.windowLeft,
    problem.windowRight,
    globals.length,
    problem.headDim,
  );
  keysAt = relative.keys;
  valuesAt = relative.values;
  statePayload = payload;
}

/** Runs item `item` (one query block of one head) to completion, writing its out and lse rows. */
export function runItem(engine: Engine, payload: SlidingWindowPayload, item: number): void {
  // without global tokens the band is kernels' banded step (key splits included)
  if (payload.params.globals.length === 0) {
    runBandItem(engine, payload, item);
    return;
  }
  prepare(payload);
  const { headDim, valueDim } = payload.problem;
  const { b, rowStart, rowEnd } = locateQueryBlockItem(
    payload,
    payload.params.blockQ,
    payload.params.queryBlocks,
    item,
    located,
  );
  // Scratch from the running thread's arena: on the caller that is the call's arena, in a pool
  // worker its private region, so threads never share a buffer.
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const scratch = arena.alloc(scratchFloats);
    if (globals.length === 0) {
      attendBand(engine, problem!, located, b, rowStart, rowEnd, scratch);
      return;
    }
    layout.scores = scratch;
    layout.keys = scratch + keysAt;
    layout.values = scratch + valuesAt;
    gatherGlobals(engine, located, globals, headDim, valueDim, layout);
    attendBandWithGlobalsBlock(engine, problem!, globalRows!, located, b, rowStart, rowEnd, globals, layout);
  } finally {
    arena.release(mark);
  }
}
