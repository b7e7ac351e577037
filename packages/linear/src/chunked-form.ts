/**
 * Causal linear attention for one head group, chunked (fla's "chunk" mode; Yang et al. 2024,
 * "Gated Linear Attention Transformers with Hardware-Efficient Training", §3):
 * query rows are cut into chunks of C; chunk c's rows sit at key positions [k0, k0 + C) (bottom-right
 * alignment, docs/design.md, Masks: query i at p = i + Lk − Lq) and
 *   out_c = φ(Q_c)·S_prev + tril(φ(Q_c)·φ(K_c)ᵀ)·V_c,   den_c = φ(Q_c)·z_prev + tril(…)·1,
 * then S += φ(K_c)ᵀV_c, z += Σ φ(K_c). Keys before the first query's position enter S first, a block
 * at a time; rows whose position is < 0 (Lq > Lk) see no key and get zeros. The tile's mask is
 * maskBand with right = 0 (−∞ where hidden) followed by relu, which maps −∞ to 0 and leaves
 * φ·φ >= 0 unchanged. FAVOR+: the chunk's keys may raise the running stabiliser before the chunk's
 * queries read S_prev, so both parts are in the same units (head-group.ts).
 * The same routine runs the recurrent form: S, z and the stabiliser arrive holding earlier tokens.
 * Time O(Lk·m·(d + dv) + G·Lq·(C·(m + dv) + m·(d + dv))); extra memory: the caller's buffers
 * (C × m twice, C × C, S, z): independent of the sequence length.
 */
import { anyNotFinite, type Engine } from '@attnkit/kernels/runtime';
import { type FeatureMapPlan, queryFeatures } from './feature-maps.js';
import { absorbKeys, accumulateState, type HeadGroup, keyBlockFeatures } from './head-group.js';
import type { LinearBuffers } from './workspace.js';

/**
 * Expects S, z holding the keys before position 0 (zeros for a fresh sequence) in units of
 * `stabiliser` (−∞ when empty). Leaves them holding every valid key; returns the stabiliser.
 */
export function causalHeadGroup(
  engine: Engine,
  plan: FeatureMapPlan,
  buffers: LinearBuffers,
  group: HeadGroup,
  chunkSize: number,
  eps: number,
  stabiliser: number,
): number {
  const { ops } = engine;
  const { headDim: d, valueDim: dv, features: m, qLength, kvLength, validKeys, groupSize } = group;
  const offset = kvLength - qLength;
  // 1. rows before key position 0 see nothing
  const firstRow = Math.min(qLength, Math.max(0, -offset));
  if (firstRow > 0) {
    const heap = engine.arena.heap;
    for (let g = 0; g < groupSize; g++) {
      const outHead = group.out + g * group.qStride * dv;
      heap.fill(0, outHead, outHead + firstRow * dv);
    }
  }
  // 2. keys before the first row's position go straight into the state
  const prefix = Math.min(Math.max(0, offset), validKeys);
  stabiliser = absorbKeys(engine, plan, buffers, group, 0, prefix, chunkSize, stabiliser);
  // 3. chunks: the chunk's key features, the state part, the masked quadratic part, then the
  //    state takes the chunk's keys
  for (let first = firstRow; first < qLength; first += chunkSize) {
    const rows = Math.min(chunkSize, qLength - first);
    const firstKey = first + offset;
    const cols = Math.min(rows, validKeys - firstKey);
    if (cols > 0)
      stabiliser = keyBlockFeatures(engine, plan, buffers, group, firstKey, firstKey + cols, stabiliser);
    // A later key of the chunk is hidden from earlier rows; when a value there is not finite, rows
    // take only their own keys (0 · NaN = NaN). One check per chunk, for every head of the group.
    const valuesNotFinite =
      cols > 0 && anyNotFinite(engine, group.v + firstKey * dv, group.v + (firstKey + cols) * dv);
    for (let g = 0; g < groupSize; g++) {
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
      if (cols > 0) {
        ops.gemmNT(rows, cols, m, buffers.phiQ, m, buffers.phiK, m, buffers.scores, cols, 1, 0);
        ops.maskBand(
          buffers.scores,
          cols,
          rows,
          cols,
          firstKey,
          firstKey,
          Number.POSITIVE_INFINITY,
          0,
          validKeys,
        );
        ops.relu(buffers.scores, rows * cols);
        const values = group.v + firstKey * dv;
        if (valuesNotFinite) {
          // Row r sees the chunk's first r + 1 keys.
          for (let r = 0; r < rows; r++) {
            const seen = Math.min(r + 1, cols);
            ops.gemmNN(1, dv, seen, buffers.scores + r * cols, cols, values, dv, outRows + r * dv, dv, 1, 1);
          }
        } else {
          ops.gemmNN(rows, dv, cols, buffers.scores, cols, values, dv, outRows, dv, 1, 1);
        }
        ops.gemmNN(rows, 1, cols, buffers.scores, cols, buffers.ones, 1, buffers.den, 1, 1, 1);
      }
      ops.divideRows(outRows, dv, rows, dv, buffers.den, eps);
    }
    if (cols > 0) accumulateState(engine, buffers, group, firstKey, firstKey + cols);
  }
  return stabiliser;
}
