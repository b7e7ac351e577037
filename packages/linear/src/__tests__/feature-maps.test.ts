/**
 * Feature maps at the edges of float32 (docs/design.md "Limits and non-finite values": finite
 * inputs never give NaN). With q and k near 1e19, φ(q)·φ(k) ≈ 1e38·d overflows float32 although
 * the output, a weighted mean of value rows, is bounded by max|v|. elu / relu query rows whose
 * largest feature exceeds 2^32 are scaled by a power of two (exact), which cancels between
 * numerator and denominator; held to linear's float64 quadratic form (reference.ts) with the usual
 * tolerance, on both backends, non-causal, causal (chunked) and recurrent.
 */
import { randn, type Tensor } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { createLinearState, type FeatureMap, linearAttention, referenceLinearAttention } from '../index.js';
import { expectClose, LINEAR_TOLERANCE } from './helpers.js';

function huge(shape: number[], seed: number, std: number): Tensor {
  return randn(shape, seed, std);
}

describe('elu / relu features keep finite inputs finite', () => {
  const q = huge([1, 2, 37, 8], 1, 1e19);
  const k = huge([1, 2, 37, 8], 2, 1e19);
  const v = randn([1, 2, 37, 5], 3);
  for (const featureMap of ['relu', 'elu'] as FeatureMap[]) {
    for (const backend of ['wasm', 'js'] as const) {
      for (const causal of [false, true]) {
        it(`${featureMap}, q and k ~ 1e19, ${causal ? 'causal' : 'non-causal'}, ${backend}: no NaN, equals float64`, () => {
          const options = { featureMap, causal, backend };
          const out = linearAttention(q, k, v, options);
          expect(out.data.every(Number.isFinite)).toBe(true);
          expectClose(out.data, referenceLinearAttention(q, k, v, options).out, LINEAR_TOLERANCE, featureMap);
        });
      }
    }
  }

  it('relu, recurrent state fed in pieces: no NaN, equals float64', () => {
    const options = { featureMap: 'relu' as const, causal: true };
    const expected = referenceLinearAttention(q, k, v, options).out;
    const state = createLinearState({
      featureMap: 'relu',
      batch: 1,
      qHeads: 2,
      kvHeads: 2,
      headDim: 8,
      valueDim: 5,
    });
    const got: number[][] = [[], []];
    for (let t = 0; t < 37; t++) {
      const step = (x: Tensor, d: number) => ({
        data: Float32Array.from(
          { length: 2 * d },
          (_, i) => x.data[(Math.floor(i / d) * 37 + t) * d + (i % d)]!,
        ),
        shape: [1, 2, 1, d],
      });
      const out = state.step(step(q, 8), step(k, 8), step(v, 5));
      for (let h = 0; h < 2; h++) got[h]!.push(...out.data.subarray(h * 5, h * 5 + 5));
    }
    expectClose(Float32Array.from(got.flat()), expected, LINEAR_TOLERANCE, 'recurrent');
  });

  it('a huge query against ordinary keys: the scaled row still equals float64', () => {
    const bigQ = huge([1, 1, 9, 8], 4, 1e30);
    const k1 = randn([1, 1, 9, 8], 5);
    const v1 = randn([1, 1, 9, 5], 6);
    for (const backend of ['wasm', 'js'] as const) {
      const options = { featureMap: 'relu' as const, backend };
      expectClose(
        linearAttention(bigQ, k1, v1, options).data,
        referenceLinearAttention(bigQ, k1, v1, options).out,
        LINEAR_TOLERANCE,
        backend,
      );
    }
  });
});
