/**
 * Dense's own behaviour beyond the conformance kit: the memory budget, options it refuses, the
 * analytic workspace, and attentionWeights against the oracle.
 */
import { errorStats, formatErrorStats, randn, referenceAttention, type Tensor, tensor } from '@attnkit/core';
import { attentionInputs as inputs, thrownInputError as thrown } from '@attnkit/core/testing';
import { attentionWeights, DEFAULT_MAX_SCORES_BYTES, dense, denseAttention } from '@attnkit/dense';
import { describe, expect, it } from 'vitest';

/** V = identity per kv head: attention then returns the weights themselves (as float64, from the oracle). */
function identityValues(b: number, hkv: number, lk: number): Tensor {
  const data = new Float32Array(b * hkv * lk * lk);
  for (let head = 0; head < b * hkv; head++) {
    for (let j = 0; j < lk; j++) data[head * lk * lk + j * lk + j] = 1;
  }
  return tensor(data, [b, hkv, lk, lk]);
}

describe('memory budget', () => {
  it('defaults to 1 GiB of scores', () => {
    expect(DEFAULT_MAX_SCORES_BYTES).toBe(2 ** 30);
  });

  it('refuses a score matrix above maxScoresBytes, naming the option and pointing to flash and sliding-window', () => {
    const { q, k, v } = inputs(1, 1, 1, 64, 64, 4);
    const error = thrown(() => denseAttention(q, k, v, { maxScoresBytes: 64 * 64 * 4 - 1 }));
    expect(error.argument).toBe('options.maxScoresBytes');
    expect(error.message).toMatch(/flash/);
    expect(error.message).toMatch(/sliding-window|slidingWindow/);
    expect(dense.notSupportedReasons(q, k, v, { maxScoresBytes: 1000 }).join(' ')).toMatch(/flash/);
  });

  it('accepts a matrix exactly at the budget', () => {
    const { q, k, v } = inputs(1, 1, 1, 64, 64, 4);
    expect(dense.notSupportedReasons(q, k, v, { maxScoresBytes: 64 * 64 * 4 })).toEqual([]);
    expect(denseAttention(q, k, v, { maxScoresBytes: 64 * 64 * 4 }).shape).toEqual([1, 1, 64, 4]);
  });

  it('applies the default budget without allocating (Lq·Lk above 2^28)', () => {
    // Lq = 2^15, Lk = 2^14: 2 GiB of scores; q, k, v are tiny (D = 1) and never reach a kernel.
    const { q, k, v } = inputs(1, 1, 1, 2 ** 15, 2 ** 14, 1);
    expect(thrown(() => denseAttention(q, k, v)).argument).toBe('options.maxScoresBytes');
    expect(dense.notSupportedReasons(q, k, v)).toHaveLength(1);
  });

  it('rejects a malformed budget', () => {
    const { q, k, v } = inputs(1, 1, 1, 4, 4, 4);
    expect(thrown(() => denseAttention(q, k, v, { maxScoresBytes: -1 })).argument).toBe(
      'options.maxScoresBytes',
    );
    expect(thrown(() => denseAttention(q, k, v, { maxScoresBytes: 1.5 })).argument).toBe(
      'options.maxScoresBytes',
    );
  });
});

describe('options dense refuses', () => {
  const { q, k, v } = inputs(1, 2, 2, 5, 5, 4);

  it('threads: 0 or a fraction is refused naming options.threads; threads > 1 is supported', () => {
    expect(thrown(() => denseAttention(q, k, v, { threads: 0 })).argument).toBe('options.threads');
    expect(thrown(() => denseAttention(q, k, v, { threads: 1.5 })).argument).toBe('options.threads');
    expect(dense.notSupportedReasons(q, k, v, { threads: 2 })).toEqual([]);
    expect(denseAttention(q, k, v, { threads: 1 }).shape).toEqual([1, 2, 5, 4]);
  });

  it('an unknown option is refused by name, not ignored', () => {
    const error = thrown(() => denseAttention(q, k, v, { blockQ: 16 } as never));
    expect(error.argument).toBe('options.blockQ');
  });

  it('an unknown backend is refused naming options.backend', () => {
    expect(thrown(() => denseAttention(q, k, v, { backend: 'gpu' } as never)).argument).toBe(
      'options.backend',
    );
  });
});

describe('workspaceBytes', () => {
  it('counts the arena copies of q, k, v, out, lse and the Lq·Lk scores, 64-byte aligned', () => {
    const { q, k, v } = inputs(2, 4, 2, 33, 17, 8, 5);
    const align = (floats: number) => Math.ceil(floats / 16) * 16;
    const expected =
      4 *
      (align(2 * 4 * 33 * 8) + // q
        align(2 * 2 * 17 * 8) + // k
        align(2 * 2 * 17 * 5) + // v
        align(2 * 4 * 33 * 5) + // out
        align(2 * 4 * 33) + // lse
        align(33 * 17)); // scores of one (b, h)
    expect(dense.workspaceBytes(q, k, v)).toBe(expected);
    expect(dense.workspaceBytes(q, k, v, { causal: true })).toBe(expected);
  });
});

