/** validateAttentionInputs and friends: every malformed class names its argument; valid calls normalise. */
import {
  AttentionInputError,
  assertSupported,
  attentionOptionsSchema,
  defaultScale,
  parseAttentionCall,
  parseCachedAttentionCall,
  parseOptions,
  parseTensor,
  randn,
  tensor,
  validateAttentionInputs,
  z,
  zeros,
} from '@attnkit/core';
import { malformedInputs, thrownInputError as thrown } from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';

describe('every malformed-input class', () => {
  for (const m of malformedInputs()) {
    it(`${m.name} → ${m.argument}`, () => {
      const { q, k, v, options } = m.build();
      const error = thrown(() => validateAttentionInputs(q, k, v, options));
      expect(error.argument, error.message).toBe(m.argument);
      expect(error.message.startsWith(`${m.argument}: expected `)).toBe(true);
      expect(error.expected.length).toBeGreaterThan(0);
      expect(error.received.length).toBeGreaterThan(0);
    });
  }
});

describe('messages say what is wrong and how to fix it', () => {
  it('GQA head mismatch', () => {
    const error = thrown(() =>
      validateAttentionInputs(randn([1, 6, 2, 4], 1), randn([1, 4, 2, 4], 2), randn([1, 4, 2, 4], 3)),
    );
    expect(error.message).toContain('k has 4 heads but q has 6: Hq must be a multiple of Hkv');
  });

  it('rank', () => {
    const error = thrown(() =>
      validateAttentionInputs(randn([2, 4, 8], 1), randn([1, 1, 2, 8], 2), randn([1, 1, 2, 8], 3)),
    );
    expect(error.message).toContain('rank-4 tensor [B, Hq, Lq, Dk]');
    expect(error.received).toContain('rank 3');
  });

  it('window', () => {
    const q = randn([1, 1, 2, 2], 1);
    const error = thrown(() => validateAttentionInputs(q, q, q, { window: [1, -2] }));
    expect(error.message).toBe(
      'options.window: expected a [left, right] pair of non-negative integers or Infinity, received [1, -2].',
    );
  });

  it('kvLengths out of range names the index', () => {
    const q = randn([2, 1, 2, 2], 1);
    const error = thrown(() => validateAttentionInputs(q, q, q, { kvLengths: [2, 3] }));
    expect(error.expected).toBe('integers in [0, 2] (Lk)');
    expect(error.received).toBe('3 at index 1');
  });
});

describe('normalised problem', () => {
  const q = randn([2, 6, 3, 8], 1);
  const k = randn([2, 2, 5, 8], 2);
  const v = randn([2, 2, 5, 7], 3);

  it('reads the dimensions and defaults', () => {
    const p = validateAttentionInputs(q, k, v);
    expect(p).toMatchObject({
      batch: 2,
      qHeads: 6,
      kvHeads: 2,
      groupSize: 3,
      qLength: 3,
      kvLength: 5,
      headDim: 8,
      valueDim: 7,
      scale: defaultScale(8),
      causal: false,
      windowLeft: Number.POSITIVE_INFINITY,
      windowRight: Number.POSITIVE_INFINITY,
      hasKvLengths: false,
      masked: false,
    });
    expect(Array.from(p.validKeys)).toEqual([5, 5]);
    expect(defaultScale(8)).toBe(1 / Math.sqrt(8));
  });

  it('folds causal into the window and flags masks', () => {
    expect(validateAttentionInputs(q, k, v, { causal: true })).toMatchObject({
      windowRight: 0,
      masked: true,
    });
    expect(validateAttentionInputs(q, k, v, { causal: true, window: [3, 0] })).toMatchObject({
      windowLeft: 3,
      windowRight: 0,
    });
    const padded = validateAttentionInputs(q, k, v, { kvLengths: new Uint8Array([5, 0]) });
    expect(padded.masked).toBe(true);
    expect(Array.from(padded.validKeys)).toEqual([5, 0]);
    // kvLengths that pad nothing are no mask.
    expect(validateAttentionInputs(q, k, v, { kvLengths: [5, 5] })).toMatchObject({
      hasKvLengths: true,
      masked: false,
    });
  });

  it('accepts negative scales (valid maths), out and lse of the right size', () => {
    const out = zeros([2, 6, 3, 7]);
    const lse = new Float32Array(2 * 6 * 3);
    const call = parseAttentionCall(q, k, v, {
      scale: -0.5,
      out,
      lse,
      window: [Number.POSITIVE_INFINITY, 2],
    });
    expect(call.problem.scale).toBe(-0.5);
    expect(call.out).toBe(out);
    expect(call.lse).toBe(lse);
    expect(call.problem.windowRight).toBe(2);
  });
});

