/**
 * A pre-norm transformer block over a toy character sequence, its attention run with every variant.
 * Run: node packages/mha/dist/examples/transformer-block.js
 *
 * The block is a causal language-model block, so the reference is dense attention with the causal
 * mask. Exact variants must match it to float32 rounding; a narrow sliding window and linear
 * attention compute other functions, and their distance is printed as a measurement, not an error.
 */

import { causal } from '@attnkit/causal';
import type { AttentionOptions, AttentionVariant } from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { flash } from '@attnkit/flash';
import { getEngine } from '@attnkit/kernels';
import { linear } from '@attnkit/linear';
import { slidingWindow } from '@attnkit/sliding-window';
import { multiHeadAttention } from '../multi-head-attention.js';
import { createToyModel, embed, encode, maxAbsDifference, TOY_TEXT, transformerBlock } from './toy-block.js';

interface Run {
  readonly label: string;
  readonly variant: AttentionVariant;
  readonly variantOptions: AttentionOptions & Record<string, unknown>;
  readonly note: string;
}

const model = createToyModel();
const tokens = encode(model, TOY_TEXT);
const length = tokens.length;
const x = embed(model, tokens);

function runBlock(run: Run): Float32Array {
  return transformerBlock(model, x, (normed) =>
    multiHeadAttention(normed, model.attention, {
      heads: model.heads,
      kvHeads: model.kvHeads,
      causal: true,
      variant: run.variant,
      variantOptions: run.variantOptions,
    }),
  ).data;
}

const runs: Run[] = [
  { label: 'dense', variant: dense, variantOptions: {}, note: 'reference' },
  {
    label: 'flash',
    variant: flash,
    variantOptions: { blockQ: 16, blockK: 16 },
    note: 'exact: float32 rounding',
  },
  { label: 'causal', variant: causal, variantOptions: {}, note: 'exact: float32 rounding' },
  {
    label: `sliding-window [${length}, 0]`,
    variant: slidingWindow,
    variantOptions: { window: [length, 0] },
    note: 'window covers the sequence: exact',
  },
  {
    label: 'sliding-window [8, 0]',
    variant: slidingWindow,
    variantOptions: { window: [8, 0] },
    note: 'local attention: a different function',
  },
  {
    label: 'linear (elu+1)',
    variant: linear,
    variantOptions: { featureMap: 'elu' },
    note: 'a different function',
  },
];

console.log(
  `Pre-norm transformer block: dModel ${model.dModel}, ${model.heads} query heads / ${model.kvHeads} kv heads (GQA), ` +
    `MLP ${4 * model.dModel}, GELU; ${length} tokens of "${TOY_TEXT}"; ${getEngine().backend} backend`,
);
const reference = runBlock(runs[0]!);
const rows: string[][] = [['variant', 'max |y - y_dense|', 'note']];
for (const run of runs) {
  const y = runBlock(run);
  rows.push([run.label, maxAbsDifference(y, reference).toExponential(2), run.note]);
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
