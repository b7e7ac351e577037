/**
 * The float64 oracle (DESIGN §5): softmax attention written as plain loops with numbered steps,
 * no tiling and no cleverness, so it can be checked by reading. Every other result is compared
 * to this one. Visibility comes from masks.ts (the single source of truth).
 * Time O(B·Hq·Lq·Lk·(Dk + Dv)); extra memory O(Lk) for one row of weights.
 */
import { isVisible } from './masks.js';
import type { AttentionOptions, Tensor } from './types.js';
import { validateAttentionInputs } from './validate.js';

/**
 * Exact (float64) softmax attention. Returns out [B, Hq, Lq, Dv] and lse [B, Hq, Lq] as
 * Float64Arrays; a row that sees no key gets zeros and lse = −Infinity. The `out` and `lse`
 * options are validated like everywhere else but not written: the oracle always returns its own.
 */
export function referenceAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): { out: Float64Array; lse: Float64Array } {
  const p = validateAttentionInputs(q, k, v, options);
  const { batch, qHeads, kvHeads, groupSize, qLength, kvLength, headDim, valueDim, scale } = p;
  const out = new Float64Array(batch * qHeads * qLength * valueDim);
  const lse = new Float64Array(batch * qHeads * qLength);
  const scores = new Float64Array(kvLength);
  const visible = new Uint8Array(kvLength);

  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < qHeads; h++) {
      // 1. GQA: query head h reads kv head floor(h / (Hq / Hkv)).
      const kvHead = Math.floor(h / groupSize);
      const kBase = (b * kvHeads + kvHead) * kvLength * headDim;
      const vBase = (b * kvHeads + kvHead) * kvLength * valueDim;
      for (let i = 0; i < qLength; i++) {
        const row = (b * qHeads + h) * qLength + i;
        const qBase = row * headDim;
        // 2. Scaled scores of the visible keys, and their maximum.
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < kvLength; j++) {
          visible[j] = isVisible(i, j, qLength, kvLength, p.windowLeft, p.windowRight, p.validKeys[b]!)
            ? 1
            : 0;
          if (!visible[j]) continue;
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q.data[qBase + d]! * k.data[kBase + j * headDim + d]!;
          scores[j] = scale * dot;
          if (scores[j]! > max) max = scores[j]!;
        }
        // 3. A row that sees no key: zeros (already) and lse = −Infinity.
        if (max === Number.NEGATIVE_INFINITY) {
          lse[row] = Number.NEGATIVE_INFINITY;
          continue;
        }
        // 4. Weights exp(s − max) (max subtraction keeps exp finite for any logits) and their sum.
        let sum = 0;
        for (let j = 0; j < kvLength; j++) {
          if (!visible[j]) continue;
          scores[j] = Math.exp(scores[j]! - max);
          sum += scores[j]!;
        }
        // 5. out = Σ_j (w_j / sum) · v_j.
        const outBase = row * valueDim;
        for (let j = 0; j < kvLength; j++) {
          if (!visible[j]) continue;
          const weight = scores[j]! / sum;
          for (let d = 0; d < valueDim; d++) {
            out[outBase + d] = out[outBase + d]! + weight * v.data[vBase + j * valueDim + d]!;
          }
        }
        // 6. lse = log Σ_j exp(s_j) = max + log(sum).
        lse[row] = max + Math.log(sum);
      }
    }
  }
  return { out, lse };
}
