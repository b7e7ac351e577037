/**
 * The per-item step of causalAttention, shared by the one-thread loop and the kernels worker pool:
 * one item = one (batch, query head, query block), attended against its visible keys only
 * (causal-blocks.ts). Items write disjoint out/lse rows, so they run in any order on any thread,
 * and each item is computed start to end by one thread: threads = n gives the same bits as 1.
 * Time per item O(rows · (visible range) · (Dk + Dv)); extra memory per item: one scores buffer of
 * itemScoreFloats floats from the running thread's arena (released when the item ends).
 */
import type { AttentionProblem } from '@attnkit/core';
import type { Engine, HeadOffsets } from '@attnkit/kernels';
import { attendCausalBlock, blockScoreFloats } from './causal-blocks.js';

/** Everything an item needs, as plain data (structured-cloned to workers). Offsets are arena floats. */
export interface CausalPayload {
  readonly batch: number;
  readonly qHeads: number;
  readonly kvHeads: number;
  readonly groupSize: number;
  readonly qLength: number;
  readonly kvLength: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly scale: number;
  readonly windowLeft: number;
  readonly validKeys: readonly number[];
  readonly blockQ: number;
  /** ceil(qLength / blockQ): items are numbered (b · Hq + h) · queryBlocks + block. */
  readonly queryBlocks: number;
  readonly q: number;
  readonly k: number;
  readonly v: number;
  readonly out: number;
  readonly lse: number;
}

/** Floats of one item's scores buffer (the widest block's rows × keys). */
export function itemScoreFloats(payload: Pick<CausalPayload, 'blockQ' | 'kvLength' | 'windowLeft'>): number {
  return blockScoreFloats(payload.blockQ, payload.kvLength, payload.windowLeft);
}

// One problem and one head-offsets object per module instance (per thread), rebuilt only when a new
// payload arrives (once per call, or per job in a worker): nothing is allocated per item.
let problemPayload: CausalPayload | undefined;
let problem: AttentionProblem | undefined;
const head: { -readonly [K in keyof HeadOffsets]: number } = { q: 0, out: 0, lse: 0, k: 0, v: 0 };

function problemOf(payload: CausalPayload): AttentionProblem {
  if (payload !== problemPayload || !problem) {
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
      causal: true,
      windowLeft: payload.windowLeft,
      windowRight: 0,
      validKeys: Int32Array.from(payload.validKeys),
      hasKvLengths: true,
      masked: true,
      out: null,
      lse: null,
    };
    problemPayload = payload;
  }
  return problem;
}

/** Runs item `item` (one query block of one head) to completion, writing its out and lse rows. */
export function runItem(engine: Engine, payload: CausalPayload, item: number): void {
  const { qHeads, qLength, headDim, valueDim, blockQ, queryBlocks } = payload;
  const headIndex = Math.floor(item / queryBlocks); // b · Hq + h
  const block = item - headIndex * queryBlocks;
  const b = Math.floor(headIndex / qHeads);
  const h = headIndex - b * qHeads;
  const kvHead = b * payload.kvHeads + Math.floor(h / payload.groupSize);
  head.q = payload.q + headIndex * qLength * headDim;
  head.out = payload.out + headIndex * qLength * valueDim;
  head.lse = payload.lse + headIndex * qLength;
  head.k = payload.k + kvHead * payload.kvLength * headDim;
  head.v = payload.v + kvHead * payload.kvLength * valueDim;
  const rowStart = block * blockQ;
  // The scores come from the running thread's arena: on the caller that is the call's arena, in a
  // pool worker its private region, so threads never share a buffer.
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const scores = arena.alloc(itemScoreFloats(payload));
    attendCausalBlock(
      engine,
      problemOf(payload),
      head,
      b,
      rowStart,
      Math.min(qLength, rowStart + blockQ),
      scores,
    );
  } finally {
    arena.release(mark);
  }
}
