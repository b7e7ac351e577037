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
  createQueryBlockItem,
  type Engine,
  locateQueryBlockItem,
  type ProblemPayload,
  problemOf,
} from '@attnkit/kernels';
import { attendBandBlock, maxBandKeys } from './band-blocks.js';
import {
  attendBandWithGlobalsBlock,
  type GlobalScratch,
  gatherGlobals,
  globalScratchAt,
  globalScratchFloats,
} from './global-tokens.js';

/** Everything an item needs, as plain data (structured-cloned to workers). Offsets are arena floats. */
export interface SlidingWindowPayload extends ProblemPayload {
  /** Sorted, distinct global key positions (empty: the plain band). */
  readonly globals: readonly number[];
  readonly blockQ: number;
  /** ceil(qLength / blockQ): kernels' locateQueryBlockItem numbers items per head. */
  readonly queryBlocks: number;
}

type ScratchShape = Pick<
  SlidingWindowPayload,
  'blockQ' | 'kvLength' | 'windowLeft' | 'windowRight' | 'headDim' | 'valueDim'
> & { globalCount: number };

/** Floats of one item's scratch: its scores (and, with global tokens, the gathered global keys/values). */
export function itemScratchFloats(shape: ScratchShape): number {
  const { blockQ, kvLength, windowLeft, windowRight, globalCount } = shape;
  if (globalCount === 0) return blockQ * maxBandKeys(blockQ, kvLength, windowLeft, windowRight);
  return globalScratchFloats(
    blockQ,
    kvLength,
    windowLeft,
    windowRight,
    globalCount,
    shape.headDim,
    shape.valueDim,
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
  problem = problemOf(payload);
  // Global rows: no mask at all; their key ranges are cut to exactly what they may see.
  globalRows = {
    ...problem,
    windowLeft: Number.POSITIVE_INFINITY,
    windowRight: Number.POSITIVE_INFINITY,
    masked: false,
  };
  globals = Int32Array.from(payload.globals);
  scratchFloats = itemScratchFloats({ ...payload, globalCount: globals.length });
  const relative = globalScratchAt(
    0,
    payload.blockQ,
    payload.kvLength,
    payload.windowLeft,
    payload.windowRight,
    globals.length,
    payload.headDim,
  );
  keysAt = relative.keys;
  valuesAt = relative.values;
  statePayload = payload;
}

/** Runs item `item` (one query block of one head) to completion, writing its out and lse rows. */
export function runItem(engine: Engine, payload: SlidingWindowPayload, item: number): void {
  prepare(payload);
  const { headDim, valueDim } = payload;
  const { b, rowStart, rowEnd } = locateQueryBlockItem(
    payload,
    payload.blockQ,
    payload.queryBlocks,
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
      attendBandBlock(engine, problem!, located, b, rowStart, rowEnd, scratch);
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
