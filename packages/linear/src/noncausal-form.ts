/**
 * Non-causal linear attention for one head group (Katharopoulos et al. 2020, eq. 5):
 *   S = φ(K)ᵀV  [m × dv] (gemmTN),  z = Σ_j φ(k_j)  [m] (columnSums), over the valid keys only,
 *   a block of keys at a time (head-group.ts);
 *   per query block:  out = φ(Q)·S (gemmNN),  den = φ(Q)·z (gemmNN, n = 1),  out /= den + eps.
 * Time O(Lk·m·(d + dv) + G·Lq·m·(d + dv)); extra memory: the caller's buffers (a key block and a
 * query block of blockRows × m, S, z): independent of the sequence length.
 */
import type { Engine } from '@attnkit/kernels';
import { type FeatureMapPlan, queryFeatures } from './feature-maps.js';
import { absorbKeys, type HeadGroup } from './head-group.js';
import type { LinearBuffers } from './workspace.js';

/** Overwrites S and z. */
export function noncausalHeadGroup(
  engine: Engine,
  plan: FeatureMapPlan,
  buffers: LinearBuffers,
  group: HeadGroup,
  blockRows: number,
  eps: number,
): void {
  const { ops } = engine;
  const { headDim: d, valueDim: dv, features: m, qLength } = group;
  const heap = engine.arena.heap;
  if (group.validKeys <= 0) {
    // no key (kvLengths 0, an empty document): every output is 0 / (0 + eps) = 0, whatever q holds
    for (let g = 0; g < group.groupSize; g++) {
      const outHead = group.out + g * group.qStride * dv;
      heap.fill(0, outHead, outHead + qLength * dv);
    }
    return;
  }
  // 1. the whole kv side
  heap.fill(0, buffers.state, buffers.state + m * dv);
  heap.fill(0, buffers.normaliser, buffers.normaliser + m);
  absorbKeys(engine, plan, buffers, group, 0, group.validKeys, blockRows, Number.NEGATIVE_INFINITY);
  // 2. every query head of the group, a block of rows at a time
  for (let g = 0; g < group.groupSize; g++) {
    for (let first = 0; first < qLength; first += blockRows) {
      const rows = Math.min(blockRows, qLength - first);
      const outRows = group.out + (g * group.qStride + first) * dv;
      queryFeatures(
        engine,
        plan,
        group.q + (g * group.qStride + first) * d,
        rows,
        buffers.phiQ,
        buffers.rowStat,
      );
      ops.gemmNN(rows, dv, m, buffers.phiQ, m, buffers.state, dv, outRows, dv, 1, 0);
      ops.gemmNN(rows, 1, m, buffers.phiQ, m, buffers.normaliser, 1, buffers.den, 1, 1, 0);
      ops.divideRows(outRows, dv, rows, dv, buffers.den, eps);
    }
  }
}