describe('backends agree', () => {
  it("backend 'js' and the default backend give the same result within float32 accumulation error", () => {
    const { q, k, v } = inputs(2, 4, 2, 65, 80, 64);
    const js = denseAttention(q, k, v, { backend: 'js', causal: true });
    const byDefault = denseAttention(q, k, v, { causal: true });
    // Both within 1e-5 of the oracle (see conformance.test.ts), so within 2e-5 of each other.
    const stats = errorStats(byDefault.data, js.data, { atol: 2e-5, rtol: 0 });
    expect(stats.failing, formatErrorStats(stats)).toBe(0);
  });
});

describe('attentionWeights', () => {
  const cases = [
    { name: 'plain', b: 1, hq: 2, hkv: 2, lq: 9, lk: 13, options: {} },
    { name: 'GQA + causal (Lq < Lk)', b: 2, hq: 4, hkv: 2, lq: 7, lk: 12, options: { causal: true } },
    {
      name: 'window + kvLengths with empty rows',
      b: 2,
      hq: 2,
      hkv: 1,
      lq: 10,
      lk: 10,
      options: { window: [1, 0] as const, kvLengths: [10, 3] },
    },
    {
      name: 'causal, Lq > Lk (early rows empty)',
      b: 1,
      hq: 1,
      hkv: 1,
      lq: 12,
      lk: 5,
      options: { causal: true },
    },
  ];
  for (const c of cases) {
    for (const backend of ['js', undefined] as const) {
      it(`${c.name} (backend ${backend ?? 'default'}) matches the oracle's softmax`, () => {
        const { q, k } = inputs(c.b, c.hq, c.hkv, c.lq, c.lk, 16);
        const lse = new Float32Array(c.b * c.hq * c.lq);
        const weights = attentionWeights(q, k, { ...c.options, lse, ...(backend ? { backend } : {}) });
        expect(weights.shape).toEqual([c.b, c.hq, c.lq, c.lk]);
        const reference = referenceAttention(q, k, identityValues(c.b, c.hkv, c.lk), c.options);
        // Probabilities in [0, 1], stored in float32: a few roundings, 1e-6 absolute (see conformance.test.ts).
        const stats = errorStats(weights.data, reference.out, { atol: 1e-6, rtol: 0 });
        expect(stats.failing, formatErrorStats(stats)).toBe(0);
        const lseStats = errorStats(lse, reference.lse, { atol: 1e-5, rtol: 1e-6 });
        expect(lseStats.failing, formatErrorStats(lseStats)).toBe(0);
        // Each row sums to 1, or is all zeros when it sees no key (lse = −Infinity).
        for (let row = 0; row < c.b * c.hq * c.lq; row++) {
          let sum = 0;
          for (let j = 0; j < c.lk; j++) sum += weights.data[row * c.lk + j]!;
          if (lse[row] === Number.NEGATIVE_INFINITY) expect(sum).toBe(0);
          else expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
        }
      });
    }
  }

  it('the weights times v are the attention output', () => {
    const { q, k, v } = inputs(1, 2, 1, 6, 8, 4, 3);
    const weights = attentionWeights(q, k, { causal: true });
    const out = denseAttention(q, k, v, { causal: true });
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < 6; i++) {
        for (let d = 0; d < 3; d++) {
          let sum = 0;
          for (let j = 0; j < 8; j++) sum += weights.data[(h * 6 + i) * 8 + j]! * v.data[j * 3 + d]!;
          expect(out.data[(h * 6 + i) * 3 + d]).toBeCloseTo(sum, 5);
        }
      }
    }
  });

  it('refuses out, and names q or k when they are malformed', () => {
    const { q, k } = inputs(1, 2, 2, 4, 4, 4);
    expect(thrown(() => attentionWeights(q, k, { out: randn([1, 2, 4, 4], 1) } as never)).argument).toBe(
      'options.out',
    );
    expect(thrown(() => attentionWeights(q, randn([1, 2, 4, 5], 1))).argument).toBe('k');
    expect(
      thrown(() => attentionWeights(q, { data: new Float64Array(32), shape: [1, 2, 4, 4] } as never))
        .argument,
    ).toBe('k.data');
    expect(thrown(() => attentionWeights(randn([2, 4, 4], 1), k)).argument).toBe('q');
  });

  it('applies the budget to the whole [B, Hq, Lq, Lk] result', () => {
    const { q, k } = inputs(2, 2, 2, 16, 16, 4);
    expect(thrown(() => attentionWeights(q, k, { maxScoresBytes: 2 * 2 * 16 * 16 * 4 - 1 })).argument).toBe(
      'options.maxScoresBytes',
    );
    expect(attentionWeights(q, k, { maxScoresBytes: 2 * 2 * 16 * 16 * 4 }).shape).toEqual([2, 2, 16, 16]);
  });
});
