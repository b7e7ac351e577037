/**
 * What linear attention refuses of the mask and score options (docs/design.md, Options of each
 * variant): every mask term but documentMask / causal / covering windows / kvLengths, and every
 * scoreMod, bias and sinks. Each gets exactly one reason naming its option, forward throws an
 * AttentionInputError naming `options` whose message carries the reasons, and a documentMask next
 * to refused options leaves only their reasons.
 */
import {
  alibi,
  andMasks,
  blockSparseMask,
  documentMask,
  globalTokensMask,
  notMask,
  orMasks,
  predicateMask,
  prefixLMMask,
  randn,
  scoreFunction,
  softcap,
  windowMask,
} from '@attnkit/core';
import { thrownInputError } from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';
import { type LinearOptions, linear, linearAttention, referenceLinearAttention } from '../index.js';
import { inputs } from './helpers.js';

// 2 query heads, Lq = Lk = 12
const { q, k, v } = inputs({ q: [1, 2, 12, 4], k: [1, 2, 12, 4], v: [1, 2, 12, 3] }, 30);

const NO_WEIGHTS =
  "linear attention never forms a row's weights one by one (they are summed into φ(K)ᵀV), so it honours only masks under which each row sees its whole document or a causal prefix of it; use dense or flash";
const SCORE_MOD = (kinds: string) =>
  `options.scoreMod: linear attention has no score matrix to modify (${kinds}: its weights φ(q)·φ(k) are never formed one by one but summed into φ(K)ᵀV); drop it, or use dense or flash`;
const BIAS =
  'options.bias: linear attention has no score matrix to add a bias to (its weights φ(q)·φ(k) are summed into φ(K)ᵀV, never formed per key); drop it, or use dense or flash';
const SINKS =
  'options.sinks: linear attention has no softmax denominator for a sink logit to join (its normaliser is φ(q)·Σφ(k)); drop it, or use dense or flash';
const PREFIX =
  'options.mask: prefixLMMask(4) is not implemented in linear attention (its forms run one full or causal running sum per document, not a bidirectional prefix followed by causal rows); use dense or flash';

const docs = documentMask([0, 5, 12]);

const refusals: [string, LinearOptions, string[]][] = [
  ['prefix-LM', { mask: prefixLMMask(4) }, [PREFIX]],
  ['global tokens', { mask: globalTokensMask([0, 7]) }, [`options.mask: globalTokensMask: ${NO_WEIGHTS}`]],
  [
    'block-sparse',
    {
      mask: blockSparseMask(
        [
          [true, false],
          [false, true],
        ],
        6,
      ),
    },
    [`options.mask: blockSparseMask: ${NO_WEIGHTS}`],
  ],
  [
    'a predicate',
    { mask: predicateMask((_b, _h, i, j) => (i + j) % 2 === 0) },
    [`options.mask: predicateMask (or a predicate function): ${NO_WEIGHTS}`],
  ],
  [
    'orMasks',
    { mask: orMasks(windowMask(1, 1), globalTokensMask([0])) },
    [`options.mask: orMasks: ${NO_WEIGHTS}`],
  ],
  ['notMask', { mask: notMask(windowMask(0, 0)) }, [`options.mask: notMask: ${NO_WEIGHTS}`]],
  [
    'a windowMask that is a band',
    { mask: windowMask(3, 0) },
    [
      'options.mask: its windowMask makes the band [3, 0]: linear attention keeps running sums over every earlier key, so it can honour no mask, causal, or a window that covers the sequence; use @attnkit/sliding-window',
    ],
  ],
  [
    'a window that is a band inside a document',
    { causal: true, window: [3, 0], mask: docs },
    [
      'options.window: linear attention keeps running sums over every earlier key, so it can honour no mask, causal, or a window that covers each document, but not the band [3, 0]; use @attnkit/sliding-window',
    ],
  ],
  [
    'a second documentMask',
    { mask: andMasks(docs, documentMask([0, 6, 12])) },
    [
      'options.mask: a second documentMask: linear attention runs one set of documents (the state resets at each); merge the offsets into one documentMask, or use dense or flash',
    ],
  ],
  ['alibi', { scoreMod: alibi([0.5, 0.25]) }, [SCORE_MOD('alibi')]],
  ['softcap', { scoreMod: softcap(30) }, [SCORE_MOD('softcap')]],
  ['a score function', { scoreMod: scoreFunction((s) => s * 2) }, [SCORE_MOD('scoreFunction')]],
  [
    'several modifiers: one reason',
    { scoreMod: [alibi([1, 1]), softcap(5), softcap(6)] },
    [SCORE_MOD('alibi, softcap')],
  ],
  ['bias', { bias: randn([1, 1, 12, 12], 31) }, [BIAS]],
  ['sinks', { sinks: [0.5, -1] }, [SINKS]],
  // a documentMask is honoured, so only the others are reasons
  [
    'documents with a score modifier and sinks',
    { causal: true, mask: docs, scoreMod: softcap(5), sinks: [0, 0] },
    [SCORE_MOD('softcap'), SINKS],
  ],
  ['documents with prefix-LM', { mask: andMasks(docs, prefixLMMask(4)) }, [PREFIX]],
  [
    'documents with global tokens and bias',
    { mask: andMasks(globalTokensMask([2]), docs), bias: randn([1, 2, 12, 12], 32) },
    [`options.mask: globalTokensMask: ${NO_WEIGHTS}`, BIAS],
  ],
];

describe('refused mask terms and score options', () => {
  for (const [what, options, expected] of refusals) {
    it(`${what}: exactly these reasons, and forward throws naming options`, () => {
      expect(linear.notSupportedReasons(q, k, v, options)).toEqual(expected);
      const error = thrownInputError(() => linearAttention(q, k, v, options));
      expect(error.argument).toBe('options');
      for (const reason of expected) expect(error.message).toContain(reason);
    });
  }

  it('the supported neighbours are not refused', () => {
    for (const options of [
      { mask: docs },
      { causal: true, mask: docs },
      { mask: andMasks(docs, windowMask(Infinity, 0)) },
      { causal: true, window: [Infinity, 0] as const, mask: docs },
    ] satisfies LinearOptions[]) {
      expect(linear.notSupportedReasons(q, k, v, options)).toEqual([]);
    }
  });
});

describe('the oracle refuses what has no meaning for linear attention', () => {
  for (const [key, options] of [
    ['options.scoreMod', { scoreMod: softcap(5) }],
    ['options.bias', { bias: randn([1, 1, 12, 12], 33) }],
    ['options.sinks', { sinks: [0, 0] }],
  ] as const) {
    it(key, () => {
      expect(thrownInputError(() => referenceLinearAttention(q, k, v, options)).argument).toBe(key);
    });
  }
});
