/**
 * The float64 oracle against closed forms. Tolerances are float64-level (1e-12): every expected
 * value is computed in float64 from the same float32 inputs, so only float64 rounding separates them.
 */
import { errorStats, formatErrorStats, randn, referenceAttention, type Tensor, tensor } from '@attnkit/core';
import { describe, expect, it } from 'vitest';

const TIGHT = { atol: 1e-12, rtol: 1e-12 };

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>) {
  const stats = errorStats(actual, expected, TIGHT);
  expect(stats.failing, formatErrorStats(stats)).toBe(0);
}

/** Mean over keys [from, to) of v's rows for one kv head, in float64. */
function meanRows(v: Tensor, head: number, from: number, to: number): number[] {
  const [, , lk, dv] = v.shape as [number, number, number, number];
  const mean = new Array<number>(dv).fill(0);
  for (let j = from; j < to; j++) for (let d = 0; d < dv; d++) mean[d]! += v.data[(head * lk + j) * dv + d]!;
  return mean.map((x) => x / (to - from));
}

describe('closed forms', () => {
  it('equal scores (q = 0) give the mean of the visible values, lse = log(count)', () => {
    const q = tensor(new Float32Array(1 * 2 * 4 * 3), [1, 2, 4, 3]);
    const k = randn([1, 2, 6, 3], 1);
    const v = randn([1, 2, 6, 5], 2);
    const { out, lse } = referenceAttention(q, k, v, { causal: true });
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < 4; i++) {
        const visible = i + 6 - 4 + 1; // causal, bottom-right: keys 0..p
        const row = h * 4 + i;
        expectClose(out.subarray(row * 5, row * 5 + 5), meanRows(v, h, 0, visible));
        expect(lse[row]).toBeCloseTo(Math.log(visible), 12);
      }
    }
  });

  it('one dominant key returns that key’s value', () => {
    // k_j = e_0 · (j == 3 ? 1 : 0) and q = 1000·e_0: key 3 scores 1000/sqrt(2) above the others,
    // so its weight is 1 − 7·exp(−707) = 1 in float64.
    const k = tensor(new Float32Array(8 * 2), [1, 1, 8, 2]);
    k.data[3 * 2] = 1;
    const q = tensor([1000, 0], [1, 1, 1, 2]);
    const v = randn([1, 1, 8, 4], 3);
    const { out, lse } = referenceAttention(q, k, v);
    expectClose(out, Array.from(v.data.subarray(3 * 4, 4 * 4)));
    expect(lse[0]).toBeCloseTo(1000 / Math.sqrt(2), 9);
  });

  it('a fully masked row gives zeros and lse = −Infinity, never NaN', () => {
    const q = randn([2, 1, 3, 4], 1);
    const k = randn([2, 1, 3, 4], 2);
    const v = randn([2, 1, 3, 4], 3);
    const { out, lse } = referenceAttention(q, k, v, { kvLengths: [3, 0] });
    expect(Array.from(out.subarray(12))).toEqual(new Array(12).fill(0));
    expect(Array.from(lse.subarray(3))).toEqual([-Infinity, -Infinity, -Infinity]);
    expect(out.some(Number.isNaN)).toBe(false);
  });

  it('large logits (±1e4) stay finite: max subtraction', () => {
    const q = randn([1, 1, 5, 8], 1, 1e4);
    const k = randn([1, 1, 7, 8], 2);
    const v = randn([1, 1, 7, 3], 3);
    const { out, lse } = referenceAttention(q, k, v);
    expect(out.every(Number.isFinite)).toBe(true);
    expect(lse.every(Number.isFinite)).toBe(true);
    // Two keys with scores s and s − log 3: weights 3/4 and 1/4 whatever s is.
    const q2 = tensor([20000, 0], [1, 1, 1, 2]);
    const k2 = tensor([1, 0, 1 - Math.log(3) / 20000, 0], [1, 1, 2, 2]);
    const v2 = tensor([4, 0], [1, 1, 2, 1]);
    const result = referenceAttention(q2, k2, v2, { scale: 1 });
    const s0 = 20000;
    const s1 = 20000 * Math.fround(1 - Math.log(3) / 20000);
    const w0 = 1 / (1 + Math.exp(s1 - s0));
    expect(result.out[0]).toBeCloseTo(4 * w0, 9);
    expect(result.lse[0]).toBeCloseTo(s0 + Math.log(1 + Math.exp(s1 - s0)), 9);
  });

  it('GQA: query head h reads kv head floor(h / (Hq / Hkv))', () => {
    const q = randn([2, 6, 5, 4], 1);
    const k = randn([2, 2, 7, 4], 2);
    const v = randn([2, 2, 7, 3], 3);
    const grouped = referenceAttention(q, k, v, { causal: true });
    // Expand k and v to 6 heads by repeating each kv head 3 times, then compare with MHA.
    const expand = (t: Tensor, dim: number) => {
      const data = new Float32Array(2 * 6 * 7 * dim);
      for (let b = 0; b < 2; b++) {
        for (let h = 0; h < 6; h++) {
          const source = (b * 2 + Math.floor(h / 3)) * 7 * dim;
          data.set(t.data.subarray(source, source + 7 * dim), (b * 6 + h) * 7 * dim);
        }
      }
      return tensor(data, [2, 6, 7, dim]);
    };
    const full = referenceAttention(q, expand(k, 4), expand(v, 3), { causal: true });
    expect(grouped.out).toEqual(full.out);
    expect(grouped.lse).toEqual(full.lse);
  });

  it('softmax is shift-invariant: adding c to every score changes lse by c only', () => {
    // A constant extra feature: q gets an extra coordinate a, every k gets 1, so every score grows by scale·a.
    const q = randn([1, 1, 4, 3], 1);
    const k = randn([1, 1, 6, 3], 2);
    const v = randn([1, 1, 6, 2], 3);
    const widen = (t: Tensor, extra: number) => {
      const [, , l] = t.shape as [number, number, number, number];
      const data = new Float32Array(l * 4);
      for (let i = 0; i < l; i++) {
        data.set(t.data.subarray(i * 3, i * 3 + 3), i * 4);
        data[i * 4 + 3] = extra;
      }
      return tensor(data, [1, 1, l, 4]);
    };
    const base = referenceAttention(q, k, v, { scale: 0.5 });
    const shifted = referenceAttention(widen(q, 8), widen(k, 1), v, { scale: 0.5 });
    expectClose(shifted.out, base.out);
    expectClose(
      shifted.lse,
      Array.from(base.lse, (x) => x + 4),
    );
  });
});
