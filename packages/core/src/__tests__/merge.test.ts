import { mergeAttention, randn, referenceAttention, type Tensor } from '@attnkit/core';
import { expectWithin, thrownInputError } from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';

/** Keys [start, end) of a [B, H, L, D] tensor. */
function keys(t: Tensor, start: number, end: number): Tensor {
  const [b, h, l, d] = t.shape as [number, number, number, number];
  const data = new Float32Array(b * h * (end - start) * d);
  for (let bh = 0; bh < b * h; bh++) {
    data.set(t.data.subarray((bh * l + start) * d, (bh * l + end) * d), bh * (end - start) * d);
  }
  return { data, shape: [b, h, end - start, d] };
}

/** The oracle over keys [start, end), rounded to float32 as a variant would return it. */
function part(q: Tensor, k: Tensor, v: Tensor, start: number, end: number) {
  const r = referenceAttention(q, keys(k, start, end), keys(v, start, end));
  return {
    out: { data: Float32Array.from(r.out), shape: [...q.shape.slice(0, 3), v.shape[3]!] },
    lse: Float32Array.from(r.lse),
  };
}

describe('mergeAttention', () => {
  const q = randn([2, 3, 5, 8], 1);
  const k = randn([2, 3, 24, 8], 2);
  const v = randn([2, 3, 24, 6], 3);
  const full = referenceAttention(q, k, v);

  it('merging the results over disjoint key blocks gives the result over all keys', () => {
    for (const cuts of [
      [0, 24],
      [0, 7, 24],
      [0, 1, 2, 13, 24],
      [0, 5, 10, 15, 20, 24],
    ]) {
      const parts = cuts.slice(1).map((end, i) => part(q, k, v, cuts[i]!, end));
      const merged = mergeAttention(parts);
      // inputs are float32-rounded partials: a few float32 ulps of O(1) values
      expectWithin(merged.out.data, full.out, { atol: 1e-6, rtol: 1e-6 }, `out, cuts ${cuts}`);
      expectWithin(merged.lse, full.lse, { atol: 2e-6, rtol: 1e-6 }, `lse, cuts ${cuts}`);
    }
  });

  it('a part that sees no key (lse −∞) contributes nothing, whatever its out holds', () => {
    const a = part(q, k, v, 0, 24);
    const empty = {
      out: { data: new Float32Array(a.out.data.length).fill(Number.NaN), shape: a.out.shape },
      lse: new Float32Array(a.lse.length).fill(Number.NEGATIVE_INFINITY),
    };
    const merged = mergeAttention([empty, a, empty]);
    expect(Array.from(merged.out.data)).toEqual(Array.from(a.out.data));
    expect(Array.from(merged.lse)).toEqual(Array.from(a.lse));
  });

  it('rows no part saw stay zeros with lse −∞; a NaN lse propagates to its row', () => {
    const shape = [1, 1, 2, 3];
    const parts = [
      {
        out: { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape },
        lse: Float32Array.from([Number.NEGATIVE_INFINITY, Number.NaN]),
      },
      {
        out: { data: Float32Array.from([7, 8, 9, 1, 1, 1]), shape },
        lse: Float32Array.from([Number.NEGATIVE_INFINITY, 0]),
      },
    ];
    const merged = mergeAttention(parts);
    expect(Array.from(merged.out.data.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(merged.lse[0]).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(merged.lse[1])).toBe(true);
    expect(Array.from(merged.out.data.subarray(3)).every(Number.isNaN)).toBe(true);
  });

  it('two parts of equal mass average their outputs (closed form), lse = lse + log 2', () => {
    const shape = [1, 1, 1, 2];
    const merged = mergeAttention([
      { out: { data: Float32Array.from([1, 3]), shape }, lse: Float32Array.from([5]) },
      { out: { data: Float32Array.from([3, -1]), shape }, lse: Float32Array.from([5]) },
    ]);
    expect(Array.from(merged.out.data)).toEqual([2, 1]);
    expect(merged.lse[0]).toBeCloseTo(5 + Math.LN2, 6);
  });

  it('writes into options.out / options.lse, which may be a part’s own arrays', () => {
    const a = part(q, k, v, 0, 10);
    const b = part(q, k, v, 10, 24);
    const expected = mergeAttention([a, b]);
    const merged = mergeAttention([a, b], { out: a.out, lse: a.lse });
    expect(merged.out).toBe(a.out);
    expect(Array.from(a.out.data)).toEqual(Array.from(expected.out.data));
    expect(Array.from(a.lse)).toEqual(Array.from(expected.lse));
  });

  it('refuses what it cannot merge, naming the argument', () => {
    const a = part(q, k, v, 0, 10);
    expect(thrownInputError(() => mergeAttention([])).argument).toBe('parts');
    expect(
      thrownInputError(() => mergeAttention([a, { out: a.out, lse: new Float32Array(3) }])).argument,
    ).toBe('parts[1].lse');
    expect(
      thrownInputError(() =>
        mergeAttention([a, { out: { data: new Float32Array(6), shape: [1, 1, 1, 6] }, lse: a.lse }]),
      ).argument,
    ).toBe('parts[1].out');
    expect(thrownInputError(() => mergeAttention([a], { outt: a.out } as never)).argument).toBe(
      'options.outt',
    );
  });
});
