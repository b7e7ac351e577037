/**
 * Times the whole layer (projections + heads + attention + output projection) per variant with
 * tinybench, for a named shape (default GPT-2 small: dModel 768, 12 heads, L 1024).
 * Run: pnpm --filter @attnkit/mha bench [-- --shape gpt2-small --length 1024 --backend wasm|js --time 1000 --rounds 3]
 * (default backend: the kernels' default engine)
 * Figures are medians over rounds of tinybench medians; compare them as ratios within one run (the
 * machine may be shared), and read GFLOP/s against docs/design.md, FLOP model's model (visible pairs only for masks;
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
import { linearLayer, multiHeadAttention } from '@attnkit/mha';
import { slidingWindow } from '@attnkit/sliding-window';
import { Bench } from 'tinybench';
import { type MhaBenchShapeName, makeMhaBenchInputs, mhaBenchShapes, mhaLayerFlops } from './bench-inputs.js';

// pnpm passes the `--` separator through; it is not an argument
const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    shape: { type: 'string', default: 'gpt2-small' },
    length: { type: 'string' },
    backend: { type: 'string' },
    time: { type: 'string', default: '1000' },
    iterations: { type: 'string', default: '3' },
    window: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
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

// The projections alone (x·Wq, x·Wk, x·Wv, o·Wo with biases): the floor every variant pays.
const attended = randn([shape.batch, shape.length, shape.heads * shape.valueDim], 5);
const tasks: { name: string; run: () => void }[] = [
  {
    name: 'projections only',
    run: () => {
      linearLayer(x, weights.wq, weights.bq, { backend });
      linearLayer(x, weights.wk, weights.bk, { backend });
      linearLayer(x, weights.wv, weights.bv, { backend });
      linearLayer(attended, weights.wo, weights.bo, { backend });
    },
  },
  ...cases.map((c) => ({
    name: `${c.group} ${c.label}`,
    run: () => {
      multiHeadAttention(x, weights, {
        ...inputs.options,
        variant: c.variant,
        causal: c.causal,
        variantOptions: { ...c.variantOptions, backend },
      });
    },
  })),
];

const rounds = Number(values.rounds);
console.log(
  `@attnkit/mha layer bench: ${shapeName} (${shape.source}), B ${shape.batch}, L ${shape.length}, dModel ${shape.dModel}, ` +
    `Hq ${shape.heads}, Hkv ${shape.kvHeads}, d ${shape.headDim}; backend ${backend}, 1 thread; node ${process.version}; ` +
    `${rounds} rounds`,
);

// Several rounds over every case, so slow drift of a shared machine's load hits all cases alike;
// each round's tinybench median per case, then the median over rounds (and the range).
const perRound = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
for (let round = 0; round < rounds; round++) {
  const bench = new Bench({
    time: Number(values.time),
    iterations: Number(values.iterations),
    warmup: true,
    warmupIterations: 1,
    throws: true,
  });
  for (const task of tasks) bench.add(task.name, task.run);
  await bench.run();
  for (const task of bench.tasks) {
    const result = task.result as { latency?: { p50: number } };
    if (!result.latency) throw new Error(`no result for ${task.name}`);
    perRound.get(task.name)!.push(result.latency.p50);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds with three significant figures at most (0.21, 4.37, 92.2, 331). */
function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function cell(name: string): { ms: number; range: string } {
  const samples = perRound.get(name)!;
  return {
    ms: median(samples),
    range: `${formatMs(Math.min(...samples))}–${formatMs(Math.max(...samples))}`,
  };
}

const rows: string[][] = [
  ['case', 'median ms', 'range over rounds', 'layer GFLOP/s', 'vs dense (same mask)'],
];
const projections = cell('projections only');
rows.push([
  'projections only',
  formatMs(projections.ms),
  projections.range,
  (mhaLayerFlops(shape).projections / projections.ms / 1e6).toFixed(1),
  '',
]);
for (const c of cases) {
  const { ms, range } = cell(`${c.group} ${c.label}`);
  const denseMs = cell(`${c.group} dense`).ms;
  const windowOption = c.variantOptions.window as readonly [number, number] | undefined;
  const flops = mhaLayerFlops(
    shape,
    windowOption ? { causal: c.causal, window: windowOption } : { causal: c.causal },
  );
  rows.push([
    `${c.group} ${c.label}`,
    formatMs(ms),
    range,
    c.exact ? (flops.total / ms / 1e6).toFixed(1) : '',
    `${(ms / denseMs).toFixed(2)}×`,
  ]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const row of rows) console.log(row.map((text, i) => text.padEnd(widths[i]!)).join('  '));
