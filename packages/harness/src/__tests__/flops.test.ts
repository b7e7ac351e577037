import { isMaskCompiled } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { attendedPairs, attentionFlops, gflopsPerSecond, mhaFlops, problemFor } from '../flops.js';
import { maskOptions } from '../mask-spec.js';
import type { CaseShape } from '../suite.js';

const shape = (n: number, extra: Partial<CaseShape> = {}): CaseShape => ({
  batch: 2,
  qHeads: 3,
  kvHeads: 3,
  qLength: n,
  kvLength: n,
  headDim: 8,
  valueDim: 4,
  ...extra,
});

describe('FLOP model (docs/design.md, FLOP model)', () => {
  it('counts 2·(Dk+Dv) FLOPs per pair over all B·Hq·Lq·Lk pairs without a mask', () => {
    expect(attendedPairs(shape(10), { causal: false })).toBe(2 * 3 * 10 * 10);
    expect(attentionFlops(shape(10), { causal: false })).toBe(2 * (8 + 4) * 2 * 3 * 100);
  });

  it('counts N(N+1)/2 pairs per head under a causal mask', () => {
    const n = 37;
    expect(attendedPairs(shape(n), { causal: true })).toBe(2 * 3 * ((n * (n + 1)) / 2));
  });

  it('counts a causal window [w, 0] as Σ_i min(i+1, w+1)', () => {
    const n = 50;
    const w = 7;
    let perHead = 0;
    for (let i = 0; i < n; i++) perHead += Math.min(i + 1, w + 1);
    expect(attendedPairs(shape(n), { causal: true, window: [w, 0] })).toBe(2 * 3 * perHead);
  });

  it('counts a symmetric window [w, w] with both edges clipped', () => {
    const n = 20;
    const w = 3;
    let perHead = 0;
    for (let i = 0; i < n; i++) perHead += Math.min(n - 1, i + w) - Math.max(0, i - w) + 1;
    expect(attendedPairs(shape(n), { causal: false, window: [w, w] })).toBe(2 * 3 * perHead);
  });

  it('aligns decoding bottom-right: one causal query sees every key', () => {
    expect(attendedPairs(shape(64, { qLength: 1 }), { causal: true })).toBe(2 * 3 * 64);
  });

  it('treats an "inf" window side as unbounded', () => {
    expect(attendedPairs(shape(16), { causal: false, window: ['inf', 'inf'] })).toBe(
      attendedPairs(shape(16), { causal: false }),
    );
  });

  it('adds the four projections for the multi-head layer', () => {
    const s = shape(16, { qHeads: 4, kvHeads: 2, headDim: 8, valueDim: 8 });
    const dModel = 32;
    const tokens = 2 * 16;
    const projections =
      2 * tokens * dModel * (4 * 8) + 2 * tokens * dModel * (2 * 16) + 2 * tokens * (4 * 8) * dModel;
    expect(mhaFlops(s, { causal: true }, dModel)).toBe(projections + attentionFlops(s, { causal: true }));
  });

  it('counts only the pairs inside each document: k causal documents of N/k cost k · (N/k)(N/k + 1)/2 per head', () => {
    const n = 96;
    const per = n / 4;
    expect(attendedPairs(shape(n), { causal: true, documents: { equal: 4 } })).toBe(
      2 * 3 * 4 * ((per * (per + 1)) / 2),
    );
    expect(attendedPairs(shape(n), { causal: false, documents: [0, 10, 96] })).toBe(
      2 * 3 * (10 * 10 + 86 * 86),
    );
    // one document as long as the sequence is plain causal
    expect(attendedPairs(shape(n), { causal: true, documents: [0, n] })).toBe(
      attendedPairs(shape(n), { causal: true }),
    );
  });

  it('counts prefix-LM as the prefix square plus the causal rows after it', () => {
    const n = 40;
    const prefix = 12;
    let perHead = 0;
    for (let i = 0; i < n; i++) perHead += Math.max(prefix, i + 1);
    expect(attendedPairs(shape(n), { causal: false, prefixLM: prefix })).toBe(2 * 3 * perHead);
  });

  it('charges a 1/8-dense block-sparse layout exactly 1/8 of full attention (its visible pairs)', () => {
    const n = 512; // 8 × 8 blocks of 64: 8 visible, the diagonal
    const full = attentionFlops(shape(n), { causal: false });
    const sparse = { causal: false, blockSparse: { density: 0.125, block: 64, seed: 1 } };
    expect(attendedPairs(shape(n), sparse)).toBe((2 * 3 * n * n) / 8);
    expect(attentionFlops(shape(n), sparse)).toBe(full / 8);
    const finer = { causal: false, blockSparse: { density: 0.125, block: 16, seed: 1 } };
    expect(attendedPairs(shape(n), finer)).toBe((2 * 3 * n * n) / 8);
  });

  it('counts a predicate equal to causal as causal, and score modifiers and sinks as no pairs at all', () => {
    const n = 100;
    const causal = attendedPairs(shape(n), { causal: true });
    expect(attendedPairs(shape(n), { causal: false, predicate: 'causal' })).toBe(causal);
    expect(attendedPairs(shape(n), { causal: true, alibi: true, softcap: 30, sinks: 0 })).toBe(causal);
    expect(attendedPairs(shape(n), { causal: false, softcap: 30 })).toBe(2 * 3 * n * n);
  });

  it('counts the same pairs with the case values passed in (what a case does, compiling its mask once)', () => {
    const s = shape(128);
    const mask = { causal: true, documents: { equal: 2 }, predicate: 'causal' as const };
    const options = maskOptions(mask, s);
    expect(attendedPairs(s, mask, options)).toBe(attendedPairs(s, mask));
    expect(isMaskCompiled(options.mask!, problemFor(s, mask, options))).toBe(true);
  });

  it('converts FLOPs and milliseconds to GFLOP/s', () => {
    expect(gflopsPerSecond(2e9, 1000)).toBeCloseTo(2, 12);
  });
});
