import { naiveFloat32Attention, randn, referenceAttention } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { measureAccuracy, prepareOracle, TWO_X_RULE_FLOOR_ULPS } from '../accuracy.js';
import { lastRows, lastRowsTensor, makeInputs } from '../inputs.js';
import type { CaseShape, MaskSpec } from '../suite.js';

const shape: CaseShape = {
  batch: 2,
  qHeads: 4,
  kvHeads: 2,
  qLength: 40,
  kvLength: 40,
  headDim: 8,
  valueDim: 6,
};
const outShape = [shape.batch, shape.qHeads, shape.qLength, shape.valueDim];

describe('checking the last rows against the oracle', () => {
  it.each<[string, MaskSpec]>([
    ['full', { causal: false }],
    ['causal', { causal: true }],
    ['causal window', { causal: true, window: [5, 0] }],
    ['symmetric window', { causal: false, window: [3, 3] }],
  ])('a slice of the last rows keeps its mask exactly (%s)', (_name, mask) => {
    const { q, k, v } = makeInputs(shape, 5);
    const options = mask.causal
      ? { causal: true, ...(mask.window ? { window: mask.window as [number, number] } : {}) }
      : mask.window
        ? { window: mask.window as [number, number] }
        : {};
    const full = referenceAttention(q, k, v, options).out;
    const slice = referenceAttention(lastRowsTensor(q, 7), k, v, options).out;
    // Same float64 loops over the same visible keys: bit-identical, not merely close.
    expect(Array.from(slice)).toEqual(Array.from(lastRows(full, outShape, 7, 'float64')));
  });

  it('passes the float32-rounded oracle and the naive loop itself under the 2× rule', () => {
    const inputs = makeInputs(shape, 9);
    const oracle = prepareOracle(inputs, { causal: true }, 8);
    const full = referenceAttention(inputs.q, inputs.k, inputs.v, { causal: true }).out;
    const rounded = measureAccuracy(Float32Array.from(full), outShape, oracle, 'exact');
    expect(rounded.rule).toMatchObject({ name: '2x-naive-float32', pass: true });
    const naive = measureAccuracy(
      naiveFloat32Attention(inputs.q, inputs.k, inputs.v, { causal: true }),
      outShape,
      oracle,
      'exact',
    );
    expect(naive.rule).toMatchObject({ pass: true });
    expect(naive.vsOracle.maxAbs).toBe(oracle.naive.maxAbs);
  });

  it('fails an output perturbed beyond 2× the naive error (and reports where)', () => {
    const inputs = makeInputs(shape, 9);
    const oracle = prepareOracle(inputs, { causal: false }, 8);
    const out = Float32Array.from(referenceAttention(inputs.q, inputs.k, inputs.v).out);
    const index = (shape.qLength - 1) * shape.valueDim + 2; // last row of head 0: inside the checked slice
    const bump = 3 * oracle.naiveMaxAbs + 10 * TWO_X_RULE_FLOOR_ULPS * oracle.referenceMaxAbs;
    out[index] = (out[index] ?? 0) + bump;
    const accuracy = measureAccuracy(out, outShape, oracle, 'exact');
    expect(accuracy.rule).toMatchObject({ name: '2x-naive-float32', pass: false });
    expect(accuracy.vsOracle.maxAbs).toBeGreaterThan(2 * oracle.naiveMaxAbs);
  });

  it('fails NaN and reports no pass/fail for approximate variants', () => {
    const inputs = makeInputs(shape, 3);
    const oracle = prepareOracle(inputs, { causal: false }, 4);
    const nan = new Float32Array(shape.batch * shape.qHeads * shape.qLength * shape.valueDim).fill(
      Number.NaN,
    );
    expect(measureAccuracy(nan, outShape, oracle, 'exact').rule).toMatchObject({ pass: false });
    expect(measureAccuracy(nan, outShape, oracle, 'approximate').rule).toEqual({ name: 'approximate' });
  });

  it('builds identical inputs for the same seed (what child processes rely on)', () => {
    const a = makeInputs(shape, 42);
    const b = makeInputs(shape, 42);
    expect(a.q.data).toEqual(b.q.data);
    expect(a.v.data).toEqual(b.v.data);
    expect(a.q.data).not.toEqual(makeInputs(shape, 43).q.data);
    expect(randn([3], 1).data).toEqual(randn([3], 1).data);
  });
});
