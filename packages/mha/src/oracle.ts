/**
 * The float64 reference for the whole layer, written as plain loops with numbered steps: the
 * projections, the heads, exact softmax attention per head (mask from core's isVisible, the single
 * source of truth) and the output projection, every intermediate in float64. Tests and the harness
 * hold multiHeadAttention to it.
 * Time O(B·L·dModel·(Hq·dk + Hkv·(dk + dv) + Hq·dv) + B·Hq·L·Lk·(dk + dv)); memory: float64 copies
 * of the projections and one row of scores.
 */
import { isVisible, type Tensor } from '@attnkit/core';
import type { MultiHeadWeights } from './validate.js';
import { validateLayerCall } from './validate.js';

export interface ReferenceLayerOptions {
  heads: number;
  kvHeads?: number;
  causal?: boolean;
  context?: Tensor;
  /** Inclusive band [left, right] around each query's key position (docs/design.md, Masks). */
  window?: readonly [number, number];
  /** Per batch: keys j >= kvLengths[b] are padding. */
  kvLengths?: ArrayLike<number>;
  /** Default 1/√dk. */
  scale?: number;
}

/** rows [rows, inDim] (float32 or float64) · w [inDim, outDim] + bias, all in float64. */
function project64(
  input: ArrayLike<number>,
  rows: number,
  inDim: number,
  w: Tensor,
  bias: Tensor | undefined,
): Float64Array {
  const outDim = w.shape[1]!;
  const out = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < outDim; c++) {
      let sum = bias ? bias.data[c]! : 0;
      for (let i = 0; i < inDim; i++) sum += input[r * inDim + i]! * w.data[i * outDim + c]!;
      out[r * outDim + c] = sum;
    }
  }
  return out;
}

/** The layer in float64: x [B, L, dModel] → [B, L, dModel] as a Float64Array (row-major). */
export function referenceMultiHeadAttention(
  x: Tensor,
  weights: MultiHeadWeights,
  options: ReferenceLayerOptions,
): Float64Array {
  const layerOptions: Record<string, unknown> = { heads: options.heads };
  if (options.kvHeads !== undefined) layerOptions.kvHeads = options.kvHeads;
  if (options.context !== undefined) layerOptions.context = options.context;
  const call = validateLayerCall(x, weights, layerOptions);
  const { dModel, heads, kvHeads, headDim, valueDim } = call.shape;
  const { batch, length, contextLength } = call;
  const source = call.context ?? x;
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  const left = options.window ? options.window[0] : Number.POSITIVE_INFINITY;
  let right = options.window ? options.window[1] : Number.POSITIVE_INFINITY;
  if (options.causal) right = Math.min(right, 0);
  const group = heads / kvHeads;

  // 1. projections in float64: Q [B·L, Hq·dk], K [B·Lk, Hkv·dk], V [B·Lk, Hkv·dv]
  const q = project64(x.data, batch * length, dModel, weights.wq, weights.bq);
  const k = project64(source.data, batch * contextLength, dModel, weights.wk, weights.bk);
  const v = project64(source.data, batch * contextLength, dModel, weights.wv, weights.bv);

  // 2. attention per (b, h, i), written straight into the concatenated layout [B·L, Hq·dv]
  const concat = new Float64Array(batch * length * heads * valueDim);
  const scores = new Float64Array(contextLength);
  for (let b = 0; b < batch; b++) {
    const validKeys = options.kvLengths ? options.kvLengths[b]! : contextLength;
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / group); // the kv head query head h reads (GQA)
      for (let i = 0; i < length; i++) {
        const qRow = (b * length + i) * heads * headDim + h * headDim;
        // 2a. scaled scores of the visible keys, and their max
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < contextLength; j++) {
          if (!isVisible(i, j, length, contextLength, left, right, validKeys)) {
            scores[j] = Number.NEGATIVE_INFINITY;
            continue;
          }
          const kRow = (b * contextLength + j) * kvHeads * headDim + g * headDim;
          let dot = 0;
          for (let c = 0; c < headDim; c++) dot += q[qRow + c]! * k[kRow + c]!;
          scores[j] = scale * dot;
          if (scores[j]! > max) max = scores[j]!;
        }
        const outRow = (b * length + i) * heads * valueDim + h * valueDim;
        // 2b. a row that sees no key stays zero
        if (max === Number.NEGATIVE_INFINITY) continue;
        // 2c. max-subtracted exponentials, their sum, and the weighted sum of values
        let sum = 0;
        for (let j = 0; j < contextLength; j++) {
          if (scores[j] === Number.NEGATIVE_INFINITY) continue;
          const p = Math.exp(scores[j]! - max);
          sum += p;
          const vRow = (b * contextLength + j) * kvHeads * valueDim + g * valueDim;
          for (let c = 0; c < valueDim; c++) concat[outRow + c] = concat[outRow + c]! + p * v[vRow + c]!;
        }
        // 2d. normalise
        for (let c = 0; c < valueDim; c++) concat[outRow + c] = concat[outRow + c]! / sum;
      }
    }
  }

  // 3. output projection in float64
  return project64(concat, batch * length, heads * valueDim, weights.wo, weights.bo);
}
