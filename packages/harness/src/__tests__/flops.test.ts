import { describe, expect, it } from 'vitest';
import { attendedPairs, attentionFlops, gflopsPerSecond, mhaFlops } from '../flops.js';
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

  it('converts FLOPs and milliseconds to GFLOP/s', () => {
    expect(gflopsPerSecond(2e9, 1000)).toBeCloseTo(2, 12);
  });
});
