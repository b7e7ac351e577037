/**
 * The per-item step of denseAttention, shared by the one-thread loop and the kernels worker pool:
 * one item = one (batch, query head), all Lq rows against all Lk keys through kernels' attendRows
 * (scores materialised, band mask, softmax, P·V). Items write disjoint out/lse rows, so threads = n
 * gives the same bits as 1.
 * Time per item O(Lq · Lk · (Dk + Dv)); extra memory per item: one Lq · Lk score buffer from the
 * running thread's arena, released when the item ends.
 */
import {
  attendRows,
  createQueryBlockItem,
  type Engine,
  locateQueryBlockItem,
  type ProblemPayload,
  problemOf,
} from '@attnkit/kernels';

/** Dense needs nothing beyond the shared problem payload: one item per (b, h). */
export type DensePayload = ProblemPayload;

// One located item per module instance (per thread), reused: nothing is allocated per item.
const located = createQueryBlockItem();

/** Floats of one item's score buffer. */
export function itemScoreFloats(payload: Pick<ProblemPayload, 'qLength' | 'kvLength'>): number {
  return payload.qLength * payload.kvLength;
}

/** Runs item `item` (one (batch, query head)) to completion, writing its out and lse rows. */
export function runItem(engine: Engine, payload: DensePayload, item: number): void {
  // one query block per head: blockQ = Lq
  const { b } = locateQueryBlockItem(payload, payload.qLength, 1, item, located);
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const scores = arena.alloc(itemScoreFloats(payload));
    attendRows(engine, problemOf(payload), located, b, 0, payload.qLength, 0, payload.kvLength, scores);
  } finally {
    arena.release(mark);
  }
}
