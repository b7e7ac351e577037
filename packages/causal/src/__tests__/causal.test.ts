import {
  AttentionInputError,
  errorStats,
  naiveFloat32Attention,
  randn,
  referenceAttention,
  type Tensor,
  validateAttentionInputs,
  visiblePairs,
} from '@attnkit/core';
import { expectWithin, attentionInputs as inputs, MATERIALISED_TOLERANCE } from '@attnkit/core/testing';
import { getEngine } from '@attnkit/kernels';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { causal, causalAttention } from '../index.js';

// The materialising variants' tolerance (its justification is in core/testing).
const TOLERANCE = MATERIALISED_TOLERANCE;

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = TOLERANCE) =>
  expectWithin(actual, expected, tolerance);

interface Case {
  name: string;
  dims: [number, number, number, number, number, number, number];
  options: Record<string, unknown>;
}

const cases: Case[] = [
  { name: 'square, one block', dims: [1, 1, 1, 5, 5, 8, 8], options: {} },
  { name: 'square, odd blocks', dims: [2, 3, 3, 33, 33, 8, 5], options: { blockQ: 7 } },
  { name: 'Lq < Lk (chunked prefill)', dims: [1, 2, 2, 15, 31, 4, 4], options: { blockQ: 4 } },
  { name: 'Lq > Lk (early rows see nothing)', dims: [1, 2, 1, 31, 15, 4, 3], options: { blockQ: 5 } },
  { name: 'GQA, window left 4', dims: [1, 4, 2, 29, 29, 8, 8], options: { window: [4, 9], blockQ: 6 } },
  { name: 'MQA, window left 0', dims: [1, 3, 1, 17, 17, 2, 2], options: { window: [0, 0], blockQ: 3 } },
  { name: 'kvLengths incl. 0', dims: [3, 2, 2, 19, 23, 8, 8], options: { kvLengths: [23, 0, 9], blockQ: 8 } },
  { name: 'Dk 1, scale 0.3', dims: [1, 1, 1, 9, 9, 1, 3], options: { scale: 0.3, blockQ: 2 } },
  { name: 'blockQ larger than Lq', dims: [1, 1, 1, 10, 12, 8, 8], options: { blockQ: 1000 } },
];

describe('causalAttention vs the float64 oracle', () => {
  for (const backend of [{ backend: 'js' as const }, {}]) {
    for (const c of cases) {
      it(`${c.name} (${backend.backend ?? 'default backend'})`, () => {
        const [b, hq, hkv, lq, lk, dk, dv] = c.dims;
        const { q, k, v } = inputs(b, hq, hkv, lq, lk, dk, dv, 11);
        const lse = new Float32Array(b * hq * lq);
        const out = causalAttention(q, k, v, { ...c.options, ...backend, lse });
        const { blockQ: _blockQ, ...maskOptions } = c.options as { blockQ?: number };
        const ref = referenceAttention(q, k, v, { ...maskOptions, causal: true });
        expectClose(out.data, ref.out);
        expectClose(lse, ref.lse);
        expect(out.shape).toEqual([b, hq, lq, dv]);
      });
    }
  }

  it('stays within 2× the plain float32 dense path’s error (docs/design.md, Accuracy)', () => {
    const { q, k, v } = inputs(1, 2, 2, 97, 97, 64, 64, 5);
    const ref = referenceAttention(q, k, v, { causal: true });
    const naive = naiveFloat32Attention(q, k, v, { causal: true });
    const ours = causalAttention(q, k, v, { blockQ: 13 });
    const naiveError = errorStats(naive, ref.out).maxAbs;
    const ourError = errorStats(ours.data, ref.out).maxAbs;
    expect(ourError).toBeLessThanOrEqual(2 * naiveError);
  });

  it('writes into options.out and returns it', () => {
    const { q, k, v } = inputs(1, 1, 1, 6, 6, 4, 4, 3);
    const out = { data: new Float32Array(24), shape: [1, 1, 6, 4] };
    const result = causalAttention(q, k, v, { out });
    expect(result).toBe(out);
    expectClose(out.data, referenceAttention(q, k, v, { causal: true }).out);
  });

  it('gives zeros and lse = −∞ (never NaN) to rows that see no key', () => {
    const { q, k, v } = inputs(1, 1, 1, 8, 3, 4, 4, 9);
    const lse = new Float32Array(8);
    const out = causalAttention(q, k, v, { lse });
    // rows 0..4 sit at positions −5..−1: nothing visible
    expect(Array.from(out.data.subarray(0, 5 * 4))).toEqual(new Array(20).fill(0));
    expect(Array.from(lse.subarray(0, 5))).toEqual(new Array(5).fill(Number.NEGATIVE_INFINITY));
    expect(out.data.some(Number.isNaN)).toBe(false);
  });
});

