/**
 * The plain float32 dense path: triple loops with Math.fround after every operation, so each
 * step rounds to float32 exactly as a naive float32 implementation would (sequential dot
 * products, sequential sums, no tiling). Two uses: the accuracy yardstick of docs/design.md, Accuracy (an exact
 * variant's error must stay within 2× of this one's) and the naive speed baseline of benchmarks.
 *
 * Non-finite values: this is what a plain float32 loop gives, with one rule on top: a row that
 * sees no key (decided by visibility) gives zeros. Otherwise IEEE float32 decides: NaN among the
 * visible scores makes the row NaN; a score that overflows is ±∞ and the row NaN (∞ − ∞ in the
 * max subtraction, also when every visible score is −∞). It does NOT apply the engine's limit
 * rules (docs/design.md "Limits and non-finite values": saturation at ±FLT_MAX, ties), so on
 * inputs whose scores overflow float32 the 2× rule has no finite yardstick.
 * Time O(B·Hq·Lq·Lk·(Dk + Dv)); extra memory O(Lk) for one row of scores.
 */
import { kvHeadRow, queryHeadRow } from './heads.js';
import { referenceScore, scoreModList } from './score-mods.js';
import type { AttentionOptions, Tensor } from './types.js';
import { parseAttentionCall } from './validate.js';
import { isVisibleIn, queryPosition } from './visibility.js';

const f = Math.fround;

/** Softmax attention in float32 arithmetic; returns out [B, Hq, Lq, Dv] (the out/lse options are not written). */
export function naiveFloat32Attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): Float32Array {
  const { problem: p } = parseAttentionCall(q, k, v, options);
  const functions = scoreModList(options.scoreMod);
  const bias = options.bias?.data ?? null;
  const decorated = p.bias !== null || p.scoreMods.length > 0;
  const { batch, qHeads, qLength, kvLength, headDim, valueDim } = p;
  const scale = f(p.scale);
  const out = new Float32Array(batch * qHeads * qLength * valueDim);
  const scores = new Float32Array(kvLength);
  const visible = new Uint8Array(kvLength);
  const qd = q.data;
  const kd = k.data;
  const vd = v.data;

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
        let max = Number.NEGATIVE_INFINITY;
        let seen = 0;
        for (let j = 0; j < kvLength; j++) {
          visible[j] = isVisibleIn(p, b, h, i, j) ? 1 : 0;
          if (!visible[j]) continue;
          seen++;
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot = f(dot + f(qd[qBase + d]! * kd[kBase + j * headDim + d]!));
          let s = f(dot * scale);
          if (decorated) s = referenceScore(p, functions, bias, position, b, h, i, j, s, f);
          scores[j] = s;
          if (s > max) max = s;
        }
        // sees no key: zeros. (A max of −∞ with visible keys, all scores −∞ or NaN, falls through:
        // s − max is NaN there, as in any plain loop.)
        if (seen === 0) continue;
        // a sink: one more logit in the max and the sum, with no value
        const sink = p.sinks ? f(p.sinks[h]!) : Number.NEGATIVE_INFINITY;
        if (sink > max) max = sink;
        let sum = p.sinks ? f(Math.exp(f(sink - max))) : 0;
        for (let j = 0; j < kvLength; j++) {
          if (!visible[j]) continue;
          const e = f(Math.exp(f(scores[j]! - max)));
          scores[j] = e;
          sum = f(sum + e);
        }
        const outBase = row * valueDim;
        for (let j = 0; j < kvLength; j++) {
          if (!visible[j]) continue;
          const weight = f(scores[j]! / sum);
          for (let d = 0; d < valueDim; d++) {
            out[outBase + d] = f(out[outBase + d]! + f(weight * vd[vBase + j * valueDim + d]!));
          }
        }
      }
    }
  }
  return out;
}
