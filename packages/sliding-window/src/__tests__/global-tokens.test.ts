import { errorStats, formatErrorStats, randn, type Tensor } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { slidingWindowAttention } from '../index.js';

// Same arithmetic as the plain band path (one float32 rounding per score, float64 accumulation), so
// the same bound: 2e-6 absolute + 1e-5 relative on O(1) outputs.
const TOLERANCE = { atol: 2e-6, rtol: 1e-5 };

interface GlobalCase {
  window: readonly [number, number];
  causal?: boolean;
  globalTokens: number[];
  kvLengths?: number[];
  scale?: number;
}

/**
 * The float64 oracle for band + global tokens, written from the rule in the README with an explicit
 * mask: query i (position p = i + Lk − Lq) sees key j iff j < kvLengths[b] and
 * (p − left <= j <= p + right) or ((p or j is global) and (not causal or j <= p)).
 */
function globalReference(q: Tensor, k: Tensor, v: Tensor, c: GlobalCase) {
  const [batch, qHeads, qLength, headDim] = q.shape as [number, number, number, number];
  const [, kvHeads, kvLength] = k.shape as [number, number, number, number];
  const valueDim = v.shape[3]!;
  const left = c.window[0];
  const right = c.causal ? 0 : c.window[1];
  const scale = c.scale ?? 1 / Math.sqrt(headDim);
  const global = new Set(c.globalTokens);
  const out = new Float64Array(batch * qHeads * qLength * valueDim);
  const lse = new Float64Array(batch * qHeads * qLength);
  for (let b = 0; b < batch; b++) {
    const valid = c.kvLengths ? c.kvLengths[b]! : kvLength;
    for (let h = 0; h < qHeads; h++) {
      const kvHead = Math.floor(h / (qHeads / kvHeads));
      for (let i = 0; i < qLength; i++) {
        const p = i + kvLength - qLength;
        const row = (b * qHeads + h) * qLength + i;
        // 1. the explicit mask row and the visible scores
        const scores: number[] = [];
        const keys: number[] = [];
        for (let j = 0; j < kvLength; j++) {
          const inBand = j >= p - left && j <= p + right;
          const viaGlobal = (global.has(p) || global.has(j)) && (!c.causal || j <= p);
          if (j >= valid || !(inBand || viaGlobal)) continue;
          let dot = 0;
          for (let d = 0; d < headDim; d++) {
            dot +=
              q.data[row * headDim + d]! * k.data[((b * kvHeads + kvHead) * kvLength + j) * headDim + d]!;
          }
          scores.push(scale * dot);
          keys.push(j);
        }
        // 2. empty row: zeros, lse −∞
        if (keys.length === 0) {
          lse[row] = Number.NEGATIVE_INFINITY;
          continue;
        }
        // 3. softmax and weighted sum of values
        const max = Math.max(...scores);
        let sum = 0;
        for (const s of scores) sum += Math.exp(s - max);
        keys.forEach((j, n) => {
          const weight = Math.exp(scores[n]! - max) / sum;
          for (let d = 0; d < valueDim; d++) {
            out[row * valueDim + d]! +=
              weight * v.data[((b * kvHeads + kvHead) * kvLength + j) * valueDim + d]!;
          }
        });
        lse[row] = max + Math.log(sum);
      }
    }
  }
  return { out, lse };
}

const cases: [string, number[], GlobalCase & { blockQ: number }][] = [
  [
    'symmetric window, globals at both ends and inside',
    [1, 2, 2, 40, 40, 8, 8],
    { window: [3, 3], globalTokens: [0, 17, 39], blockQ: 7 },
  ],
  [
    'causal window (attention sinks)',
    [1, 2, 2, 40, 40, 8, 8],
    { window: [4, 0], causal: true, globalTokens: [0, 1, 25], blockQ: 6 },
  ],
  [
    'repeated and unsorted globals',
    [1, 1, 1, 30, 30, 4, 4],
    { window: [2, 1], globalTokens: [20, 3, 20, 3, 11], blockQ: 5 },
  ],
  [
    'Lq < Lk: global key outside the query rows',
    [1, 2, 1, 12, 30, 4, 6],
    { window: [3, 2], globalTokens: [2, 25], blockQ: 5 },
  ],
  [
    'Lq > Lk: rows before the keys see only globals',
    [1, 1, 1, 30, 12, 4, 4],
    { window: [1, 1], globalTokens: [5], blockQ: 4 },
  ],
  [
    'kvLengths hide padded globals, GQA',
    [3, 4, 2, 24, 24, 8, 8],
    { window: [2, 2], globalTokens: [1, 15, 22], kvLengths: [24, 0, 14], blockQ: 5 },
  ],
  [
    'causal with padding and Lq < Lk',
    [2, 2, 2, 9, 20, 4, 4],
    { window: [3, 0], causal: true, globalTokens: [0, 13, 18], kvLengths: [20, 15], blockQ: 4 },
  ],
  [
    'every position global = dense',
    [1, 1, 1, 10, 10, 4, 4],
    { window: [0, 0], globalTokens: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], blockQ: 3, scale: 0.4 },
  ],
];

describe('global tokens vs a float64 oracle with an explicit mask', () => {
  for (const backend of ['js', undefined] as const) {
    for (const [name, dims, c] of cases) {
      it(`${name} (backend ${backend ?? 'default'})`, () => {
        const [b, hq, hkv, lq, lk, dk, dv] = dims as [number, number, number, number, number, number, number];
        const q = randn([b, hq, lq, dk], 41);
        const k = randn([b, hkv, lk, dk], 42);
        const v = randn([b, hkv, lk, dv], 43);
        const lse = new Float32Array(b * hq * lq);
        const out = slidingWindowAttention(q, k, v, { ...c, backend, lse });
        const ref = globalReference(q, k, v, c);
        let stats = errorStats(out.data, ref.out, TOLERANCE);
        expect(stats.failing, formatErrorStats(stats)).toBe(0);
        stats = errorStats(lse, ref.lse, TOLERANCE);
        expect(stats.failing, formatErrorStats(stats)).toBe(0);
        expect(out.data.some(Number.isNaN)).toBe(false);
      });
    }
  }

  it('an empty globalTokens list is the plain band', () => {
    const q = randn([1, 1, 20, 4], 1);
    const k = randn([1, 1, 20, 4], 2);
    const v = randn([1, 1, 20, 4], 3);
    const plain = slidingWindowAttention(q, k, v, { window: [2, 2] });
    expect(Array.from(slidingWindowAttention(q, k, v, { window: [2, 2], globalTokens: [] }).data)).toEqual(
      Array.from(plain.data),
    );
  });
});
