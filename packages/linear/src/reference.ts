/**
 * The float64 oracle of linear attention: the QUADRATIC form, plain loops, no reassociation,
 *   out_i = Σ_{j visible} (φ(q_i)·φ(k_j)) v_j / (Σ_{j visible} φ(q_i)·φ(k_j) + eps),
 * with the same φ as the kernels path (same W for FAVOR+, same stabilisers, same 1/√m) but computed
 * in float64 from the float32 inputs, and visibility from core's isVisibleIn (docs/design.md, Masks:
 * causal / window bottom-right aligned, per document under a documentMask, kvLengths, and any other
 * mask term by its definition). linearAttention is held to this to float32 tolerance; the harness
 * reports fidelity against it. Score modifiers, bias and sinks have no meaning here (there is no
 * score matrix or softmax) and are refused.
 * Time O(B·Hq·Lq·Lk·(m + dv) + B·Hkv·Lk·m·d); memory O(Lk·m + m) per head.
 */
import { AttentionInputError, isVisibleIn, parseAttentionCall, type Tensor } from '@attnkit/core';
import { sharedFavorProjection } from './favor-projection.js';
import { type LinearOptions, linearOptionsSchema, resolveSettings } from './options.js';

/** φ of one row x (length d) in float64, into out (length m), without any stabiliser. */
function rawFeatures(
  featureMap: string,
  x: Float32Array,
  offset: number,
  d: number,
  projection: Float32Array | null,
  sqrtScale: number,
  out: Float64Array,
): void {
  if (featureMap === 'elu') {
    for (let c = 0; c < d; c++) {
      const value = x[offset + c]!;
      out[c] = value > 0 ? value + 1 : Math.exp(value);
    }
    return;
  }
  if (featureMap === 'relu') {
    for (let c = 0; c < d; c++) out[c] = Math.max(x[offset + c]!, 0);
    return;
  }
  // FAVOR+ exponent before stabilising: w_l·x' − |x'|²/2, x' = x·sqrtScale
  const m = out.length;
  let squared = 0;
  for (let c = 0; c < d; c++) squared += x[offset + c]! * sqrtScale * (x[offset + c]! * sqrtScale);
  for (let l = 0; l < m; l++) {
    let dot = 0;
    for (let c = 0; c < d; c++) dot += projection![l * d + c]! * (x[offset + c]! * sqrtScale);
    out[l] = dot - squared / 2;
  }
}

/**
 * Linear attention in float64 by its quadratic definition, for the same options as linearAttention
 * (featureMap, features, seed, eps, scale for FAVOR+, causal / window / kvLengths / mask).
 * Returns `out` [B, Hq, Lq, Dv] row-major.
 */
export function referenceLinearAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: LinearOptions = {},
): { out: Float64Array } {
  // 1. shapes, masks and options, normalised
  const { problem, options: own } = parseAttentionCall(q, k, v, options, linearOptionsSchema);
  for (const key of ['scoreMod', 'bias', 'sinks'] as const) {
    if (own[key] !== undefined) {
      throw new AttentionInputError(
        `options.${key}`,
        'no score modifier, bias or sinks (linear attention has no score matrix or softmax)',
        `options.${key}`,
        "Drop it; core's referenceAttention defines it for softmax attention.",
      );
    }
  }
  const { featureMap, features: m, seed, eps } = resolveSettings(own, problem.headDim);
  const { batch, qHeads, kvHeads, groupSize, qLength, kvLength, headDim: d, valueDim: dv, scale } = problem;
  const favor = featureMap === 'favor';
  const projection = favor ? sharedFavorProjection(d, m, seed) : null;
  const root = Math.sqrt(Math.abs(scale));
  const querySqrtScale = root;
  const keySqrtScale = scale < 0 ? -root : root;
  const featureFactor = 1 / Math.sqrt(m);
  const out = new Float64Array(batch * qHeads * qLength * dv);
  const keyFeatures = new Float64Array(kvLength * m);
  const row = new Float64Array(m);
  const queryFeatures = new Float64Array(m);
  const numerator = new Float64Array(dv);

  for (let b = 0; b < batch; b++) {
    const validKeys = problem.validKeys[b]!;
    for (let kvHead = 0; kvHead < kvHeads; kvHead++) {
      const kvBase = (b * kvHeads + kvHead) * kvLength;
      // 2. φ(k_j) for the valid keys; FAVOR+: one stabiliser, the max exponent over them
      let stabiliser = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < validKeys; j++) {
        rawFeatures(featureMap, k.data, (kvBase + j) * d, d, projection, keySqrtScale, row);
        for (let l = 0; l < m; l++) {
          keyFeatures[j * m + l] = row[l]!;
          if (row[l]! > stabiliser) stabiliser = row[l]!;
        }
      }
      if (favor) {
        for (let i = 0; i < validKeys * m; i++)
          keyFeatures[i] = Math.exp(keyFeatures[i]! - stabiliser) * featureFactor;
      }
      for (let h = kvHead * groupSize; h < (kvHead + 1) * groupSize; h++) {
        for (let i = 0; i < qLength; i++) {
          const qRow = (b * qHeads + h) * qLength + i;
          // 3. φ(q_i); FAVOR+: stabilised by the row's max exponent
          rawFeatures(featureMap, q.data, qRow * d, d, projection, querySqrtScale, queryFeatures);
          if (favor) {
            let rowMax = Number.NEGATIVE_INFINITY;
            for (let l = 0; l < m; l++) rowMax = Math.max(rowMax, queryFeatures[l]!);
            for (let l = 0; l < m; l++)
              queryFeatures[l] = Math.exp(queryFeatures[l]! - rowMax) * featureFactor;
          }
          // 4. weights φ(q_i)·φ(k_j) over the visible keys, weighted sum of values, normaliser
          numerator.fill(0);
          let denominator = 0;
          for (let j = 0; j < kvLength; j++) {
            if (!isVisibleIn(problem, b, h, i, j)) continue;
            let weight = 0;
            for (let l = 0; l < m; l++) weight += queryFeatures[l]! * keyFeatures[j * m + l]!;
            denominator += weight;
            const vRow = (kvBase + j) * dv;
            for (let c = 0; c < dv; c++) numerator[c] = numerator[c]! + weight * v.data[vRow + c]!;
          }
          // 5. normalise with the same guard as the kernels path (no keys: 0 / eps = 0)
          for (let c = 0; c < dv; c++) out[qRow * dv + c] = numerator[c]! / (denominator + eps);
        }
      }
    }
  }
  return { out };
}
