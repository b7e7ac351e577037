import {
  AttentionInputError,
  errorStats,
  naiveFloat32Attention,
  referenceAttention,
  validateAttentionInputs,
  visiblePairs,
} from '@attnkit/core';
import { expectWithin, attentionInputs as inputs, MATERIALISED_TOLERANCE } from '@attnkit/core/testing';
import { getEngine } from '@attnkit/kernels';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { slidingWindow, slidingWindowAttention } from '../index.js';

// The materialising variants' tolerance (its justification is in core/testing).
const TOLERANCE = MATERIALISED_TOLERANCE;

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = TOLERANCE) =>
  expectWithin(actual, expected, tolerance);

interface Case {
  name: string;
  dims: [number, number, number, number, number, number, number];
  options: Record<string, unknown> & { window: readonly [number, number] };
}

const cases: Case[] = [
  { name: 'causal window (Mistral)', dims: [1, 2, 2, 33, 33, 8, 8], options: { window: [5, 0], blockQ: 7 } },
  {
    name: 'causal: true folds right to 0',
    dims: [1, 2, 2, 31, 31, 8, 4],
    options: { window: [4, 6], causal: true, blockQ: 6 },
  },
  {
    name: 'symmetric (Longformer local)',
    dims: [2, 2, 1, 40, 40, 5, 5],
    options: { window: [3, 3], blockQ: 9 },
  },
  { name: 'asymmetric, right only', dims: [1, 1, 1, 25, 25, 4, 4], options: { window: [0, 4], blockQ: 4 } },
  { name: 'window [0, 0] (diagonal)', dims: [1, 1, 1, 15, 15, 4, 4], options: { window: [0, 0], blockQ: 4 } },
  {
    name: 'window wider than the sequence',
    dims: [1, 2, 2, 9, 9, 3, 3],
    options: { window: [100, 100], blockQ: 2 },
  },
  {
    name: 'unbounded left',
    dims: [1, 1, 1, 17, 17, 4, 4],
    options: { window: [Number.POSITIVE_INFINITY, 2], blockQ: 5 },
  },
  { name: 'Lq < Lk', dims: [1, 2, 2, 11, 29, 4, 4], options: { window: [6, 1], blockQ: 3 } },
  { name: 'Lq > Lk', dims: [1, 2, 1, 29, 11, 4, 4], options: { window: [2, 3], blockQ: 4 } },
  {
    name: 'kvLengths incl. 0, GQA',
    dims: [3, 4, 2, 21, 21, 8, 8],
    options: { window: [4, 2], kvLengths: [21, 0, 10], blockQ: 8 },
  },
  { name: 'Dk 1, scale', dims: [1, 1, 1, 12, 12, 1, 2], options: { window: [2, 2], scale: -0.7, blockQ: 1 } },
];

describe('slidingWindowAttention vs the float64 oracle', () => {
  for (const backend of [{ backend: 'js' as const }, {}]) {
    for (const c of cases) {
      it(`${c.name} (${backend.backend ?? 'default backend'})`, () => {
        const [b, hq, hkv, lq, lk, dk, dv] = c.dims;
        const { q, k, v } = inputs(b, hq, hkv, lq, lk, dk, dv, 31);
        const lse = new Float32Array(b * hq * lq);
        const out = slidingWindowAttention(q, k, v, { ...c.options, ...backend, lse });
        const { blockQ: _blockQ, ...maskOptions } = c.options as { blockQ?: number };
        const ref = referenceAttention(q, k, v, maskOptions);
        expectClose(out.data, ref.out);
        expectClose(lse, ref.lse);
      });
    }
  }

  it('stays within 2× the plain float32 dense path’s error (docs/design.md, Accuracy)', () => {
    const { q, k, v } = inputs(1, 2, 2, 97, 97, 64, 64, 6);
    const options = { window: [20, 3] as const };
    const ref = referenceAttention(q, k, v, options);
    const naiveError = errorStats(naiveFloat32Attention(q, k, v, options), ref.out).maxAbs;
    const ourError = errorStats(
      slidingWindowAttention(q, k, v, { ...options, blockQ: 11 }).data,
      ref.out,
    ).maxAbs;
    expect(ourError).toBeLessThanOrEqual(2 * naiveError);
  });

  it('gives zeros and lse = −∞ (never NaN) to rows that see no key', () => {
    const { q, k, v } = inputs(1, 1, 1, 10, 4, 4, 4, 9);
    const lse = new Float32Array(10);
    const out = slidingWindowAttention(q, k, v, { window: [1, 0], lse });
    // rows 0..5 sit at positions −6..−1
    expect(Array.from(out.data.subarray(0, 24))).toEqual(new Array(24).fill(0));
    expect(Array.from(lse.subarray(0, 6))).toEqual(new Array(6).fill(Number.NEGATIVE_INFINITY));
    expect(out.data.some(Number.isNaN)).toBe(false);
  });
});