describe('causal skips the masked half', () => {
  afterEach(() => vi.restoreAllMocks());

  function countScoredPairs(run: () => void): number {
    const ops = getEngine('js').ops;
    let pairs = 0;
    const original = ops.gemmNT.bind(ops);
    vi.spyOn(ops, 'gemmNT').mockImplementation((m, n, ...rest) => {
      pairs += m * n;
      original(m, n, ...rest);
    });
    run();
    return pairs;
  }

  it('scores only ≈ the visible lower triangle (≤ visible pairs + blockQ/2 per row)', () => {
    const n = 256;
    const blockQ = 16;
    const { q, k, v } = inputs(1, 1, 1, n, n, 4, 4, 1);
    const pairs = countScoredPairs(() => causalAttention(q, k, v, { backend: 'js', blockQ }));
    const visible = visiblePairs(validateAttentionInputs(q, k, v, { causal: true }));
    expect(pairs).toBeGreaterThanOrEqual(visible);
    // each block scores its rows × (prefix up to its last row): blockQ·(blockQ − 1)/2 hidden pairs per block
    expect(pairs).toBe(visible + (n / blockQ) * ((blockQ * (blockQ - 1)) / 2));
    expect(pairs / (n * n)).toBeLessThan(0.55);
  });

  it('with a window, scores O(Lq · (left + blockQ)) pairs', () => {
    const n = 300;
    const { q, k, v } = inputs(1, 1, 1, n, n, 4, 4, 2);
    const pairs = countScoredPairs(() =>
      causalAttention(q, k, v, { backend: 'js', blockQ: 10, window: [20, 0] }),
    );
    expect(pairs).toBeLessThanOrEqual(n * (20 + 10));
  });
});

describe('workspaceBytes', () => {
  afterEach(() => vi.restoreAllMocks());

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
    ['full causal', { blockQ: 16 }],
    ['window', { blockQ: 16, window: [5, 0] }],
    ['default block', {}],
  ] as const) {
    it(`equals the arena memory a call takes (${name})`, () => {
      const { q, k, v } = inputs(2, 2, 1, 40, 50, 8, 6, 4);
      const all = { ...options, causal: true, backend: 'js' as const };
      const measured = measuredArenaBytes(() => causal.forward(q, k, v, all));
      expect(causal.workspaceBytes(q, k, v, all)).toBe(measured);
    });
  }

  it('keeps the scores at O(blockQ · Lk), not O(Lq · Lk)', () => {
    const n = 4096;
    const q = { data: new Float32Array(n * 64), shape: [1, 1, n, 64] };
    const io = 4 * (4 * n * 64 + n); // copies of q, k, v, out and the lse row
    expect(causal.workspaceBytes(q, q, q, { causal: true, blockQ: 64 }) - io).toBe(4 * 64 * n);
    expect(causal.workspaceBytes(q, q, q, { causal: true, blockQ: 64, window: [100, 0] }) - io).toBe(
      4 * 64 * 164,
    );
  });
});

describe('options and the variant contract', () => {
  const { q, k, v } = inputs(1, 2, 2, 6, 6, 4, 4, 8);

  it('refuses causal: false, naming options.causal', () => {
    expect(() => causalAttention(q, k, v, { causal: false })).toThrow(AttentionInputError);
    try {
      causalAttention(q, k, v, { causal: false });
    } catch (error) {
      expect((error as AttentionInputError).argument).toBe('options.causal');
    }
  });

  it('the variant lists non-causal calls as unsupported and refuses them', () => {
    expect(causal.notSupportedReasons(q, k, v, {})).toHaveLength(1);
    expect(causal.notSupportedReasons(q, k, v, { causal: true })).toEqual([]);
    expect(() => causal.forward(q, k, v, {})).toThrow(/causal/);
    expectClose(
      causal.forward(q, k, v, { causal: true }).data,
      referenceAttention(q, k, v, { causal: true }).out,
    );
  });

  it('rejects a bad blockQ naming options.blockQ', () => {
    for (const blockQ of [0, 2.5, -1]) {
      try {
        causalAttention(q, k, v, { blockQ });
        expect.unreachable();
      } catch (error) {
        expect((error as AttentionInputError).argument).toBe('options.blockQ');
      }
    }
  });

  it('rejects mismatched shapes through the shared validation', () => {
    const badK: Tensor = randn([1, 2, 6, 3], 1);
    expect(() => causalAttention(q, badK, v)).toThrow(AttentionInputError);
  });

  it('is deterministic across reruns and block sizes (within rounding)', () => {
    const a = causalAttention(q, k, v, { blockQ: 3 });
    const b = causalAttention(q, k, v, { blockQ: 3 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expectClose(causalAttention(q, k, v, { blockQ: 5 }).data, a.data);
  });
});