describe('parseOptions and assertSupported', () => {
  const schema = attentionOptionsSchema
    .extend({ blockQ: z.number().int().positive().optional(), mode: z.enum(['a', 'b']).optional() })
    .strict();

  it('names the option and phrases zod issues as expectations', () => {
    expect(thrown(() => parseOptions(schema, { blockQ: 0 })).message).toBe(
      'options.blockQ: expected a number > 0, received 0.',
    );
    expect(thrown(() => parseOptions(schema, { blockQ: 2.5 })).expected).toBe('an integer');
    expect(thrown(() => parseOptions(schema, { mode: 'c' })).expected).toBe('one of "a", "b"');
    expect(thrown(() => parseOptions(schema, { typo: 1 })).argument).toBe('options.typo');
    expect(thrown(() => parseOptions(schema, 'x')).argument).toBe('options');
    expect(thrown(() => parseOptions(schema, { blockQ: -1 }, 'layerOptions')).argument).toBe(
      'layerOptions.blockQ',
    );
  });

  it('returns the parsed options, keeping typed arrays and tensors by reference', () => {
    const lse = new Float32Array(3);
    const parsed = parseOptions(schema, { blockQ: 16, lse });
    expect(parsed.blockQ).toBe(16);
    expect(parsed.lse).toBe(lse);
    expect(parseOptions(schema, undefined)).toEqual({});
  });

  it('assertSupported lists the reasons under options', () => {
    expect(() => assertSupported('flash', [])).not.toThrow();
    const error = thrown(() =>
      assertSupported('linear', ['lse is not defined for linear attention', 'causal']),
    );
    expect(error.argument).toBe('options');
    expect(error.message).toContain('lse is not defined for linear attention; causal');
  });
});

describe('tensor constructors', () => {
  it('tensor wraps a Float32Array, copies a number array, and checks the length', () => {
    const data = new Float32Array(6);
    expect(tensor(data, [2, 3]).data).toBe(data);
    expect(Array.from(tensor([1, 2, 3, 4], [2, 2]).data)).toEqual([1, 2, 3, 4]);
    expect(thrown(() => tensor(data, [4, 2])).argument).toBe('data');
    expect(thrown(() => tensor(data, [6, 0])).argument).toBe('shape');
    expect(thrown(() => tensor(new Float64Array(6) as never, [6])).argument).toBe('data');
  });

  it('zeros and randn check shapes too', () => {
    expect(zeros([2, 2]).data).toEqual(new Float32Array(4));
    expect(thrown(() => zeros([2, -1])).argument).toBe('shape');
    expect(thrown(() => randn([1.5], 1)).argument).toBe('shape');
  });
});

describe('parseTensor (every tensor argument at a public boundary)', () => {
  const expectError = (fn: () => unknown, argument: string, pattern: RegExp) => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(AttentionInputError);
      expect((error as AttentionInputError).argument).toBe(argument);
      expect((error as Error).message).toMatch(pattern);
      return;
    }
    throw new Error(`expected an AttentionInputError naming ${argument}`);
  };

  it('returns a well-formed tensor as it is', () => {
    const t = { data: new Float32Array(6), shape: [2, 3] };
    expect(parseTensor(t, 'weights.wq', { rank: 2 })).toBe(t);
  });

  it('names the argument for a wrong structure, a wrong rank and a data length off the shape', () => {
    expectError(() => parseTensor({ data: [1, 2], shape: [2] }, 'k'), 'k.data', /Float32Array/);
    expectError(
      () =>
        parseTensor({ data: new Float32Array(6), shape: [2, 3] }, 'k', { rank: 4, dims: 'B, Hkv, Lnew, Dk' }),
      'k',
      /rank-4 tensor \[B, Hkv, Lnew, Dk\].*rank 2/,
    );
    expectError(
      () => parseTensor({ data: new Float32Array(5), shape: [2, 3] }, 'context'),
      'context.data',
      /6 values/,
    );
  });
});

describe('bound messages read as English for every zod origin', () => {
  const bounded = z
    .object({
      n: z.number().max(3).optional(),
      i: z.number().int().optional(),
      few: z.array(z.number()).min(2).optional(),
      many: z.array(z.number()).max(1).optional(),
      pair: z.array(z.number()).length(2).optional(),
      name: z.string().min(2).optional(),
      short: z.string().max(2).optional(),
      set: z.set(z.number()).min(1).optional(),
      big: z.bigint().max(2n).optional(),
      positive: z.number().positive().optional(),
    })
    .strict();
  const expected = (options: object) => thrown(() => parseOptions(bounded, options)).expected;

  it('an integer beyond the safe range is "an integer <= 2^53 - 1", not "a int … long"', () => {
    expect(thrown(() => parseOptions(bounded, { i: 2 ** 53 })).message).toBe(
      'options.i: expected an integer <= 9007199254740991, received 9007199254740992.',
    );
    expect(expected({ i: -(2 ** 53) })).toBe('an integer >= -9007199254740991');
  });

  it('numbers, arrays, strings, sets and bigints each get their own wording', () => {
    expect(expected({ n: 4 })).toBe('a number <= 3');
    expect(expected({ positive: 0 })).toBe('a number > 0');
    expect(expected({ few: [1] })).toBe('an array of at least 2 items');
    expect(expected({ many: [1, 2] })).toBe('an array of at most 1 item');
    expect(expected({ pair: [1] })).toBe('an array of exactly 2 items');
    expect(expected({ pair: [1, 2, 3] })).toBe('an array of exactly 2 items');
    expect(expected({ name: 'a' })).toBe('a string of at least 2 characters');
    expect(expected({ short: 'abc' })).toBe('a string of at most 2 characters');
    expect(expected({ set: new Set() })).toBe('a set of at least 1 item');
    expect(expected({ big: 3n })).toBe('a bigint <= 2');
  });
});

