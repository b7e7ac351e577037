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

/**
 * docs/design.md "Limits and non-finite values", as the float64 oracle applies them: NaN among a
 * row's visible scores makes the row NaN (out and lse); a score that overflows float64 saturates
 * to ±Number.MAX_VALUE instead of reading as "masked" (−∞) or giving NaN (∞ − ∞), and tied
 * saturated scores share the weight; only a row without visible keys gives zeros and lse = −∞.
 */
describe('limits and non-finite values', () => {
  const v3 = () => tensor([1, -2, 4, 8, -16, 32], [1, 1, 3, 2]);
  const mean = (v: Tensor, keys: number[]) =>
    [0, 1].map((c) => keys.reduce((sum, j) => sum + v.data[j * 2 + c]!, 0) / keys.length);

  it('NaN in a query row gives that row NaN out and lse; the other rows are untouched', () => {
    const k = randn([1, 1, 4, 3], 2);
    const v = randn([1, 1, 4, 2], 3);
    const q = randn([1, 1, 3, 3], 1);
    const clean = referenceAttention(q, k, v);
    q.data[1 * 3 + 2] = Number.NaN;
    const { out, lse } = referenceAttention(q, k, v);
    expect(Array.from(out.subarray(2, 4)).every(Number.isNaN)).toBe(true);
    expect(lse[1]).toBeNaN();
    for (const row of [0, 2]) {
      expect(Array.from(out.subarray(row * 2, row * 2 + 2))).toEqual(
        Array.from(clean.out.subarray(row * 2, row * 2 + 2)),
      );
      expect(lse[row]).toBe(clean.lse[row]);
    }
  });

  it('NaN in the only visible key gives NaN; NaN in a hidden key is ignored', () => {
    const q = tensor([1, 0, 0, 1], [1, 1, 2, 2]);
    const k = tensor([Number.NaN, 1, 2, 0, 3, 3], [1, 1, 3, 2]);
    const only = referenceAttention(q, k, v3(), { kvLengths: [1] });
    expect(Array.from(only.out).every(Number.isNaN)).toBe(true);
    expect(Array.from(only.lse).every(Number.isNaN)).toBe(true);
    // key 2 hidden by kvLengths = 2: its NaN never enters
    const hiddenK = tensor([1, 2, -1, 0.5, Number.NaN, Number.NaN], [1, 1, 3, 2]);
    const zeroK = tensor([1, 2, -1, 0.5, 0, 0], [1, 1, 3, 2]);
    const hidden = referenceAttention(q, hiddenK, v3(), { kvLengths: [2] });
    const expected = referenceAttention(q, zeroK, v3(), { kvLengths: [2] });
    expect(Array.from(hidden.out)).toEqual(Array.from(expected.out));
    expect(Array.from(hidden.lse)).toEqual(Array.from(expected.lse));
  });

  it('float64 overflow is not masking: scores below −MAX_VALUE saturate and tie (mean, lse = −MAX_VALUE)', () => {
    // scale·q·k = 1e300 · (−1e40·{1, 2, 3}) = −1e340·{1, 2, 3}: −∞ in float64 without saturation
    const q = tensor([1e20, 0], [1, 1, 1, 2]);
    const k = tensor([-1e20, 0, -2e20, 0, -3e20, 0], [1, 1, 3, 2]);
    const { out, lse } = referenceAttention(q, k, v3(), { scale: 1e300 });
    expectClose(out, mean(v3(), [0, 1, 2]));
    expect(lse[0]).toBe(-Number.MAX_VALUE);
  });

  it('float64 overflow above MAX_VALUE saturates instead of giving NaN (∞ − ∞)', () => {
    const q = tensor([1e20, 0], [1, 1, 1, 2]);
    const k = tensor([1e20, 0, 2e20, 0, 3e20, 0], [1, 1, 3, 2]);
    const { out, lse } = referenceAttention(q, k, v3(), { scale: 1e300 });
    expectClose(out, mean(v3(), [0, 1, 2]));
    expect(lse[0]).toBe(Number.MAX_VALUE);
  });

  it('scores beyond float32 range stay exact in float64 (where the float32 engine saturates and ties)', () => {
    // q = [1e20, 0] against keys −1e20·{1, 2, 3}, Dk = 2: the float32 engine gives the mean of the
    // three values and lse = −FLT_MAX; float64 still separates the scores: key 0 wins outright.
    const q = tensor([1e20, 0], [1, 1, 1, 2]);
    const k = tensor([-1e20, 0, -2e20, 0, -3e20, 0], [1, 1, 3, 2]);
    const { out, lse } = referenceAttention(q, k, v3());
    expectClose(out, [1, -2]);
    const s0 = (Math.fround(1e20) * Math.fround(-1e20)) / Math.sqrt(2);
    expect(lse[0]! / s0).toBeCloseTo(1, 12); // −7.07e39
  });
});
