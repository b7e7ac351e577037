/**
 * Times the whole layer (projections + heads + attention + output projection) per variant with
 * tinybench, for a named shape (default GPT-2 small: dModel 768, 12 heads, L 1024).
 * Run: pnpm --filter @attnkit/mha bench [-- --shape gpt2-small --length 1024 --backend wasm|js --time 2000]
 * (default backend: the kernels' default engine)
 * Figures are medians over the tinybench samples; compare them as ratios within one run (the
 * machine may be shared), and read GFLOP/s against DESIGN §6's model (visible pairs only for masks;
 * linear attention does not do those FLOPs, so its column is blank).
 */
import { parseArgs } from 'node:util';
import { causal } from '@attnkit/causal';
import type { AttentionOptions, AttentionVariant } from '@attnkit/core';
import { randn } from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { flash } from '@attnkit/flash';
import { getEngine } from '@attnkit/kernels';
import { linear } from '@attnkit/linear';
import {
  linearLayer,
  type MhaBenchShapeName,
  makeMhaBenchInputs,
  mhaBenchShapes,
  mhaLayerFlops,
  multiHeadAttention,
} from '@attnkit/mha';
import { slidingWindow } from '@attnkit/sliding-window';
import { Bench } from 'tinybench';

// pnpm passes the `--` separator through; it is not an argument
const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    shape: { type: 'string', default: 'gpt2-small' },
    length: { type: 'string' },
    backend: { type: 'string' },
    time: { type: 'string', default: '2000' },
    iterations: { type: 'string', default: '3' },
    window: { type: 'string', default: '256' },
  },
});

const shapeName = values.shape as MhaBenchShapeName;
if (!(shapeName in mhaBenchShapes)) {
  throw new Error(`--shape: one of ${Object.keys(mhaBenchShapes).join(', ')}`);
}
if (values.backend !== undefined && values.backend !== 'js' && values.backend !== 'wasm') {
  throw new Error('--backend: wasm or js');
}
const backend = (values.backend as 'wasm' | 'js' | undefined) ?? getEngine().backend;
const inputs = makeMhaBenchInputs(shapeName, values.length ? { length: Number(values.length) } : {});
const { shape, x, weights } = inputs;
const window = Number(values.window);

interface Case {
  readonly group: 'bidirectional' | 'causal';
  readonly label: string;
  readonly variant: AttentionVariant;
  readonly causal: boolean;
  readonly variantOptions: AttentionOptions & Record<string, unknown>;
  readonly exact: boolean;
}

const cases: Case[] = [
  { group: 'bidirectional', label: 'dense', variant: dense, causal: false, variantOptions: {}, exact: true },
  { group: 'bidirectional', label: 'flash', variant: flash, causal: false, variantOptions: {}, exact: true },
  {
    group: 'bidirectional',
    label: `sliding-window [${window}, ${window}]`,
    variant: slidingWindow,
    causal: false,
    variantOptions: { window: [window, window] },
    exact: true,
  },
  {
    group: 'bidirectional',
    label: 'linear (elu)',
    variant: linear,
    causal: false,
    variantOptions: {},
    exact: false,
  },
  { group: 'causal', label: 'dense', variant: dense, causal: true, variantOptions: {}, exact: true },
  { group: 'causal', label: 'flash', variant: flash, causal: true, variantOptions: {}, exact: true },
  { group: 'causal', label: 'causal', variant: causal, causal: true, variantOptions: {}, exact: true },
  {
    group: 'causal',
    label: `sliding-window [${window}, 0]`,
    variant: slidingWindow,
    causal: true,
    variantOptions: { window: [window, 0] },
    exact: true,
  },
  { group: 'causal', label: 'linear (elu)', variant: linear, causal: true, variantOptions: {}, exact: false },
];

const bench = new Bench({
  time: Number(values.time),
  iterations: Number(values.iterations),
  warmup: true,
  warmupIterations: 1,
  throws: true,
});

// The projections alone (x·Wq, x·Wk, x·Wv, o·Wo with biases): the floor every variant pays.
const attended = randn([shape.batch, shape.length, shape.heads * shape.valueDim], 5);
bench.add('projections only', () => {
  linearLayer(x, weights.wq, weights.bq, { backend });
  linearLayer(x, weights.wk, weights.bk, { backend });
  linearLayer(x, weights.wv, weights.bv, { backend });
  linearLayer(attended, weights.wo, weights.bo, { backend });
});
for (const c of cases) {
  bench.add(`${c.group} ${c.label}`, () => {
    multiHeadAttention(x, weights, {
      ...inputs.options,
      variant: c.variant,
      causal: c.causal,
      variantOptions: { ...c.variantOptions, backend },
    });
  });
}

console.log(
  `@attnkit/mha layer bench: ${shapeName} (${shape.source}), B ${shape.batch}, L ${shape.length}, dModel ${shape.dModel}, ` +
    `Hq ${shape.heads}, Hkv ${shape.kvHeads}, d ${shape.headDim}; backend ${backend}, 1 thread; node ${process.version}`,
);
await bench.run();

function medianOf(name: string): number {
  const task = bench.tasks.find((t) => t.name === name);
  const result = task?.result as { latency?: { p50: number } } | undefined;
  if (!result?.latency) throw new Error(`no result for ${name}`);
  return result.latency.p50;
}

const rows: string[][] = [['case', 'median ms', 'layer GFLOP/s', 'vs dense (same mask)']];
const projectionMs = medianOf('projections only');
const projectionFlops = mhaLayerFlops(shape).projections;
rows.push([
  'projections only',
  projectionMs.toFixed(1),
  (projectionFlops / projectionMs / 1e6).toFixed(1),
  '',
]);
for (const c of cases) {
  const ms = medianOf(`${c.group} ${c.label}`);
  const denseMs = medianOf(`${c.group} dense`);
  const windowOption = c.variantOptions.window as readonly [number, number] | undefined;
  const flops = mhaLayerFlops(
    shape,
    windowOption ? { causal: c.causal, window: windowOption } : { causal: c.causal },
  );
  rows.push([
    `${c.group} ${c.label}`,
    ms.toFixed(1),
    c.exact ? (flops.total / ms / 1e6).toFixed(1) : '',
    `${(ms / denseMs).toFixed(2)}×`,
  ]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
