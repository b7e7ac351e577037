import {
  AttentionInputError,
  type AttentionOptions,
  errorStats,
  formatErrorStats,
  naiveFloat32Attention,
  referenceAttention,
  type Tensor,
  zeros,
} from '@attnkit/core';
import { attentionInputs as inputs } from '@attnkit/core/testing';
import { getEngine } from '@attnkit/kernels';
import { describe, expect, it, vi } from 'vitest';
import { flash, flashAttention } from '../flash.js';
import type { FlashOptions } from '../options.js';

/**
 * vs the float64 oracle on N(0, 1) inputs (no large logits here): every output is a convex combination
 * of values |v| <~ 5, and flash rounds it to float32 a handful of times per key tile (scores, weights,
 * the rescaled accumulator), so the error is bounded by about (tiles + 3) · 2^-24 · max|v|; with at most
 * ~100 tiles per row below that is ~3e-5. 1e-4 leaves margin for the wasm backend's float32 dot products.
 */
const TOLERANCE = { atol: 1e-4, rtol: 1e-4 };

function expectMatchesOracle(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
  flashOptions: FlashOptions,
  label: string,
): void {
  const reference = referenceAttention(q, k, v, options);
  const lse = new Float32Array(reference.lse.length).fill(Number.NaN);
  const out = flashAttention(q, k, v, { ...options, ...flashOptions, lse });
  const stats = errorStats(out.data, reference.out, TOLERANCE);
  expect(stats.failing, `${label}: out ${formatErrorStats(stats)}`).toBe(0);
  // lse is as large as the scores (|s| <~ 10 here): a few float32 ulps of that magnitude.
  const lseStats = errorStats(lse, reference.lse, { atol: 1e-5, rtol: 1e-5 });
  expect(lseStats.failing, `${label}: lse ${formatErrorStats(lseStats)}`).toBe(0);
  // The 2×-float32-dense rule (docs/design.md, Accuracy): no worse than twice the naive float32 path, plus a floor of
  // 8 float32 ulps of the largest output for inputs where the naive path happens to be exact.
  const naive = errorStats(naiveFloat32Attention(q, k, v, options), reference.out);
  let largest = 0;
  for (const x of reference.out) largest = Math.max(largest, Math.abs(x));
  expect(stats.maxAbs, `${label}: 2× rule (naive max error ${naive.maxAbs})`).toBeLessThanOrEqual(
    2 * naive.maxAbs + 8 * 2 ** -24 * largest,
  );
}

const INF = Number.POSITIVE_INFINITY;
const BLOCKS: FlashOptions[] = [
  { blockQ: 3, blockK: 5 },
  { blockQ: 1, blockK: 1 },
  { blockQ: 16, blockK: 7 },
  {},
];

