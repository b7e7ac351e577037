/**
 * floatToHalf (the paged cache's float16 append) against the definition: every finite half round
 * trips, a value halfway between two neighbours goes to the one with an even mantissa, a value just
 * off the midpoint to the nearer one, overflow to ±Infinity; and the int8 row rule.
 */
import { describe, expect, it } from 'vitest';
import { halfToFloat } from '../engine/js-ops.js';
import { floatToHalf, storeInt8Row } from '../runtime/compact-kv.js';

describe('floatToHalf', () => {
  it('round-trips every half and rounds midpoints to even, off-midpoints to nearest (subnormals included)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h);
      if (Number.isNaN(x)) {
        expect(Number.isNaN(halfToFloat(floatToHalf(x)))).toBe(true);
        continue;
      }
      expect(floatToHalf(x)).toBe(h);
      const next = h + 1;
      if ((h & 0x7fff) >= 0x7bff) continue; // the largest finite half and beyond
      const y = halfToFloat(next);
      const mid = (x + y) / 2; // exact in float32 (one more bit than a half)
      expect(Math.fround(mid)).toBe(mid);
      expect(floatToHalf(mid)).toBe((h & 1) === 0 ? h : next);
      const gap = Math.abs(y - x);
      expect(floatToHalf(Math.fround(mid + (Math.sign(y - x) * gap) / 16))).toBe(next);
      expect(floatToHalf(Math.fround(mid - (Math.sign(y - x) * gap) / 16))).toBe(h);
    }
    expect(floatToHalf(65520)).toBe(0x7c00); // halfway past 65504 rounds to even: Infinity
    expect(floatToHalf(65519)).toBe(0x7bff);
    expect(floatToHalf(-1e9)).toBe(0xfc00);
    expect(floatToHalf(2 ** -26)).toBe(0); // below half the smallest subnormal
  });

  it('int8 rows: scale = max|x| / 127, q = round(x / scale) half away from zero, a zero row has scale 0', () => {
    const target = new Int8Array(4);
    const x = new Float32Array([0.5, -1.27, 0.005, 0.015]);
    const scale = storeInt8Row(x, 0, 4, target, 0);
    expect(scale).toBe(Math.fround(1.27 / 127));
    expect(Array.from(target)).toEqual([50, -127, 1, 2]);
    expect(storeInt8Row(new Float32Array(4), 0, 4, target, 0)).toBe(0);
    expect(Array.from(target)).toEqual([0, 0, 0, 0]);
  });
});
