import { describe, expect, it } from 'vitest';
import { mergeHeads, splitHeads } from '../index.js';

describe('head split and merge', () => {
  const batch = 2;
  const length = 3;
  const heads = 4;
  const dim = 5;
  const count = batch * length * heads * dim;
  // value = its index in [B, L, H·d]: every position is distinguishable
  const rows = Float32Array.from({ length: count }, (_, i) => i);

  it('splitHeads moves [b, l, h·d + i] to [b, h, l, i]', () => {
    const split = new Float32Array(count);
    splitHeads(rows, 0, split, batch, length, heads, dim);
    for (let b = 0; b < batch; b++)
      for (let h = 0; h < heads; h++)
        for (let l = 0; l < length; l++)
          for (let i = 0; i < dim; i++) {
            expect(split[((b * heads + h) * length + l) * dim + i]).toBe(
              ((b * length + l) * heads + h) * dim + i,
            );
          }
  });

  it('mergeHeads inverts it, at an offset in a larger buffer', () => {
    const split = new Float32Array(count);
    splitHeads(rows, 0, split, batch, length, heads, dim);
    const merged = new Float32Array(count + 7).fill(-1);
    mergeHeads(split, merged, 7, batch, length, heads, dim);
    expect(Array.from(merged.subarray(0, 7))).toEqual(new Array(7).fill(-1));
    expect(merged.subarray(7)).toEqual(rows);
  });

  it('splitHeads reads from an offset', () => {
    const padded = new Float32Array(count + 3);
    padded.set(rows, 3);
    const a = new Float32Array(count);
    const b = new Float32Array(count);
    splitHeads(padded, 3, a, batch, length, heads, dim);
    splitHeads(rows, 0, b, batch, length, heads, dim);
    expect(a).toEqual(b);
  });
});