describe('block skipping computes what the oracle computes', () => {
  const masks: [string, AttentionOptions, number, number][] = [
    ['causal, Lq = Lk', { causal: true }, 45, 45],
    ['causal, Lq < Lk (prefix cached)', { causal: true }, 13, 50],
    ['causal, Lq > Lk (first rows see nothing)', { causal: true }, 50, 13],
    ['window [6, 0]', { window: [6, 0] }, 47, 47],
    ['window [2, 9], Lq < Lk', { window: [2, 9] }, 21, 40],
    ['window [0, 0]', { window: [0, 0] }, 30, 30],
    ['window [INF, 4]', { window: [INF, 4] }, 33, 33],
    ['window wider than the sequence', { window: [500, 500] }, 19, 23],
    ['kvLengths [37, 0, 9]', { kvLengths: [37, 0, 9] }, 29, 37],
    ['kvLengths with causal', { kvLengths: [20, 37, 1], causal: true }, 37, 37],
    ['kvLengths with a window, Lq > Lk', { kvLengths: [11, 4, 0], window: [3, 2] }, 40, 17],
  ];
  for (const [name, options, lq, lk] of masks) {
    it(name, () => {
      const b = options.kvLengths ? options.kvLengths.length : 2;
      const { q, k, v } = inputs(b, 4, 2, lq, lk, 12, 10, lq * 100 + lk);
      for (const blocks of BLOCKS) {
        expectMatchesOracle(
          q,
          k,
          v,
          options,
          { backend: 'js', ...blocks },
          `${name} ${JSON.stringify(blocks)}`,
        );
      }
    });
  }

  it('GQA, MQA and Dv ≠ Dk read the right kv head', () => {
    for (const [hq, hkv] of [
      [6, 3],
      [6, 1],
      [4, 4],
    ] as const) {
      const { q, k, v } = inputs(2, hq, hkv, 19, 26, 7, 13, hq * 10 + hkv);
      for (const blocks of BLOCKS) {
        expectMatchesOracle(q, k, v, { causal: true }, { backend: 'js', ...blocks }, `Hq ${hq} Hkv ${hkv}`);
      }
    }
  });

  it('rows that see no key are zeros with lse = −Infinity, never NaN', () => {
    const { q, k, v } = inputs(2, 2, 2, 12, 5, 8, 8, 7);
    // Batch 1 sees nothing at all; batch 0's first rows sit before key 0 (causal with Lq > Lk).
    const lse = new Float32Array(2 * 2 * 12);
    const out = flashAttention(q, k, v, { causal: true, kvLengths: [5, 0], lse, blockQ: 4, blockK: 2 });
    for (let b = 0; b < 2; b++) {
      for (let h = 0; h < 2; h++) {
        for (let i = 0; i < 12; i++) {
          const row = (b * 2 + h) * 12 + i;
          const seesNothing = b === 1 || i + 5 - 12 < 0;
          const values = out.data.subarray(row * 8, row * 8 + 8);
          if (seesNothing) {
            expect(Array.from(values), `row ${row}`).toEqual(new Array(8).fill(0));
            expect(lse[row], `lse ${row}`).toBe(Number.NEGATIVE_INFINITY);
          } else {
            expect(values.every(Number.isFinite) && Number.isFinite(lse[row]), `row ${row}`).toBe(true);
          }
        }
      }
    }
  });

  it('a wide non-causal problem on the default backend matches the oracle (several key tiles per row)', () => {
    const { q, k, v } = inputs(1, 2, 1, 130, 300, 64, 64, 99);
    expectMatchesOracle(q, k, v, {}, {}, 'default backend, default blocks');
    expectMatchesOracle(q, k, v, { causal: true, window: [100, 0] }, {}, 'default backend, causal window');
  });
});

describe('tile sizes', () => {
  it('every tile size gives the same answer up to rounding', () => {
    const { q, k, v } = inputs(1, 2, 2, 70, 70, 16, 16, 3);
    const reference = flashAttention(q, k, v, { causal: true, blockQ: 64, blockK: 64 });
    for (const [blockQ, blockK] of [
      [1, 70],
      [70, 1],
      [7, 9],
      [128, 128],
    ] as const) {
      const other = flashAttention(q, k, v, { causal: true, blockQ, blockK });
      // Different tilings round the online rescaling differently: a few float32 ulps of |out| <~ 3.
      const stats = errorStats(other.data, reference.data, { atol: 2e-6, rtol: 2e-6 });
      expect(stats.failing, `blockQ ${blockQ} blockK ${blockK}: ${formatErrorStats(stats)}`).toBe(0);
    }
  });

  it('refuses block sizes that are not positive integers, naming the option', () => {
    const { q, k, v } = inputs(1, 1, 1, 4, 4, 4, 4, 1);
    for (const [options, argument] of [
      [{ blockQ: 0 }, 'options.blockQ'],
      [{ blockQ: 2.5 }, 'options.blockQ'],
      [{ blockK: -4 }, 'options.blockK'],
      [{ blockK: '64' }, 'options.blockK'],
      [{ threads: 0 }, 'options.threads'],
      [{ backend: 'gpu' }, 'options.backend'],
      [{ blockq: 16 }, 'options.blockq'],
    ] as const) {
      let caught: unknown;
      try {
        flashAttention(q, k, v, options as FlashOptions);
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(options)).toBeInstanceOf(AttentionInputError);
      expect((caught as AttentionInputError).argument).toBe(argument);
      expect(() => flash.notSupportedReasons(q, k, v, options as FlashOptions)).not.toThrow();
    }
  });
});

