/**
 * Benchmark work module (not shipped): item i is one attention head of the payload's problem,
 * done the materialising way: S = scale·Q_i·K_iᵀ (gemmNT), softmax rows, O_i = P·V_i (gemmNN),
 * with S in the running thread's own arena. 2·L·L·(Dk + Dv) FLOPs per item.
 */
import type { Engine } from '@attnkit/kernels';

export interface HeadPayload {
  q: number;
  k: number;
  v: number;
  out: number;
  length: number;
  dim: number;
}

export function runItem(engine: Engine, payload: unknown, item: number): void {
  const { q, k, v, out, length, dim } = payload as HeadPayload;
  const { arena, ops } = engine;
  const head = item * length * dim;
  const mark = arena.mark();
  try {
    const scores = arena.alloc(length * length);
    ops.gemmNT(length, length, dim, q + head, dim, k + head, dim, scores, length, 1 / Math.sqrt(dim), 0);
    ops.softmaxRows(scores, length, length, length, -1);
    ops.gemmNN(length, dim, length, scores, length, v + head, dim, out + head, dim, 1, 0);
  } finally {
    arena.release(mark);
  }
}
