/**
 * The naive float32 path is what a plain float32 loop gives (naive.ts): its only rule beyond IEEE
 * arithmetic is "a row without visible keys gives zeros". It does not apply the engine's limit
 * rules (docs/design.md "Limits and non-finite values"): overflow gives NaN here where the engine
 * saturates. Expected values are closed forms.
 */
import { naiveFloat32Attention, randn, referenceAttention, tensor } from '@attnkit/core';
import { describe, expect, it } from 'vitest';

const v3 = () => tensor([1, -2, 4, 8, -16, 32], [1, 1, 3, 2]);

describe('naiveFloat32Attention on non-finite values', () => {
  it('ordinary inputs: within float32 rounding of the oracle', () => {
    const q = randn([1, 2, 5, 4], 1);
    const k = randn([1, 2, 7, 4], 2);
    const v = randn([1, 2, 7, 3], 3);
    const naive = naiveFloat32Attention(q, k, v, { causal: true });
    const { out } = referenceAttention(q, k, v, { causal: true });
    for (let i = 0; i < out.length; i++) expect(Math.abs(naive[i]! - out[i]!)).toBeLessThan(1e-5);
  });

  it('NaN in a query row gives that row NaN (also when every visible score is NaN)', () => {
    const q = tensor([0.5, -1, Number.NaN, 0, 2, 1], [1, 1, 3, 2]);
    const k = tensor([1, 0, 0, 1, -1, 1], [1, 1, 3, 2]);
    const out = naiveFloat32Attention(q, k, v3());
    expect(Array.from(out.subarray(2, 4)).every(Number.isNaN)).toBe(true);
    expect(Array.from(out.subarray(0, 2)).some(Number.isNaN)).toBe(false);
    expect(Array.from(out.subarray(4, 6)).some(Number.isNaN)).toBe(false);
  });

  it('scores that overflow to −∞ in float32 give NaN (−∞ − (−∞)), not the empty row’s zeros', () => {
    // q = [1e20, 0], keys −1e20·{1, 2, 3}: every visible score is −∞ in float32
    const q = tensor([1e20, 0], [1, 1, 1, 2]);
    const k = tensor([-1e20, 0, -2e20, 0, -3e20, 0], [1, 1, 3, 2]);
    expect(Array.from(naiveFloat32Attention(q, k, v3())).every(Number.isNaN)).toBe(true);
  });

  it('scores that overflow to +∞ give NaN (+∞ − +∞)', () => {
    const q = tensor([1e20, 0], [1, 1, 1, 2]);
    const k = tensor([1e20, 0, 2e20, 0, 3e20, 0], [1, 1, 3, 2]);
    expect(Array.from(naiveFloat32Attention(q, k, v3())).every(Number.isNaN)).toBe(true);
  });

  it('a row that sees no key gives zeros', () => {
    const q = randn([2, 1, 2, 2], 1);
    const k = randn([2, 1, 3, 2], 2);
    const v = randn([2, 1, 3, 2], 3);
    const out = naiveFloat32Attention(q, k, v, { kvLengths: [3, 0] });
    expect(Array.from(out.subarray(4))).toEqual([0, 0, 0, 0]);
  });
});
