import { causal, createKVCache } from '@attnkit/causal';
import { AttentionInputError, randn, type Tensor, zeros } from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { flash } from '@attnkit/flash';
import { describe, expect, it } from 'vitest';
import {
  createMultiHeadDecoder,
  initMultiHeadWeights,
  linearLayer,
  type MultiHeadWeights,
  multiHeadAttention,
} from '../index.js';

const dModel = 16;
const weights = initMultiHeadWeights({ dModel, heads: 4, kvHeads: 2, headDim: 8, bias: true, seed: 1 });
const x = randn([2, 5, dModel], 2);
const good = { heads: 4, kvHeads: 2, variant: dense };

/** Runs `call`, expects an AttentionInputError naming `argument` (and `fragment` in its message). */
function expectInputError(call: () => unknown, argument: string, fragment?: string): void {
  let caught: unknown;
  try {
    call();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected an AttentionInputError naming ${argument}`).toBeInstanceOf(AttentionInputError);
  const error = caught as AttentionInputError;
  expect(error.argument).toBe(argument);
  expect(error.message.startsWith(`${argument}: expected `)).toBe(true);
  if (fragment) expect(error.message).toContain(fragment);
}

function withWeights(changes: Partial<Record<keyof MultiHeadWeights, unknown>>): MultiHeadWeights {
  return { ...weights, ...changes } as MultiHeadWeights;
}

describe('multiHeadAttention refuses malformed input, naming the argument', () => {
  it('the good call runs (so each case below fails for its own reason)', () => {
    expect(multiHeadAttention(x, weights, good).shape).toEqual([2, 5, dModel]);
  });

  const cases: readonly [string, () => unknown, string, string?][] = [
    ['x is null', () => multiHeadAttention(null as unknown as Tensor, weights, good), 'x'],
    [
      'x.data is a Float64Array',
      () =>
        multiHeadAttention(
          { data: new Float64Array(160), shape: [2, 5, 16] } as unknown as Tensor,
          weights,
          good,
        ),
      'x.data',
      'Float32Array',
    ],
    ['x has rank 2', () => multiHeadAttention(zeros([10, dModel]), weights, good), 'x', 'rank-3'],
    [
      'x.data length differs from its shape',
      () => multiHeadAttention({ data: new Float32Array(159), shape: [2, 5, 16] }, weights, good),
      'x.data',
      '160 elements',
    ],
    ['x width is not dModel', () => multiHeadAttention(zeros([2, 5, 12]), weights, good), 'x', 'dModel = 16'],
    ['weights.wk missing', () => multiHeadAttention(x, withWeights({ wk: undefined }), good), 'weights.wk'],
    [
      'an unknown weight',
      () => multiHeadAttention(x, { ...weights, wz: zeros([2, 2]) } as MultiHeadWeights, good),
      'weights.wz',
    ],
    [
      'wq columns not a multiple of heads',
      () => multiHeadAttention(x, withWeights({ wq: zeros([dModel, 30]) }), good),
      'weights.wq',
      'multiple of heads = 4',
    ],
    [
      'wk columns differ from kvHeads·dk',
      () =>
        multiHeadAttention(
          zeros([1, 3, dModel]),
          {
            wq: zeros([dModel, 256]),
            wk: zeros([dModel, 96]),
            wv: zeros([dModel, 128]),
            wo: zeros([256, dModel]),
          },
          { heads: 4, kvHeads: 2 },
        ),
      'weights.wk',
      'kvHeads·dk = 2·64 = 128',
    ],
    [
      'wk rows differ from dModel',
      () => multiHeadAttention(x, withWeights({ wk: zeros([12, 16]) }), good),
      'weights.wk',
      '16 rows',
    ],
    [
      'wv columns not a multiple of kvHeads',
      () => multiHeadAttention(x, withWeights({ wv: zeros([dModel, 15]) }), good),
      'weights.wv',
    ],
    [
      'wo shape wrong',
      () => multiHeadAttention(x, withWeights({ wo: zeros([16, 32]) }), good),
      'weights.wo',
      '[32, 16]',
    ],
    [
      'wo of rank 3',
      () => multiHeadAttention(x, withWeights({ wo: zeros([2, 16, 16]) }), good),
      'weights.wo',
      'rank-2',
    ],
    [
      'bq of the wrong width',
      () => multiHeadAttention(x, withWeights({ bq: zeros([16]) }), good),
      'weights.bq',
      '[32]',
    ],
    [
      'bk of rank 2',
      () => multiHeadAttention(x, withWeights({ bk: zeros([1, 16]) }), good),
      'weights.bk',
      'rank-1',
    ],
    [
      'bo of the wrong width',
      () => multiHeadAttention(x, withWeights({ bo: zeros([32]) }), good),
      'weights.bo',
      '[16]',
    ],
    ['heads missing', () => multiHeadAttention(x, weights, {} as never), 'options.heads'],
    ['heads fractional', () => multiHeadAttention(x, weights, { heads: 2.5 }), 'options.heads'],
    [
      'kvHeads not dividing heads',
      () => multiHeadAttention(x, weights, { heads: 4, kvHeads: 3 }),
      'options.kvHeads',
      'divisor',
    ],
    [
      'context of another batch',
      () => multiHeadAttention(x, weights, { ...good, context: zeros([3, 7, dModel]) }),
      'options.context',
    ],
    [
      'context of another width',
      () => multiHeadAttention(x, weights, { ...good, context: zeros([2, 7, 8]) }),
      'options.context',
    ],
    [
      'context of rank 2',
      () => multiHeadAttention(x, weights, { ...good, context: zeros([7, 16]) }),
      'options.context',
    ],
    [
      'variant is not a variant',
      () => multiHeadAttention(x, weights, { heads: 4, kvHeads: 2, variant: { name: 'mine' } as never }),
      'options.variant',
    ],
    [
      'a variant option at the top level',
      () => multiHeadAttention(x, weights, { ...good, window: [2, 0] } as never),
      'options.window',
    ],
    [
      'variantOptions.out',
      () =>
        multiHeadAttention(x, weights, { ...good, variantOptions: { out: zeros([2, 4, 5, 8]) } as never }),
      'options.variantOptions.out',
    ],
    [
      'causal given twice, differently',
      () => multiHeadAttention(x, weights, { ...good, causal: true, variantOptions: { causal: false } }),
      'options.causal',
    ],
    [
      'an unknown backend',
      () => multiHeadAttention(x, weights, { ...good, variantOptions: { backend: 'gpu' } as never }),
      'options.variantOptions.backend',
    ],
    [
      "the variant's own option error, renamed to where the caller put it",
      () =>
        multiHeadAttention(x, weights, {
          heads: 4,
          kvHeads: 2,
          variant: flash,
          variantOptions: { blockQ: -1 } as never,
        }),
      'options.variantOptions.blockQ',
      'flash',
    ],
    [
      'kvLengths of the wrong length, through the variant',
      () => multiHeadAttention(x, weights, { ...good, variantOptions: { kvLengths: [5] } }),
      'options.variantOptions.kvLengths',
    ],
  ];
  for (const [name, call, argument, fragment] of cases) {
    it(name, () => expectInputError(call, argument, fragment));
  }

  it("an unknown key in variantOptions is named under options.variantOptions, the variant's words kept", () => {
    let caught: unknown;
    try {
      multiHeadAttention(x, weights, {
        heads: 4,
        kvHeads: 2,
        variant: causal,
        causal: true,
        variantOptions: { widnow: [2, 0] } as never,
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AttentionInputError);
    const error = caught as AttentionInputError;
    expect(error.argument).toBe('options.variantOptions.widnow');
    expect(error.expected).toBe('only options this function knows');
    expect(error.received).toBe("unknown option 'widnow'");
    expect(error.fix).toBe(
      'Remove it: an option that cannot be honoured is refused rather than ignored. (Raised by the causal variant.)',
    );
  });
});

describe('the other entry points refuse malformed input too', () => {
  it('initMultiHeadWeights: kvHeads must divide heads', () =>
    expectInputError(
      () => initMultiHeadWeights({ dModel, heads: 6, kvHeads: 4, headDim: 8, seed: 1 }),
      'options.kvHeads',
    ));
  it('initMultiHeadWeights: dModel must be a positive integer', () =>
    expectInputError(
      () => initMultiHeadWeights({ dModel: 0, heads: 2, headDim: 8, seed: 1 }),
      'options.dModel',
    ));
  it('initMultiHeadWeights: the seed must be an integer', () =>
    expectInputError(
      () => initMultiHeadWeights({ dModel, heads: 2, headDim: 8, seed: 0.5 }),
      'options.seed',
    ));
  it('linearLayer: weight rows must match the last dimension of x', () =>
    expectInputError(() => linearLayer(x, zeros([8, 4])), 'weight', '16 rows'));
  it('linearLayer: bias must have the output width', () =>
    expectInputError(() => linearLayer(x, zeros([16, 4]), zeros([5])), 'bias', '[4]'));
  it('linearLayer: an option it cannot honour (threads) is refused', () =>
    expectInputError(
      () => linearLayer(x, zeros([16, 4]), undefined, { threads: 2 } as never),
      'options.threads',
    ));
  it('createMultiHeadDecoder: a cache factory, when given, must be a function', () =>
    expectInputError(
      () => createMultiHeadDecoder(weights, { heads: 4, kvHeads: 2, createKVCache: 'causal' } as never),
      'options.createKVCache',
    ));
  it('createMultiHeadDecoder: the weights are checked', () =>
    expectInputError(
      () =>
        createMultiHeadDecoder(withWeights({ wo: zeros([8, 16]) }), { heads: 4, kvHeads: 2, createKVCache }),
      'weights.wo',
    ));
  it('decoder.step: xNew must be [B, T, dModel]', () => {
    const decoder = createMultiHeadDecoder(weights, { heads: 4, kvHeads: 2, createKVCache });
    expectInputError(() => decoder.step(zeros([1, 1, 8])), 'xNew', 'dModel');
    expectInputError(() => decoder.step(zeros([2, 1, dModel])), 'xNew');
    expect(decoder.length).toBe(0); // a refused step leaves the cache untouched
  });
});
