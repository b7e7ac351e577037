/**
 * A pre-norm transformer block over a toy character sequence, its attention run with every variant.
 * Run: npx -y pnpm@12.4.2 --filter @attnkit/mha examples (or, once compiled,
 * node packages/mha/build/examples/transformer-block.js).
 *
 * The block is a causal language-model block, so the reference is dense attention with the causal
 * mask. Exact variants must match it to float32 rounding (roundingBound in toy-block.ts; the process
 * exits with code 1 when one does not); a narrow sliding window and linear attention compute other
 * functions, and their distance is printed as a measurement, not an error.
 */

import { causal } from '@attnkit/causal';
import type { AttentionOptions, AttentionVariant } from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { flash } from '@attnkit/flash';
import { type Backend, getEngine } from '@attnkit/kernels';
import { linear } from '@attnkit/linear';
import { multiHeadAttention } from '@attnkit/mha';
import { slidingWindow } from '@attnkit/sliding-window';
import {
  createToyModel,
  embed,
  encode,
  isMain,
  maxAbsDifference,
  ROUNDING_ULPS,
  roundingBound,
  TOY_TEXT,
  type ToyModel,
  transformerBlock,
} from './toy-block.js';

interface Run {
  readonly label: string;
  readonly variant: AttentionVariant;
  readonly variantOptions: AttentionOptions & Record<string, unknown>;
  /** Whether this run computes the same function as dense with the causal mask. */
  readonly exact: boolean;
  readonly note: string;
}

export interface VariantDistance {
  readonly label: string;
  readonly exact: boolean;
  /** max |y − y_dense| over the block's output. */
  readonly difference: number;
  readonly note: string;
}

export interface TransformerBlockResult {
  readonly tokens: number;
  readonly backend: Backend;
  /** What an exact variant's difference is held to (ROUNDING_ULPS ulps of max |y_dense|). */
  readonly bound: number;
  readonly rows: readonly VariantDistance[];
}

function runs(length: number): Run[] {
  return [
    { label: 'dense', variant: dense, variantOptions: {}, exact: true, note: 'reference' },
    {
      label: 'flash',
      variant: flash,
      variantOptions: { blockQ: 16, blockK: 16 },
      exact: true,
      note: 'exact: float32 rounding',
    },
    { label: 'causal', variant: causal, variantOptions: {}, exact: true, note: 'exact: float32 rounding' },
    {
      label: `sliding-window [${length}, 0]`,
      variant: slidingWindow,
      variantOptions: { window: [length, 0] },
      exact: true,
      note: 'window covers the sequence: exact',
    },
    {
      label: 'sliding-window [8, 0]',
      variant: slidingWindow,
      variantOptions: { window: [8, 0] },
      exact: false,
      note: 'local attention: a different function',
    },
    {
      label: 'linear (elu+1)',
      variant: linear,
      variantOptions: { featureMap: 'elu' },
      exact: false,
      note: 'a different function',
    },
  ];
}

function runBlock(model: ToyModel, tokens: readonly number[], run: Run): Float32Array {
  return transformerBlock(model, embed(model, tokens), (normed) =>
    multiHeadAttention(normed, model.attention, {
      heads: model.heads,
      kvHeads: model.kvHeads,
      causal: true,
      variant: run.variant,
      variantOptions: run.variantOptions,
    }),
  ).data;
}

/** Runs the block with every variant, prints the table through `log` and returns it. */
export function main(log: (line: string) => void = console.log): TransformerBlockResult {
  const model = createToyModel();
  const tokens = encode(model, TOY_TEXT);
  const backend = getEngine().backend;
  const all = runs(tokens.length);
  const reference = runBlock(model, tokens, all[0]!);
  const bound = roundingBound(reference);
  const rows = all.map((run) => ({
    label: run.label,
    exact: run.exact,
    difference: maxAbsDifference(runBlock(model, tokens, run), reference),
    note: run.note,
  }));

  log(
    `Pre-norm transformer block: dModel ${model.dModel}, ${model.heads} query heads / ${model.kvHeads} kv heads (GQA), ` +
      `MLP ${4 * model.dModel}, GELU; ${tokens.length} tokens of "${TOY_TEXT}"; ${backend} backend`,
  );
  const table: string[][] = [['variant', 'max |y - y_dense|', 'note']];
  for (const row of rows) table.push([row.label, row.difference.toExponential(2), row.note]);
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  for (const row of table)
    log(
      row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    );
  log(
    `float32 rounding here: at most ${bound.toExponential(2)} (${ROUNDING_ULPS} float32 ulps of max |y_dense|)`,
  );
  return { tokens: tokens.length, backend, bound, rows };
}

if (isMain(import.meta.url)) {
  const result = main();
  const failed = result.rows.filter((row) => row.exact && !(row.difference <= result.bound));
  if (failed.length > 0) {
    console.error(
      `transformer-block: not exact to float32 rounding: ${failed.map((row) => row.label).join(', ')}`,
    );
    process.exitCode = 1;
  }
}
