import { randn, referenceAttention } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { keySlice, lseMergeDemo, mergePartials } from '../lse-merge.js';

// Float64 throughout: merging reassociates a handful of exp/log operations, so agreement to
// ~1e-15 relative is expected; 1e-12 absolute on O(1) outputs leaves room and still catches any
// wrong weighting (which would be O(1e-2) or worse).
const TOLERANCE = 1e-12;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

describe('log-sum-exp merge (flash between key blocks, ring attention between devices)', () => {
  it('merging the oracle on two key halves equals the oracle on all keys', () => {
    const q = randn([2, 3, 20, 8], 1);
    const k = randn([2, 3, 33, 8], 2);
    const v = randn([2, 3, 33, 5], 3);
    const full = referenceAttention(q, k, v);
    const left = referenceAttention(q, keySlice(k, 0, 16), keySlice(v, 0, 16));
    const right = referenceAttention(q, keySlice(k, 16, 33), keySlice(v, 16, 33));
    const merged = mergePartials(left, right, 5);
    expect(maxAbsDiff(merged.out, full.out)).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(merged.lse, full.lse)).toBeLessThan(TOLERANCE);
    // Merging is symmetric: the order partials arrive in does not matter.
    expect(maxAbsDiff(mergePartials(right, left, 5).out, full.out)).toBeLessThan(TOLERANCE);
  });

  it('holds around a ring of 2, 4 and 8 devices', () => {
    for (const parts of [2, 4, 8]) {
      const demo = lseMergeDemo(parts);
      expect(demo.maxAbsOut, `${parts} parts`).toBeLessThan(TOLERANCE);
      expect(demo.maxAbsLse, `${parts} parts`).toBeLessThan(TOLERANCE);
      expect(demo.maxAbsReference).toBeGreaterThan(0.1);
    }
  });

  it('a part whose row sees no key (lse = −∞) contributes nothing; two empty parts give zeros, never NaN', () => {
    const some = { out: Float64Array.from([0.25, -1]), lse: Float64Array.from([1.5]) };
    const none = { out: new Float64Array(2), lse: Float64Array.from([Number.NEGATIVE_INFINITY]) };
    expect(Array.from(mergePartials(some, none, 2).out)).toEqual([0.25, -1]);
    expect(mergePartials(none, some, 2).lse[0]).toBe(1.5);
    const empty = mergePartials(none, none, 2);
    expect(Array.from(empty.out)).toEqual([0, 0]);
    expect(empty.lse[0]).toBe(Number.NEGATIVE_INFINITY);
  });

  it('a wrong weighting is visible (the test can fail)', () => {
    const q = randn([1, 1, 6, 4], 4);
    const k = randn([1, 1, 12, 4], 5);
    const v = randn([1, 1, 12, 4], 6);
    const full = referenceAttention(q, k, v);
    const a = referenceAttention(q, keySlice(k, 0, 6), keySlice(v, 0, 6));
    const b = referenceAttention(q, keySlice(k, 6, 12), keySlice(v, 6, 12));
    const naiveAverage = a.out.map((value, i) => (value + (b.out[i] ?? 0)) / 2);
    expect(maxAbsDiff(naiveAverage, full.out)).toBeGreaterThan(1e-3);
  });
});
