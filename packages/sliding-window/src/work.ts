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
import type { Engine, HeadOffsets } from '@attnkit/kernels';
import { attendBandBlock, maxBandKeys } from './band-blocks.js';
import {
  attendBandWithGlobalsBlock,
  type GlobalScratch,
  gatherGlobals,
  globalScratchAt,
  globalScratchFloats,
} from './global-tokens.js';

/** Everything an item needs, as plain data (structured-cloned to workers). Offsets are arena floats. */
export interface SlidingWindowPayload {
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
  readonly windowLeft: number;
  readonly windowRight: number;
  readonly masked: boolean;
  readonly validKeys: readonly number[];
  /** Sorted, distinct global key positions (empty: the plain band). */
  readonly globals: readonly number[];
  readonly blockQ: number;
  /** ceil(qLength / blockQ): items are numbered (b · Hq + h) · queryBlocks + block. */
  readonly queryBlocks: number;
  readonly q: number;
  readonly k: number;
  readonly v: number;
  readonly out: number;
  readonly lse: number;
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
const head: { -readonly [K in keyof HeadOffsets]: number } = { q: 0, out: 0, lse: 0, k: 0, v: 0 };

function prepare(payload: SlidingWindowPayload): void {
  if (payload === statePayload && problem) return;
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
  const { qHeads, qLength, kvLength, headDim, valueDim, blockQ, queryBlocks } = payload;
  const headIndex = Math.floor(item / queryBlocks); // b · Hq + h
  const block = item - headIndex * queryBlocks;
  const b = Math.floor(headIndex / qHeads);
  const h = headIndex - b * qHeads;
  const kvHead = b * payload.kvHeads + Math.floor(h / payload.groupSize);
  head.q = payload.q + headIndex * qLength * headDim;
  head.out = payload.out + headIndex * qLength * valueDim;
  head.lse = payload.lse + headIndex * qLength;
  head.k = payload.k + kvHead * kvLength * headDim;
  head.v = payload.v + kvHead * kvLength * valueDim;
  const rowStart = block * blockQ;
  const rowEnd = Math.min(qLength, rowStart + blockQ);
  // Scratch from the running thread's arena: on the caller that is the call's arena, in a pool
  // worker its private region, so threads never share a buffer.
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const scratch = arena.alloc(scratchFloats);
    if (globals.length === 0) {
      attendBandBlock(engine, problem!, head, b, rowStart, rowEnd, scratch);
      return;
    }
    layout.scores = scratch;
    layout.keys = scratch + keysAt;
    layout.values = scratch + valuesAt;
    gatherGlobals(engine, head, globals, headDim, valueDim, layout);
    attendBandWithGlobalsBlock(engine, problem!, globalRows!, head, b, rowStart, rowEnd, globals, layout);
  } finally {
    arena.release(mark);
  }
}
