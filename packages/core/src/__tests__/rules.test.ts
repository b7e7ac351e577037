/** The kit's acceptance rules as exported by @attnkit/core/testing (docs/design.md, Accuracy), on closed-form values. */
import {
  defaultLseTolerance,
  firstBitDifference,
  maxAbsFinite,
  TWO_X_RULE_FLOOR_ULPS,
  twoXRule,
} from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';

describe('the 2× rule', () => {
  it('is twice the naive error plus 8 float32 ulps of the largest finite |ref|', () => {
    const reference = new Float64Array([1, -2.5, 0, Number.NEGATIVE_INFINITY]);
    const naive = new Float32Array([1, -2, 0, Number.NEGATIVE_INFINITY]);
    const rule = twoXRule(naive, reference);
    expect(rule.naiveMaxAbs).toBe(0.5);
    expect(rule.bound).toBe(1 + 8 * 2 ** -24 * 2.5);
    expect(TWO_X_RULE_FLOOR_ULPS).toBe(2 ** -21);
  });

  it('keeps only the floor where the naive path is exact', () => {
    expect(twoXRule([3, 4], [3, 4]).bound).toBe(8 * 2 ** -24 * 4);
  });

  it('has an infinite bound where the naive path gives NaN (no finite yardstick)', () => {
    expect(twoXRule([Number.NaN], [1]).bound).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('helpers', () => {
  it('maxAbsFinite skips NaN and infinities', () => {
    expect(maxAbsFinite([Number.NaN, -3, Number.POSITIVE_INFINITY, 2])).toBe(3);
    expect(maxAbsFinite([])).toBe(0);
  });

  it('defaultLseTolerance keeps atol and raises rtol to 2^-20', () => {
    expect(defaultLseTolerance({ atol: 1e-5, rtol: 0 })).toEqual({ atol: 1e-5, rtol: 2 ** -20 });
    expect(defaultLseTolerance({ atol: 1e-4, rtol: 1e-4 })).toEqual({ atol: 1e-4, rtol: 1e-4 });
  });

  it('firstBitDifference tells 0 from −0, and equal arrays give −1', () => {
    expect(firstBitDifference(new Float32Array([1, 0]), new Float32Array([1, -0]))).toBe(1);
    expect(firstBitDifference(new Float32Array([1, 2]), new Float32Array([1, 2]))).toBe(-1);
    expect(firstBitDifference(new Float32Array(2), new Float32Array(3))).toBe(0);
  });

  it('firstBitDifference reads views at their own offset', () => {
    const buffer = new Float32Array([9, 1, 2]);
    expect(firstBitDifference(buffer.subarray(1), new Float32Array([1, 2]))).toBe(-1);
  });
});
