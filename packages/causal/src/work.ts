/**
 * The per-item step of causalAttention, shared by the one-thread loop and the kernels worker pool:
 * one item = one (batch, query head, query block), attended against its visible keys only
 * (causal-blocks.ts). Items write disjoint out/lse rows, so they run in any order on any thread,
 * and each item is computed start to end by one thread: threads = n gives the same bits as 1.
 * Time per item O(rows · (visible range) · (Dk + Dv)); extra memory per item: one scores buffer of
 * itemScoreFloats floats from the running thread's arena (released when the item ends).
 */
import {
  createQueryBlockItem,
  type Engine,
  locateQueryBlockItem,
  type ProblemPayload,
  problemOf,
} from '@attnkit/kernels';
import { attendCausalBlock, blockScoreFloats } from './causal-blocks.js';

/** Everything an item needs, as plain data (structured-cloned to workers). Offsets are arena floats. */
export interface CausalPayload extends ProblemPayload {
  readonly blockQ: number;
  /** ceil(qLength / blockQ): kernels' locateQueryBlockItem numbers items per head. */
  readonly queryBlocks: number;
}

/** Floats of one item's scores buffer (the widest block's rows × keys). */
export function itemScoreFloats(payload: Pick<CausalPayload, 'blockQ' | 'kvLength' | 'windowLeft'>): number {
  return blockScoreFloats(payload.blockQ, payload.kvLength, payload.windowLeft);
}

// One located item per module instance (per thread), reused: nothing is allocated per item.
const located = createQueryBlockItem();

/** Runs item `item` (one query block of one head) to completion, writing its out and lse rows. */
export function runItem(engine: Engine, payload: CausalPayload, item: number): void {
  const { b, rowStart, rowEnd } = locateQueryBlockItem(
    payload,
    payload.blockQ,
    payload.queryBlocks,
    item,
    located,
  );
  // The scores come from the running thread's arena: on the caller that is the call's arena, in a
  // pool worker its private region, so threads never share a buffer.
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const scores = arena.alloc(itemScoreFloats(payload));
    attendCausalBlock(engine, problemOf(payload), located, b, rowStart, rowEnd, scores);
  } finally {
    arena.release(mark);
  }
}
