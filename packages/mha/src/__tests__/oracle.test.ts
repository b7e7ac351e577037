import { createRng, referenceAttention, type Tensor } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { type MultiHeadWeights, referenceMultiHeadAttention } from '../index.js';

/**
 * The float64 layer is itself checked two independent ways, so the layer tests stand on something:
 * (1) against a composition through core's referenceAttention on inputs whose projections are exact
 *     in float32 (small integers times multiples of 1/8), so both sides see identical q, k, v and may
 *     differ only by float64 summation order: 1e-12 is ~10⁴ ulps of the O(1) outputs, far below any
 *     real mistake;
 * (2) against the closed form of uniform attention (wq = 0 makes every score equal).
 */

function dyadic(shape: number[], seed: number, eighths: number): Tensor {
  const rng = createRng(seed);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = (Math.floor(rng.nextFloat() * (2 * eighths + 1)) - eighths) / 8;
  return { data, shape };
}

/** rows [rows, in] · w [in, out] (+ bias) in float64. */
function matmul64(a: ArrayLike<number>, rows: number, inDim: number, w: Tensor, bias?: Tensor): Float64Array {
  const outDim = w.shape[1]!;
  const out = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < outDim; c++) {
      let sum = bias ? bias.data[c]! : 0;
      for (let i = 0; i < inDim; i++) sum += a[r * inDim + i]! * w.data[i * outDim + c]!;
      out[r * outDim + c] = sum;
    }
  }
  return out;
}

/** [B·L, H·d] → BHSD float32 tensor (exact here: the values are dyadic). */
function toHeads(flat: Float64Array, batch: number, length: number, heads: number, dim: number): Tensor {
  const data = new Float32Array(flat.length);
  for (let b = 0; b < batch; b++)
    for (let l = 0; l < length; l++)
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < dim; i++) {
          data[((b * heads + h) * length + l) * dim + i] = flat[((b * length + l) * heads + h) * dim + i]!;
        }
  return { data, shape: [batch, heads, length, dim] };
}

describe('referenceMultiHeadAttention (the float64 layer)', () => {
  const batch = 2;
  const dModel = 8;
  const heads = 4;
  const kvHeads = 2;
  const headDim = 2;
  const valueDim = 3;
  const weights: MultiHeadWeights = {
    wq: dyadic([dModel, heads * headDim], 1, 4),
    wk: dyadic([dModel, kvHeads * headDim], 2, 4),
    wv: dyadic([dModel, kvHeads * valueDim], 3, 4),
    wo: dyadic([heads * valueDim, dModel], 4, 4),
    bq: dyadic([heads * headDim], 5, 4),
    bk: dyadic([kvHeads * headDim], 6, 4),
    bv: dyadic([kvHeads * valueDim], 7, 4),
    bo: dyadic([dModel], 8, 4),
  };

  for (const { name, length, contextLength, causal } of [
    { name: 'self, causal', length: 6, contextLength: 6, causal: true },
    { name: 'cross, Lk > L, causal (bottom-right)', length: 3, contextLength: 7, causal: true },
    { name: 'cross, not causal', length: 5, contextLength: 4, causal: false },
  ]) {
    it(`equals projections → core's referenceAttention → output projection (${name})`, () => {
      const x = dyadic([batch, length, dModel], 11, 16);
      const context = dyadic([batch, contextLength, dModel], 12, 16);
      const q = matmul64(x.data, batch * length, dModel, weights.wq, weights.bq);
      const k = matmul64(context.data, batch * contextLength, dModel, weights.wk, weights.bk);
      const v = matmul64(context.data, batch * contextLength, dModel, weights.wv, weights.bv);
      const attention = referenceAttention(
        toHeads(q, batch, length, heads, headDim),
        toHeads(k, batch, contextLength, kvHeads, headDim),
        toHeads(v, batch, contextLength, kvHeads, valueDim),
        { causal },
      ).out;
      const merged = new Float64Array(batch * length * heads * valueDim);
      for (let b = 0; b < batch; b++)
        for (let h = 0; h < heads; h++)
          for (let l = 0; l < length; l++)
            for (let i = 0; i < valueDim; i++) {
              merged[((b * length + l) * heads + h) * valueDim + i] =
                attention[((b * heads + h) * length + l) * valueDim + i]!;
            }
      const expected = matmul64(merged, batch * length, heads * valueDim, weights.wo, weights.bo);
      const actual = referenceMultiHeadAttention(x, weights, { heads, kvHeads, causal, context });
      expect(actual.length).toBe(expected.length);
      for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(1e-12);
    });
  }

  it('with wq = 0 every visible key weighs the same: causal row i averages v_0..v_i', () => {
    const length = 5;
    const x = dyadic([batch, length, dModel], 13, 16);
    const flat: MultiHeadWeights = {
      ...weights,
      wq: { data: new Float32Array(dModel * heads * headDim), shape: [dModel, heads * headDim] },
      bq: undefined,
    };
    const v = matmul64(x.data, batch * length, dModel, weights.wv, weights.bv);
    const merged = new Float64Array(batch * length * heads * valueDim);
    for (let b = 0; b < batch; b++)
      for (let l = 0; l < length; l++)
        for (let h = 0; h < heads; h++) {
          const g = Math.floor(h / (heads / kvHeads));
          for (let i = 0; i < valueDim; i++) {
            let sum = 0;
            for (let j = 0; j <= l; j++) sum += v[(b * length + j) * kvHeads * valueDim + g * valueDim + i]!;
            merged[((b * length + l) * heads + h) * valueDim + i] = sum / (l + 1);
          }
        }
    const expected = matmul64(merged, batch * length, heads * valueDim, weights.wo, weights.bo);
    const actual = referenceMultiHeadAttention(x, flat, { heads, kvHeads, causal: true });
    for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(1e-12);
  });
});
