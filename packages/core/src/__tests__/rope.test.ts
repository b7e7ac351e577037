import { randn, referenceRope, rope, type Tensor } from '@attnkit/core';
import { expectWithin, thrownInputError } from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';

const dot = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, d: number) => {
  let s = 0;
  for (let c = 0; c < d; c++) s += a[i * d + c]! * b[j * d + c]!;
  return s;
};

describe('rope', () => {
  const x = randn([2, 3, 7, 8], 4);

  it('is rounded once from the float64 rotation (within half a float32 ulp)', () => {
    for (const style of ['neox', 'interleaved'] as const) {
      const got = rope(x, { style });
      const want = referenceRope(x, { style });
      for (let i = 0; i < want.length; i++) expect(got.data[i]).toBe(Math.fround(want[i]!));
    }
  });

  it('position 0 is the identity; a pair at position p turns by p · θ_i (closed form, D = 2)', () => {
    const t: Tensor = { data: Float32Array.from([1, 0, 1, 0, 0.5, 2]), shape: [1, 1, 3, 2] };
    const r = referenceRope(t, { positions: [0, 1, 3], base: 100 });
    expect(Array.from(r.subarray(0, 2))).toEqual([1, 0]);
    expect(r[2]).toBeCloseTo(Math.cos(1), 15);
    expect(r[3]).toBeCloseTo(Math.sin(1), 15);
    expect(r[4]).toBeCloseTo(0.5 * Math.cos(3) - 2 * Math.sin(3), 15);
    expect(r[5]).toBeCloseTo(0.5 * Math.sin(3) + 2 * Math.cos(3), 15);
  });

  it('keeps every row’s norm, and q_m · k_n depends only on m − n', () => {
    const q = randn([1, 1, 1, 16], 5);
    const k = randn([1, 1, 1, 16], 6);
    const scores: number[] = [];
    for (const [m, n] of [
      [3, 1],
      [10, 8],
      [102, 100],
    ]) {
      const rq = referenceRope(q, { positions: [m!] });
      const rk = referenceRope(k, { positions: [n!] });
      scores.push(dot(rq, 0, rk, 0, 16));
      expect(dot(rq, 0, rq, 0, 16)).toBeCloseTo(dot(q.data, 0, q.data, 0, 16), 10);
    }
    expect(scores[1]).toBeCloseTo(scores[0]!, 10);
    expect(scores[2]).toBeCloseTo(scores[0]!, 10);
  });

  it('interleaved is neox on features laid out pair by pair', () => {
    // neox pairs (i, i + 4); interleaved pairs (2i, 2i + 1): permuting features maps one onto the other
    const perm = [0, 4, 1, 5, 2, 6, 3, 7];
    const laid: Tensor = { data: new Float32Array(x.data.length), shape: x.shape };
    for (let row = 0; row < x.data.length / 8; row++)
      for (let c = 0; c < 8; c++) laid.data[row * 8 + c] = x.data[row * 8 + perm[c]!]!;
    const neox = referenceRope(x);
    const inter = referenceRope(laid, { style: 'interleaved' });
    for (let row = 0; row < x.data.length / 8; row++)
      for (let c = 0; c < 8; c++) expect(inter[row * 8 + c]).toBeCloseTo(neox[row * 8 + perm[c]!]!, 12);
  });

  it('rotaryDim leaves the other features alone; per-batch positions; in place', () => {
    const r = rope(x, { rotaryDim: 4 });
    for (let row = 0; row < x.data.length / 8; row++)
      for (let c = 4; c < 8; c++) expect(r.data[row * 8 + c]).toBe(x.data[row * 8 + c]);
    const positions = Int32Array.from({ length: 14 }, (_, i) => 100 + i); // B·L
    const perBatch = rope(x, { positions });
    const second = rope(
      { data: x.data.subarray(3 * 7 * 8), shape: [1, 3, 7, 8] },
      { positions: positions.subarray(7) },
    );
    expectWithin(perBatch.data.subarray(3 * 7 * 8), second.data, { atol: 0, rtol: 0 }, 'batch 1');
    const copy = { data: Float32Array.from(x.data), shape: x.shape };
    expect(rope(copy, { out: copy })).toBe(copy);
    expect(Array.from(copy.data)).toEqual(Array.from(rope(x).data));
  });

  it('refuses bad options, naming them', () => {
    expect(thrownInputError(() => rope(x, { rotaryDim: 3 })).argument).toBe('options.rotaryDim');
    expect(thrownInputError(() => rope(x, { positions: [1, 2] })).argument).toBe('options.positions');
    expect(thrownInputError(() => rope(x, { stlye: 'neox' } as never)).argument).toBe('options.stlye');
    expect(thrownInputError(() => rope(x, { base: 1 })).argument).toBe('options.base');
  });
});