describe('out, lse and memory', () => {
  it('writes into `out` and `lse` and returns `out`', () => {
    const { q, k, v } = inputs(1, 2, 2, 9, 11, 5, 6, 5);
    const out = zeros([1, 2, 9, 6]);
    const lse = new Float32Array(18);
    const returned = flashAttention(q, k, v, { out, lse, window: [2, 2], blockQ: 2, blockK: 3 });
    expect(returned).toBe(out);
    const reference = referenceAttention(q, k, v, { window: [2, 2] });
    expect(errorStats(out.data, reference.out, TOLERANCE).failing).toBe(0);
    expect(errorStats(lse, reference.lse, { atol: 1e-5, rtol: 1e-5 }).failing).toBe(0);
  });

  it('workspaceBytes is exactly the arena memory the call uses, and its tiles do not grow with N', () => {
    const engine = getEngine('js');
    const measure = (n: number, options: FlashOptions) => {
      const { q, k, v } = inputs(1, 2, 1, n, n, 16, 8, n);
      const start = engine.arena.mark();
      let peak = start;
      const original = engine.arena.alloc.bind(engine.arena);
      const alloc = vi.spyOn(engine.arena, 'alloc').mockImplementation((floats: number) => {
        const offset = original(floats);
        peak = Math.max(peak, engine.arena.mark());
        return offset;
      });
      try {
        flashAttention(q, k, v, { ...options, backend: 'js' });
      } finally {
        alloc.mockRestore();
      }
      const measured = (peak - start) * 4;
      const analytic = flash.workspaceBytes(q, k, v, { ...options, backend: 'js' });
      expect(measured, `N = ${n}`).toBe(analytic);
      // What is not an arena copy of q, k, v, out, lse: the per-thread tiles.
      const copies = 4 * (q.data.length + k.data.length + v.data.length + 2 * n * 8 + 2 * n);
      return analytic - copies;
    };
    const tiles = measure(64, { blockQ: 16, blockK: 32 });
    expect(measure(256, { blockQ: 16, blockK: 32 })).toBe(tiles);
    expect(measure(1024, { causal: true, blockQ: 16, blockK: 32 })).toBe(tiles);
  });
});

describe('values near FLT_MAX', () => {
  // Eight equal scores (q = 0) and every value 3e38: the answer is 3e38 (float64), dense gives
  // 3.0000002e38; the unnormalised accumulator of a one-pass flash reaches 8 · 3e38 = +∞.
  const q = { data: new Float32Array(4), shape: [1, 1, 1, 4] };
  const k = { data: Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)), shape: [1, 1, 8, 4] };
  const v = { data: new Float32Array(32).fill(3e38), shape: [1, 1, 8, 4] };
  for (const options of [
    { backend: 'js' },
    { backend: 'wasm' },
    { backend: 'wasm', blockK: 3 },
    { backend: 'js', blockK: 1, causal: true },
  ] as FlashOptions[]) {
    it(`stay finite where dense does (${JSON.stringify(options)})`, () => {
      const lse = new Float32Array(1);
      const out = flashAttention(q, k, v, { ...options, lse });
      for (const x of out.data) expect(Math.abs(x - 3e38) / 3e38).toBeLessThan(1e-6);
      expect(lse[0]).toBeCloseTo(Math.log(8), 6); // all scores are 0
    });
  }

  it('keep an overflow that is real: a row whose values are +∞ stays +∞', () => {
    const infinite = { data: new Float32Array(32).fill(Number.POSITIVE_INFINITY), shape: [1, 1, 8, 4] };
    const out = flashAttention(q, k, infinite, {});
    for (const x of out.data) expect(x).toBe(Number.POSITIVE_INFINITY);
  });
});
