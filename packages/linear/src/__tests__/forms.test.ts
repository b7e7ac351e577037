/**
 * The three forms of causal linear attention agree: the chunked form (linearAttention, causal) for
 * any chunk size, the recurrent form (createLinearState().step) fed in any pieces, and the float64
 * quadratic form (referenceLinearAttention). FAVOR+ runs with a running key stabiliser in the
 * recurrent form and one stabiliser per head in the others: the two differ by a constant factor that
 * cancels between numerator and denominator, so they too agree to float32 tolerance.
 */
import { type Tensor, tensor } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { createLinearState, type FeatureMap, linearAttention, referenceLinearAttention } from '../index.js';
import { concatSequence, expectClose, inputs, LINEAR_TOLERANCE, sliceSequence } from './helpers.js';

const MAPS: { featureMap: FeatureMap; features?: number }[] = [
  { featureMap: 'elu' },
  { featureMap: 'relu' },
  { featureMap: 'favor', features: 48 },
];

describe('chunked causal form = quadratic form', () => {
  const { q, k, v } = inputs({ q: [2, 4, 70, 12], k: [2, 2, 70, 12], v: [2, 2, 70, 9] }, 1);
  for (const map of MAPS) {
    for (const chunkSize of [1, 3, 16, 64, 4096]) {
      it(`${map.featureMap}, chunk ${chunkSize}, GQA, B = 2`, () => {
        const options = { ...map, causal: true, chunkSize };
        const out = linearAttention(q, k, v, options);
        expectClose(
          out.data,
          referenceLinearAttention(q, k, v, options).out,
          LINEAR_TOLERANCE,
          'chunked vs quadratic',
        );
      });
    }
  }

  // Bottom-right alignment: Lq < Lk puts the queries at the end (a prefix of keys goes straight into
  // the state); Lq > Lk leaves the first Lq − Lk rows with no key (zeros).
  for (const [qLength, kvLength] of [
    [5, 83],
    [83, 20],
    [1, 50],
  ] as const) {
    for (const chunkSize of [4, 64]) {
      it(`Lq ${qLength}, Lk ${kvLength}, chunk ${chunkSize}, kvLengths`, () => {
        const { q, k, v } = inputs(
          { q: [2, 2, qLength, 8], k: [2, 2, kvLength, 8], v: [2, 2, kvLength, 8] },
          2,
        );
        for (const map of MAPS) {
          const options = {
            ...map,
            causal: true,
            chunkSize,
            kvLengths: [kvLength, Math.floor(kvLength / 3)],
          };
          const out = linearAttention(q, k, v, options);
          const expected = referenceLinearAttention(q, k, v, options).out;
          expectClose(out.data, expected, LINEAR_TOLERANCE, `${map.featureMap} vs quadratic`);
          expect(out.data.every(Number.isFinite)).toBe(true);
        }
      });
    }
  }
});

