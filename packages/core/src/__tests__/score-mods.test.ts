/**
 * Score modifiers (score-mods.ts) and the bias and sinks options: the ALiBi slopes of the paper, and
 * every argument error with its exact message (docs/design.md, Errors).
 */
import {
  type AttentionOptions,
  alibi,
  alibiSlopes,
  isScoreMod,
  randn,
  referenceAttention,
  scoreFunction,
  softcap,
} from '@attnkit/core';
import { thrownInputError as thrown } from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';

describe('alibiSlopes', () => {
  it('8 heads: the paper’s 1/2, 1/4, …, 1/256', () => {
    expect(alibiSlopes(8)).toEqual([1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]);
  });

  it('16 heads: 2^(−k/2), k = 1..16', () => {
    const slopes = alibiSlopes(16);
    expect(slopes).toHaveLength(16);
    for (let k = 1; k <= 16; k++) expect(slopes[k - 1]).toBeCloseTo(Math.SQRT1_2 ** k, 15);
  });

  it('6 heads (not a power of two): the 4-head slopes, then every other 8-head slope (reference rule)', () => {
    // 4 heads: 2^-2, 2^-4, 2^-6, 2^-8; 8 heads: 2^-1, 2^-2, …; every other from the first: 2^-1, 2^-3
    expect(alibiSlopes(6)).toEqual([1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]);
  });

  it('1 head: 2^-8', () => {
    expect(alibiSlopes(1)).toEqual([1 / 256]);
  });
});

describe('constructor argument errors', () => {
  const cases: [string, () => unknown, string][] = [
    [
      'no slopes',
      () => alibi([]),
      'slopes: expected a non-empty array of finite numbers (one per query head), received []. alibiSlopes(heads) gives the geometric slopes of the ALiBi paper.',
    ],
    [
      'a NaN slope',
      () => alibi([1, Number.NaN]),
      'slopes: expected a non-empty array of finite numbers (one per query head), received [1, NaN]. alibiSlopes(heads) gives the geometric slopes of the ALiBi paper.',
    ],
    ['0 heads', () => alibiSlopes(0), 'heads: expected a positive integer, received 0.'],
    ['2.5 heads', () => alibiSlopes(2.5), 'heads: expected a positive integer, received 2.5.'],
    ['cap 0', () => softcap(0), 'cap: expected a finite number > 0, received 0.'],
    ['cap −1', () => softcap(-1), 'cap: expected a finite number > 0, received -1.'],
    [
      'cap Infinity',
      () => softcap(Number.POSITIVE_INFINITY),
      'cap: expected a finite number > 0, received Infinity.',
    ],
    [
      'a score function that is not one',
      () => scoreFunction(2 as never),
      'fn: expected a function (score, b, h, i, j) => number, received 2.',
    ],
  ];
  for (const [name, call, message] of cases) {
    it(name, () => {
      const error = thrown(call);
      expect(error.message).toBe(message);
      expect(error.argument).toBe(message.slice(0, message.indexOf(':')));
    });
  }

  it('modifiers are frozen values, and only the constructors make them', () => {
    const mod = softcap(30);
    expect(Object.isFrozen(mod)).toBe(true);
    expect(isScoreMod(mod)).toBe(true);
    expect(isScoreMod({ kind: 'softcap', cap: 30 })).toBe(false);
  });
});