describe('banded work and memory', () => {
  afterEach(() => vi.restoreAllMocks());

  it('scores only O(N · (left + right + blockQ)) pairs', () => {
    const n = 400;
    const { q, k, v } = inputs(1, 1, 1, n, n, 4, 4, 1);
    const ops = getEngine('js').ops;
    let pairs = 0;
    const original = ops.gemmNT.bind(ops);
    vi.spyOn(ops, 'gemmNT').mockImplementation((m, cols, ...rest) => {
      pairs += m * cols;
      original(m, cols, ...rest);
    });
    const options = { window: [12, 3] as const, blockQ: 8, backend: 'js' as const };
    slidingWindowAttention(q, k, v, options);
    expect(pairs).toBeGreaterThanOrEqual(
      visiblePairs(validateAttentionInputs(q, k, v, { window: options.window })),
    );
    expect(pairs).toBeLessThanOrEqual(n * (12 + 3 + 8));
  });

  function measuredArenaBytes(run: () => void): number {
    const arena = getEngine('js').arena;
    const start = arena.mark();
    let peak = start;
    const original = arena.alloc.bind(arena);
    vi.spyOn(arena, 'alloc').mockImplementation((floats) => {
      const offset = original(floats);
      peak = Math.max(peak, arena.mark());
      return offset;
    });
    run();
    return 4 * (peak - start);
  }

  for (const [name, options] of [
    ['causal window', { window: [6, 0], blockQ: 16 }],
    ['symmetric, causal flag', { window: [6, 6], causal: true }],
    ['global tokens', { window: [3, 3], blockQ: 5, globalTokens: [0, 7, 7, 30] }],
  ] as const) {
    it(`workspaceBytes equals the arena memory a call takes (${name})`, () => {
      const { q, k, v } = inputs(2, 2, 1, 40, 50, 8, 6, 4);
      const all = { ...options, backend: 'js' as const };
      const measured = measuredArenaBytes(() => slidingWindow.forward(q, k, v, all));
      expect(slidingWindow.workspaceBytes(q, k, v, all)).toBe(measured);
    });
  }

  it('keeps the scores at blockQ · (blockQ + left + right) floats, independent of N', () => {
    for (const n of [8192, 16384]) {
      const q = { data: new Float32Array(n * 64), shape: [1, 1, n, 64] };
      const io = 4 * (4 * n * 64 + n); // copies of q, k, v, out and the lse row
      expect(slidingWindow.workspaceBytes(q, q, q, { window: [512, 0], blockQ: 64 }) - io).toBe(
        4 * 64 * (64 + 512),
      );
    }
  });
});

describe('options and the variant contract', () => {
  const { q, k, v } = inputs(1, 2, 2, 6, 6, 4, 4, 8);

  it('requires a window, naming options.window', () => {
    for (const options of [undefined, {}, { causal: true }]) {
      try {
        slidingWindowAttention(q, k, v, options);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(AttentionInputError);
        expect((error as AttentionInputError).argument).toBe('options.window');
      }
    }
    expect(slidingWindow.notSupportedReasons(q, k, v, {}).join(' ')).toMatch(/window/);
    expect(slidingWindow.notSupportedReasons(q, k, v, { window: [1, 1] })).toEqual([]);
  });

  it('rejects malformed windows, blockQ and global tokens, naming the option', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ window: [-1, 0] }, 'options.window'],
      [{ window: [1.5, 0] }, 'options.window'],
      [{ window: [1] }, 'options.window'],
      [{ window: [1, 1], blockQ: 0 }, 'options.blockQ'],
      [{ window: [1, 1], globalTokens: [6] }, 'options.globalTokens'],
      [{ window: [1, 1], globalTokens: [-1] }, 'options.globalTokens'],
      [{ window: [1, 1], globalTokens: 3 }, 'options.globalTokens'],
    ];
    for (const [options, argument] of bad) {
      try {
        slidingWindowAttention(q, k, v, options as never);
        expect.unreachable();
      } catch (error) {
        expect((error as AttentionInputError).argument, JSON.stringify(options)).toBe(argument);
      }
    }
  });

  it('is deterministic across reruns and agrees across block sizes', () => {
    const a = slidingWindowAttention(q, k, v, { window: [2, 1], blockQ: 4 });
    const b = slidingWindowAttention(q, k, v, { window: [2, 1], blockQ: 4 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expectClose(slidingWindowAttention(q, k, v, { window: [2, 1], blockQ: 1 }).data, a.data);
  });
});