describe('recurrent form = chunked form = quadratic form', () => {
  const total = 45;
  const shapes = { q: [2, 4, total, 10], k: [2, 2, total, 10], v: [2, 2, total, 7] };
  const pieces = [1, 5, 1, 17, 2, 19];

  function runRecurrent(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    sizes: number[],
    map: (typeof MAPS)[number],
  ): Tensor {
    const state = createLinearState({ batch: 2, qHeads: 4, kvHeads: 2, headDim: 10, valueDim: 7, ...map });
    const outputs: Tensor[] = [];
    let start = 0;
    for (const size of sizes) {
      outputs.push(
        state.step(
          sliceSequence(q, start, start + size),
          sliceSequence(k, start, start + size),
          sliceSequence(v, start, start + size),
        ),
      );
      start += size;
    }
    expect(state.length).toBe(total);
    return concatSequence(outputs);
  }

  for (const map of MAPS) {
    it(`${map.featureMap}: token by token and in uneven pieces`, () => {
      const { q, k, v } = inputs(shapes, 3);
      const options = { ...map, causal: true };
      const quadratic = referenceLinearAttention(q, k, v, options).out;
      const chunked = linearAttention(q, k, v, options);
      const oneByOne = runRecurrent(q, k, v, new Array(total).fill(1), map);
      const inPieces = runRecurrent(q, k, v, pieces, map);
      expectClose(chunked.data, quadratic, LINEAR_TOLERANCE, 'chunked vs quadratic');
      expectClose(oneByOne.data, quadratic, LINEAR_TOLERANCE, 'recurrent (1 token a step) vs quadratic');
      expectClose(inPieces.data, quadratic, LINEAR_TOLERANCE, 'recurrent (pieces) vs quadratic');
      expectClose(inPieces.data, chunked.data, LINEAR_TOLERANCE, 'recurrent vs chunked');
    });
  }

  it('favor: keys whose norms grow step after step (the running stabiliser rescales the state)', () => {
    const { q, k, v } = inputs(shapes, 4);
    // key t scaled by 1 + t/10: each step's largest exponent beats the previous one
    for (let head = 0; head < 4; head++) {
      for (let t = 0; t < total; t++) {
        for (let c = 0; c < 10; c++) k.data[(head * total + t) * 10 + c]! *= 1 + t / 10;
      }
    }
    const map = { featureMap: 'favor' as const, features: 64 };
    const quadratic = referenceLinearAttention(q, k, v, { ...map, causal: true }).out;
    expectClose(
      runRecurrent(q, k, v, pieces, map).data,
      quadratic,
      LINEAR_TOLERANCE,
      'recurrent vs quadratic',
    );
  });

  it('reset starts a new sequence', () => {
    const { q, k, v } = inputs({ q: [1, 1, 6, 4], k: [1, 1, 6, 4], v: [1, 1, 6, 4] }, 5);
    const state = createLinearState({ batch: 1, qHeads: 1, kvHeads: 1, headDim: 4, valueDim: 4 });
    const first = state.step(q, k, v);
    state.step(q, k, v);
    state.reset();
    expect(state.length).toBe(0);
    expect(Array.from(state.step(q, k, v).data)).toEqual(Array.from(first.data));
  });
});

describe('non-causal form = quadratic form, and a closed form', () => {
  it('elu: hand-computed single head', () => {
    // d = 1: φ(0) = 1, φ(1) = 2, φ(−1) = e^-1. q = [0]: weights φ(0)·φ(k_j) = [2, e^-1].
    const q = tensor([0], [1, 1, 1, 1]);
    const k = tensor([1, -1], [1, 1, 2, 1]);
    const v = tensor([3, 5], [1, 1, 2, 1]);
    const w = [2, Math.exp(-1)];
    const expected = (w[0]! * 3 + w[1]! * 5) / (w[0]! + w[1]! + 1e-6);
    expect(linearAttention(q, k, v).data[0]).toBeCloseTo(expected, 6);
    expect(referenceLinearAttention(q, k, v).out[0]).toBeCloseTo(expected, 12);
  });

  it('relu: hand-computed, and a query that sees only zero weights gives 0 (eps guard), not NaN', () => {
    // q0 = [1, −1] → φ = [1, 0]; q1 = [−1, −2] → φ = [0, 0]. k = [[2, 5], [0, 3]] → φ(k) = same.
    // q0: weights [2, 0] → out = v0. q1: den = 0, num = 0 → 0 / eps = 0.
    const q = tensor([1, -1, -1, -2], [1, 1, 2, 2]);
    const k = tensor([2, 5, 0, 3], [1, 1, 2, 2]);
    const v = tensor([7, 11], [1, 1, 2, 1]);
    const out = linearAttention(q, k, v, { featureMap: 'relu' });
    expect(out.data[0]).toBeCloseTo((2 * 7) / (2 + 1e-6), 5);
    expect(out.data[1]).toBe(0);
  });

  for (const map of MAPS) {
    it(`${map.featureMap}: Lq ≠ Lk both ways, Dv ≠ Dk, MQA, kvLengths with 0`, () => {
      for (const [qLength, kvLength] of [
        [3, 300],
        [300, 3],
      ] as const) {
        const { q, k, v } = inputs(
          { q: [3, 4, qLength, 6], k: [3, 1, kvLength, 6], v: [3, 1, kvLength, 11] },
          6,
        );
        const options = { ...map, kvLengths: [kvLength, 0, 2] };
        const out = linearAttention(q, k, v, options);
        expectClose(
          out.data,
          referenceLinearAttention(q, k, v, options).out,
          LINEAR_TOLERANCE,
          'vs quadratic',
        );
        // batch entry 1 sees no key: zeros, not NaN
        const perBatch = 4 * qLength * 11;
        expect(out.data.subarray(perBatch, 2 * perBatch).every((x) => x === 0)).toBe(true);
      }
    });
  }
});