describe('call-dependent errors', () => {
  // q [2, 2, 5, 2] against k, v [2, 1, 6, 2]: B = 2, Hq = 2, Lq = 5, Lk = 6.
  const q = randn([2, 2, 5, 2], 1);
  const k = randn([2, 1, 6, 2], 2);
  const cases: [string, AttentionOptions, string][] = [
    [
      'ALiBi slopes for 3 heads when Hq = 2',
      { scoreMod: [softcap(5), alibi([1, 2, 3])] },
      'options.scoreMod: expected ALiBi slopes for 2 query heads, received 3 slopes. alibi(alibiSlopes(Hq)) gives one slope per query head.',
    ],
    [
      'a hand-made modifier in the list',
      { scoreMod: [softcap(1), { kind: 'softcap', cap: 1 }] as never },
      'options.scoreMod: expected a score modifier (alibi, softcap, scoreFunction) or an array of them, received [an object with keys {kind, cap}, an object with keys {kind, cap}].',
    ],
    [
      'bias with Lk keys missing',
      { bias: randn([2, 2, 5, 5], 1) },
      'options.bias: expected a tensor of shape [2 or 1, 2 or 1, 5, 6] ([B|1, Hq|1, Lq, Lk]), received shape [2, 2, 5, 5]. A size-1 batch or head axis is shared by every batch entry or head.',
    ],
    [
      'bias with 3 batch entries',
      { bias: randn([3, 1, 5, 6], 1) },
      'options.bias: expected a tensor of shape [2 or 1, 2 or 1, 5, 6] ([B|1, Hq|1, Lq, Lk]), received shape [3, 1, 5, 6]. A size-1 batch or head axis is shared by every batch entry or head.',
    ],
    [
      'bias per kv head (Hkv = 1 is not Hq)',
      { bias: randn([1, 4, 5, 6], 1) },
      'options.bias: expected a tensor of shape [2 or 1, 2 or 1, 5, 6] ([B|1, Hq|1, Lq, Lk]), received shape [1, 4, 5, 6]. A size-1 batch or head axis is shared by every batch entry or head.',
    ],
    [
      'bias of rank 3',
      { bias: randn([1, 5, 6], 1) },
      'options.bias: expected a rank-4 tensor [B|1, Hq|1, Lq, Lk], received rank 3 (shape [1, 5, 6]). Reshape it: an axis of size 1 still counts as an axis.',
    ],
    [
      'bias data shorter than its shape',
      { bias: { data: new Float32Array(3), shape: [1, 1, 5, 6] } },
      'options.bias.data: expected 30 values for shape [1, 1, 5, 6], received 3 values. The data length must equal the product of the shape (row-major, contiguous).',
    ],
    [
      'bias as a bare array',
      { bias: new Float32Array(60) as never },
      'options.bias: expected a tensor { data: Float32Array, shape } [B|1, Hq|1, Lq, Lk], received Float32Array(60).',
    ],
    [
      'one sink for two heads',
      { sinks: [1] },
      'options.sinks: expected 2 finite numbers (one sink logit per query head), received [1]. A sink joins every row of its head as one extra logit with no value.',
    ],
    [
      'a NaN sink',
      { sinks: [1, Number.NaN] },
      'options.sinks: expected 2 finite numbers (one sink logit per query head), received [1, NaN]. A sink joins every row of its head as one extra logit with no value.',
    ],
    [
      'an infinite sink',
      { sinks: new Float32Array([Number.NEGATIVE_INFINITY, 0]) },
      'options.sinks: expected 2 finite numbers (one sink logit per query head), received Float32Array(2). A sink joins every row of its head as one extra logit with no value.',
    ],
    [
      'sinks as a string',
      { sinks: 'ab' as never },
      'options.sinks: expected an array or typed array of finite numbers (one per query head), received "ab".',
    ],
    [
      'an unknown option next to the new ones',
      { sinks: [0, 0], sink: [1, 2] } as never,
      "options.sink: expected only options this function knows, received unknown option 'sink'. Remove it: an option that cannot be honoured is refused rather than ignored.",
    ],
    [
      'scoreMods (a typo of scoreMod)',
      { scoreMods: [softcap(1)] } as never,
      "options.scoreMods: expected only options this function knows, received unknown option 'scoreMods'. Remove it: an option that cannot be honoured is refused rather than ignored.",
    ],
  ];
  for (const [name, options, message] of cases) {
    it(name, () => {
      const error = thrown(() => referenceAttention(q, k, k, options));
      expect(error.message).toBe(message);
      expect(error.argument).toBe(message.slice(0, message.indexOf(':')));
    });
  }
});
