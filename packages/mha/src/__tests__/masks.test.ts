/**
 * The layer passes masks and score modifiers through to its variant (docs/design.md, Masks): a
 * closed-form check with no oracle in between. Projections act per token, so a layer over documents
 * packed into one sequence with documentMask must equal the layer run on each document alone; ALiBi
 * and sinks change the result and the refused combinations name the option under variantOptions.
 */
import { alibi, alibiSlopes, documentMask, randn, type Tensor } from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { flash } from '@attnkit/flash';
import { linear } from '@attnkit/linear';
import { describe, expect, it } from 'vitest';
import { initMultiHeadWeights, multiHeadAttention } from '../index.js';

const D_MODEL = 24;
const HEADS = 4;
const KV_HEADS = 2;
const weights = initMultiHeadWeights({
  dModel: D_MODEL,
  heads: HEADS,
  kvHeads: KV_HEADS,
  headDim: 8,
  seed: 3,
});
const lengths = [5, 1, 0, 17, 9];
const offsets = lengths.reduce<number[]>((acc, n) => [...acc, acc.at(-1)! + n], [0]);
const total = offsets.at(-1)!;
const x = randn([1, total, D_MODEL], 11);

/** Tokens [from, to) of x as their own [1, to − from, dModel] sequence. */
function slice(t: Tensor, from: number, to: number): Tensor {
  return { data: t.data.slice(from * D_MODEL, to * D_MODEL), shape: [1, to - from, D_MODEL] };
}

/** Float32 rounding through the layer's four stages is below 1e-5 here (layer.test.ts, TOLERANCE). */
const ATOL = 1e-5;

describe('masks through the layer', () => {
  for (const [name, variant] of [
    ['dense', dense],
    ['flash', flash],
  ] as const) {
    it(`${name}: packed documents equal each document alone (causal, ALiBi, GQA)`, () => {
      const scoreMod = alibi(alibiSlopes(HEADS));
      const packed = multiHeadAttention(x, weights, {
        heads: HEADS,
        kvHeads: KV_HEADS,
        variant,
        causal: true,
        variantOptions: { mask: documentMask(offsets), scoreMod },
      });
      for (let d = 0; d < lengths.length; d++) {
        if (lengths[d] === 0) continue;
        const alone = multiHeadAttention(slice(x, offsets[d]!, offsets[d + 1]!), weights, {
          heads: HEADS,
          kvHeads: KV_HEADS,
          variant,
          causal: true,
          variantOptions: { scoreMod },
        });
        const part = packed.data.subarray(offsets[d]! * D_MODEL, offsets[d + 1]! * D_MODEL);
        let worst = 0;
        for (let i = 0; i < part.length; i++) worst = Math.max(worst, Math.abs(part[i]! - alone.data[i]!));
        expect(worst).toBeLessThan(ATOL);
      }
      // and the mask matters: without it the packed run differs by O(0.1) somewhere
      const unmasked = multiHeadAttention(x, weights, {
        heads: HEADS,
        kvHeads: KV_HEADS,
        variant,
        causal: true,
      });
      let moved = 0;
      for (let i = 0; i < packed.data.length; i++)
        moved = Math.max(moved, Math.abs(packed.data[i]! - unmasked.data[i]!));
      expect(moved).toBeGreaterThan(1e-2);
    });
  }

  it('sinks change the output and a variant that refuses an option names it', () => {
    const plain = multiHeadAttention(x, weights, { heads: HEADS, kvHeads: KV_HEADS, variant: flash });
    const sunk = multiHeadAttention(x, weights, {
      heads: HEADS,
      kvHeads: KV_HEADS,
      variant: flash,
      variantOptions: { sinks: [0, 1, 2, 3] },
    });
    let moved = 0;
    for (let i = 0; i < plain.data.length; i++)
      moved = Math.max(moved, Math.abs(plain.data[i]! - sunk.data[i]!));
    expect(moved).toBeGreaterThan(1e-3);
    expect(() =>
      multiHeadAttention(x, weights, {
        heads: HEADS,
        kvHeads: KV_HEADS,
        variant: linear,
        variantOptions: { sinks: [0, 1, 2, 3] },
      }),
    ).toThrow(/sinks/);
  });
});
