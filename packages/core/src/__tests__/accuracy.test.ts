/** errorStats / formatErrorStats and the naive float32 baseline. */
import {
  errorStats,
  formatErrorStats,
  naiveFloat32Attention,
  randn,
  referenceAttention,
} from '@attnkit/core';
import { describe, expect, it } from 'vitest';

describe('errorStats', () => {
  it('finds the worst element and counts failures against atol + rtol·|e|', () => {
    const stats = errorStats([1, 2.5, 3, -4], [1, 2, 3.01, -4.2], { atol: 0.05, rtol: 0.01 });
    expect(stats.count).toBe(4);
    expect(stats.worstIndex).toBe(1);
    expect(stats.worstActual).toBe(2.5);
    expect(stats.worstExpected).toBe(2);
    expect(stats.maxAbs).toBeCloseTo(0.5, 12);
    expect(stats.maxRel).toBeCloseTo(0.25, 12);
    // 0.5 > 0.05 + 0.02 fails; 0.01 passes; 0.2 > 0.05 + 0.042 fails.
    expect(stats.failing).toBe(2);
    expect(formatErrorStats(stats)).toMatch(/^2 of 4 failing; worst at 1: got 2.5, expected 2 \(abs 0.5/);
  });

  it('equal infinities are exact, NaN always fails', () => {
    const stats = errorStats([Number.NEGATIVE_INFINITY, Number.NaN, 0], [Number.NEGATIVE_INFINITY, 1, 0]);
    expect(stats.failing).toBe(1);
    expect(stats.worstIndex).toBe(1);
    expect(stats.maxAbs).toBe(Number.POSITIVE_INFINITY);
    expect(errorStats([Number.NEGATIVE_INFINITY], [0]).failing).toBe(1);
  });

  it('refuses arrays of different lengths', () => {
    expect(() => errorStats([1], [1, 2])).toThrow(/expected 2 values/);
  });
});

describe('naiveFloat32Attention', () => {
  it('is float32-close to the oracle, with every option', () => {
    const q = randn([2, 4, 33, 16], 1);
    const k = randn([2, 2, 40, 16], 2);
    const v = randn([2, 2, 40, 8], 3);
    for (const options of [
      {},
      { causal: true },
      { window: [3, 2] as const, kvLengths: [40, 0] },
      { scale: -0.2 },
    ]) {
      const ref = referenceAttention(q, k, v, options);
      // Sequential float32 sums over <= 40 keys of terms <= ~4: well under 1e-5.
      const stats = errorStats(naiveFloat32Attention(q, k, v, options), ref.out, { atol: 1e-5, rtol: 0 });
      expect(stats.failing, formatErrorStats(stats)).toBe(0);
      // It really is float32 arithmetic: not bit-equal to the rounded float64 result.
      expect(stats.maxAbs).toBeGreaterThan(0);
    }
  });

  it('writes zeros for rows that see no key', () => {
    const q = randn([1, 1, 6, 4], 1);
    const k = randn([1, 1, 3, 4], 2);
    const out = naiveFloat32Attention(q, k, k, { causal: true });
    expect(Array.from(out.subarray(0, 12))).toEqual(new Array(12).fill(0)); // rows 0–2: p < 0
  });
});