describe('a tensor argument given as bare data', () => {
  it('a Float32Array passed as q says a tensor { data, shape } was expected, with the wrapping fix', () => {
    const k = zeros([1, 1, 2, 4]);
    const error = thrown(() => validateAttentionInputs(new Float32Array(8) as never, k, k));
    expect(error.argument).toBe('q');
    expect(error.message).toBe(
      'q: expected a tensor { data: Float32Array, shape: number[] }, received a Float32Array(8) without a shape. ' +
        'Wrap it: { data: x, shape: [B, Hq, Lq, Dk] }.',
    );
  });

  it('any parseTensor argument: a typed or plain array is named as such, the fix uses the dims given', () => {
    const bare = thrown(() => parseTensor(new Float32Array(6), 'weights.wq', { rank: 2, dims: 'D, D' }));
    expect(bare.argument).toBe('weights.wq');
    expect(bare.expected).toBe('a tensor { data: Float32Array, shape: number[] }');
    expect(bare.received).toBe('a Float32Array(6) without a shape');
    expect(bare.fix).toBe('Wrap it: { data: x, shape: [D, D] }.');
    const list = thrown(() => parseTensor([1, 2, 3], 'context'));
    expect(list.argument).toBe('context');
    expect(list.received).toBe('an array [1, 2, 3] without a shape');
    expect(list.fix).toBe('Wrap it: { data: Float32Array.from(x), shape: [...] }.');
    const wide = thrown(() => parseTensor(new Float64Array(2), 'k'));
    expect(wide.received).toBe('a Float64Array(2) without a shape');
    expect(wide.fix).toBe('Wrap it: { data: Float32Array.from(x), shape: [...] }.');
  });
});

describe('assertSupported fix text', () => {
  it('points other variants to dense, but not dense to itself', () => {
    expect(thrown(() => assertSupported('flash', ['x'])).fix).toBe(
      'Change the options, or use a variant that supports them (dense supports every option).',
    );
    const own = thrown(() => assertSupported('dense', ['x']));
    expect(own.message).not.toContain('dense supports every option');
    expect(own.fix).toBe('Change the call as the reasons say.');
  });
});

describe('parseCachedAttentionCall: a call over keys and values known by their dims alone (a KV cache)', () => {
  const dims = { batch: 2, kvHeads: 2, kvLength: 7, headDim: 8, valueDim: 6 };
  const k = zeros([2, 2, 7, 8]);
  const v = zeros([2, 2, 7, 6]);
  const q = randn([2, 4, 3, 8], 1);
  const both = (qArg: unknown, options: unknown) => [
    () => parseAttentionCall(qArg as never, k, v, options),
    () => parseCachedAttentionCall(qArg as never, dims, options),
  ];

  it('returns the problem parseAttentionCall returns over tensors of those dims', () => {
    const options = { causal: true, window: [3, 0] as const, kvLengths: [7, 2], scale: 0.5 };
    expect(parseCachedAttentionCall(q, dims, options).problem).toEqual(
      parseAttentionCall(q, k, v, options).problem,
    );
  });

  for (const [name, qArg, options] of [
    ['kvLengths past Lk', q, { kvLengths: [8, 1] }],
    ['an out of the wrong shape', q, { out: zeros([2, 4, 3, 8]) }],
    ['an lse of the wrong length', q, { lse: new Float32Array(3) }],
    ["lse sharing q's memory", q, { lse: q.data.subarray(0, 24) }],
    ['q with another head dim', randn([2, 4, 3, 5], 2), {}],
    ['q heads that do not group over the kv heads', randn([2, 3, 3, 8], 3), {}],
    ['q of another batch', randn([1, 4, 3, 8], 4), {}],
    ['an unknown option', q, { widnow: [1, 0] }],
  ] as const) {
    it(`refuses ${name} with the same error`, () => {
      const [plain, cached] = both(qArg, options);
      const expected = thrown(plain!);
      const error = thrown(cached!);
      expect(error.argument).toBe(expected.argument);
      expect(error.message).toBe(expected.message);
    });
  }
});
