/**
 * The float64 oracle (docs/design.md, Accuracy): softmax attention written as plain loops with numbered steps,
 * no tiling and no cleverness, so it can be checked by reading. Every other result is compared
 * to this one. Visibility comes from masks.ts (the single source of truth).
 *
 * Limits and non-finite values (docs/design.md, the section of that name), the engine's rules
 * at float64's limits:
 * - a row that sees no key: zeros, lse = −∞ (decided by visibility, never by a score's value);
 * - NaN among a row's visible scores (a NaN in q or in a visible k): the row's out and lse are NaN;
 *   a hidden key never enters, whatever it holds;
 * - a score that overflows float64 (|scale·q·k| > MAX_VALUE, or an infinite input) saturates to
 *   ±Number.MAX_VALUE, so it is never read as "hidden" (−∞) nor turns into NaN (∞ − ∞); tied
 *   saturated scores share the weight equally.
 * Where it differs from the float32 engine: float32 saturates at ±FLT_MAX ≈ ±3.4e38, float64 at
 * ±1.8e308. A row whose scores lie beyond ±FLT_MAX (q = [1e20, 0] against keys −1e20·{1, 2, 3}:
 * scores −7.07e39·{1, 2, 3}) keeps them apart here (out = v₀, lse = −7.07e39) while the engine
 * ties them (out = the mean of the three values, lse = −FLT_MAX). Compare the two only on inputs
 * whose scaled scores stay within float32's range.
 * Time O(B·Hq·Lq·Lk·(Dk + Dv)); extra memory O(Lk) for one row of weights.
 */
import { kvHeadRow, queryHeadRow } from './heads.js';
import { referenceScore, scoreModList } from './score-mods.js';
import type { AttentionOptions, Tensor } from './types.js';
import { parseAttentionCall } from './validate.js';
import { isVisibleIn, queryPosition } from './visibility.js';

/**
 * Exact (float64) softmax attention. Returns out [B, Hq, Lq, Dv] and lse [B, Hq, Lq] as
 * Float64Arrays; a row that sees no key gets zeros and lse = −Infinity, a row with a NaN among
 * its visible scores NaN (out and lse). The `out` and `lse`
 * options are validated like everywhere else but not written: the oracle always returns its own.
 */
export function referenceAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): { out: Float64Array; lse: Float64Array } {
  const { problem: p } = parseAttentionCall(q, k, v, options);
  const functions = scoreModList(options.scoreMod);
  const bias = options.bias?.data ?? null;
  const decorated = p.bias !== null || p.scoreMods.length > 0;
  const { batch, qHeads, qLength, kvLength, headDim, valueDim, scale } = p;
  const out = new Float64Array(batch * qHeads * qLength * valueDim);
  const lse = new Float64Array(batch * qHeads * qLength);
  const scores = new Float64Array(kvLength);
  const visible = new Uint8Array(kvLength);

  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < qHeads; h++) {
      // 1. GQA: query head h reads kv head floor(h / (Hq / Hkv)) (heads.ts).
      const kvRow = kvHeadRow(p, b, h);
      const kBase = kvRow * headDim;
      const vBase = kvRow * valueDim;
      for (let i = 0; i < qLength; i++) {
        const row = queryHeadRow(p, b, h) + i;
        const qBase = row * headDim;
        const position = queryPosition(p, i);
        // 2. Scaled scores of the visible keys (saturated: overflow is not masking), their
        //    maximum, and whether one is NaN.
        let max = Number.NEGATIVE_INFINITY;
        let seen = 0;
        let nan = false;
        for (let j = 0; j < kvLength; j++) {
          visible[j] = isVisibleIn(p, b, h, i, j) ? 1 : 0;
          if (!visible[j]) continue;
          seen++;
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q.data[qBase + d]! * k.data[kBase + j * headDim + d]!;
          scores[j] = Math.min(Math.max(scale * dot, -Number.MAX_VALUE), Number.MAX_VALUE);
          // 2b. bias, then the modifiers in order (docs/design.md, Masks, "Order of operations"); +∞ is
          //     never a score (saturated), −∞ gives the key weight 0 without hiding it
          if (decorated) {
            const s = referenceScore(p, functions, bias, position, b, h, i, j, scores[j]!, identity);
            scores[j] = s > Number.MAX_VALUE ? Number.MAX_VALUE : s;
          }
          if (Number.isNaN(scores[j]!)) nan = true;
          else if (scores[j]! > max) max = scores[j]!;
        }
        // 3. A row that sees no key: zeros (already) and lse = −Infinity (the sink's logit when the
        //    head has one). NaN among the visible scores: out and lse NaN.
        const sink = p.sinks ? p.sinks[h]! : Number.NEGATIVE_INFINITY;
        if (seen === 0) {
          lse[row] = sink;
          continue;
        }
        if (nan) {
          out.fill(Number.NaN, row * valueDim, (row + 1) * valueDim);
          lse[row] = Number.NaN;
          continue;
        }
        // 4. Weights exp(s − max) (max subtraction keeps exp finite for any logits; s − max may
        //    be −∞ between saturated scores, whose weight is then 0) and their sum. A sink is one
        //    more logit in the max and the sum, with no value. Visible keys whose scores are all −∞
        //    (a −∞ bias) weigh 0 each; their values still enter as 0 · v.
        if (sink > max) max = sink;
        let sum = max === Number.NEGATIVE_INFINITY ? 0 : Math.exp(sink - max);
        for (let j = 0; j < kvLength; j++) {
          if (!visible[j]) continue;
          scores[j] = max === Number.NEGATIVE_INFINITY ? 0 : Math.exp(scores[j]! - max);
          sum += scores[j]!;
        }
        // 5. out = Σ_j (w_j / sum) · v_j.
        const outBase = row * valueDim;
        for (let j = 0; j < kvLength; j++) {
          if (!visible[j]) continue;
          const weight = sum === 0 ? 0 : scores[j]! / sum;
          for (let d = 0; d < valueDim; d++) {
            out[outBase + d] = out[outBase + d]! + weight * v.data[vBase + j * valueDim + d]!;
          }
        }
        // 6. lse = log Σ_j exp(s_j) = max + log(sum) (−∞ when every weight is 0).
        lse[row] = sum === 0 ? Number.NEGATIVE_INFINITY : max + Math.log(sum);
      }
    }
  }
  return { out, lse };
}

const identity = (x: number) => x;
