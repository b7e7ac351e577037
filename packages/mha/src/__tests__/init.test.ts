import { createRng } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { initMultiHeadWeights, xavierNormal, xavierUniform } from '../index.js';

function moments(data: Float32Array): { mean: number; variance: number; maxAbs: number } {
  let sum = 0;
  let maxAbs = 0;
  for (const v of data) {
    sum += v;
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  const mean = sum / data.length;
  let squares = 0;
  for (const v of data) squares += (v - mean) ** 2;
  return { mean, variance: squares / data.length, maxAbs };
}

describe('Xavier/Glorot initialisation', () => {
  const fanIn = 256;
  const fanOut = 256;
  const n = fanIn * fanOut;

  it('uniform: inside ±√(6/(fanIn+fanOut)), variance a²/3', () => {
    const bound = Math.sqrt(6 / (fanIn + fanOut));
    const { mean, variance, maxAbs } = moments(xavierUniform([fanIn, fanOut], 3).data);
    expect(maxAbs).toBeLessThanOrEqual(bound);
    expect(maxAbs).toBeGreaterThan(0.99 * bound); // the draws fill the interval
    // Standard errors for n = 65536 draws of U(-a, a): mean a/√(3n); variance √(4/45)·a²/√n, i.e. 0.36%
    // of a²/3. Five standard errors: a test that fails only if the distribution is wrong.
    expect(Math.abs(mean)).toBeLessThan((5 * bound) / Math.sqrt(3 * n));
    expect(Math.abs(variance / ((bound * bound) / 3) - 1)).toBeLessThan(5 * 0.0036);
  });

  it('normal: N(0, 2/(fanIn+fanOut))', () => {
    const std = Math.sqrt(2 / (fanIn + fanOut));
    const { mean, variance } = moments(xavierNormal([fanIn, fanOut], 4).data);
    // standard errors: mean σ/√n; variance √2·σ²/√n (0.55% of σ²); five of each
    expect(Math.abs(mean)).toBeLessThan((5 * std) / Math.sqrt(n));
    expect(Math.abs(variance / (std * std) - 1)).toBeLessThan(5 * 0.0056);
  });

  it('gain scales the distribution', () => {
    const plain = xavierUniform([8, 8], 5).data;
    const scaled = xavierUniform([8, 8], 5, 2).data;
    for (let i = 0; i < plain.length; i++) expect(scaled[i]).toBeCloseTo(2 * plain[i]!, 6);
  });

  it('a seed or an rng continues the same stream', () => {
    const fromSeed = xavierUniform([4, 6], 9).data;
    const fromRng = xavierUniform([4, 6], createRng(9)).data;
    expect(fromRng).toEqual(fromSeed);
  });
});

describe('initMultiHeadWeights', () => {
  it('shapes for multi-head, GQA and MQA, with dv != dk', () => {
    for (const kvHeads of [8, 2, 1]) {
      const w = initMultiHeadWeights({ dModel: 64, heads: 8, kvHeads, headDim: 8, valueDim: 4, seed: 1 });
      expect(w.wq.shape).toEqual([64, 64]);
      expect(w.wk.shape).toEqual([64, kvHeads * 8]);
      expect(w.wv.shape).toEqual([64, kvHeads * 4]);
      expect(w.wo.shape).toEqual([32, 64]);
      expect(w.bq).toBeUndefined();
    }
  });

  it('is reproducible: the same seed gives the same bits, another seed other weights', () => {
    const options = {
      dModel: 32,
      heads: 4,
      kvHeads: 2,
      headDim: 8,
      bias: true,
      biasInit: 'uniform' as const,
    };
    const a = initMultiHeadWeights({ ...options, seed: 11 });
    const b = initMultiHeadWeights({ ...options, seed: 11 });
    const c = initMultiHeadWeights({ ...options, seed: 12 });
    for (const key of ['wq', 'wk', 'wv', 'wo', 'bq', 'bk', 'bv', 'bo'] as const) {
      expect(a[key]!.data).toEqual(b[key]!.data);
      expect(a[key]!.data).not.toEqual(c[key]!.data);
    }
  });

  it('each projection has its own Xavier bound (fan-in and fan-out of that matrix)', () => {
    const w = initMultiHeadWeights({ dModel: 96, heads: 8, kvHeads: 1, headDim: 16, seed: 2 });
    const bound = (fanIn: number, fanOut: number) => Math.sqrt(6 / (fanIn + fanOut));
    expect(moments(w.wk.data).maxAbs).toBeLessThanOrEqual(bound(96, 16));
    expect(moments(w.wk.data).maxAbs).toBeGreaterThan(0.9 * bound(96, 16));
    expect(moments(w.wq.data).maxAbs).toBeLessThanOrEqual(bound(96, 128));
    expect(moments(w.wo.data).maxAbs).toBeLessThanOrEqual(bound(128, 96));
  });

  it('biases: zeros by default (as nn.MultiheadAttention), U(±1/√fanIn) on request (as nn.Linear)', () => {
    const zeros = initMultiHeadWeights({ dModel: 64, heads: 4, headDim: 16, bias: true, seed: 3 });
    expect(zeros.bq!.shape).toEqual([64]);
    expect(zeros.bo!.data.every((v) => v === 0)).toBe(true);
    const uniform = initMultiHeadWeights({
      dModel: 64,
      heads: 4,
      headDim: 16,
      bias: true,
      biasInit: 'uniform',
      seed: 3,
    });
    const { maxAbs } = moments(uniform.bk!.data);
    expect(maxAbs).toBeLessThanOrEqual(1 / 8);
    expect(maxAbs).toBeGreaterThan(0);
    // the weights do not depend on whether biases are drawn after them
    expect(uniform.wq.data).toEqual(zeros.wq.data);
  });
});
