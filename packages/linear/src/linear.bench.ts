/**
 * Benchmark (not a test) of linear attention, at B = 1, H = 8, d = dv = 64 unless overridden:
 *   1. time vs N (non-causal elu, causal elu, FAVOR+ m = 256): ms and µs per token (flat = linear);
 *   2. where linear overtakes exact O(N²) attention: the exact comparator is the kernels' own dense
 *      step (attendRows over 128-row blocks, causal rows against their visible prefix only: what the
 *      dense and causal variants run), on the same engine; core's naiveFloat32Attention for small N;
 *   3. the recurrent decoding step (1 new token) after 256 and after 4096 tokens (flat = O(1));
 *   4. the causal chunk size C at N = 4096;
 *   5. (not a timing) each map's distance from softmax attention (RMS, max abs) at N = 256;
 *   6. threads = 1 vs 2 at N = 8192 (the pool's workers started ahead).
 * Validates every timed path against its float64 oracle first. Timings are medians (tinybench,
 * warm-up on). Flags: --backend=js|wasm, --heads=, --dim=, --max-n=, --quick.
 * Run: `pnpm --filter @attnkit/linear bench` (builds this file to build/bench first).
 */
import {
  errorStats,
  naiveFloat32Attention,
  randn,
  referenceAttention,
  type Tensor,
  validateAttentionInputs,
} from '@attnkit/core';
import { startThreads, stopThreads } from '@attnkit/kernels';
import {
  attendRows,
  finishAttention,
  getEngine,
  headOffsetsInto,
  placeAttention,
} from '@attnkit/kernels/runtime';
import {
  createLinearState,
  distanceFromSoftmax,
  distancesFromSoftmax,
  type LinearOptions,
  linearAttention,
  referenceLinearAttention,
} from '@attnkit/linear';
import { Bench } from 'tinybench';

function flag(name: string): string | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`) || a === `--${name}`);
  if (!arg) return undefined;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : 'true';
}

const backendFlag = flag('backend');
const backend = backendFlag === 'js' || backendFlag === 'wasm' ? backendFlag : getEngine().backend;
const H = Number(flag('heads') ?? 8);
const D = Number(flag('dim') ?? 64);
const MAX_N = Number(flag('max-n') ?? 16384);
const QUICK = flag('quick') !== undefined;

/** Exact softmax attention from the kernels' shared dense step, 128 query rows at a time. */
function exactAttention(q: Tensor, k: Tensor, v: Tensor, causal: boolean): Tensor {
  const problem = validateAttentionInputs(q, k, v, { causal });
  const engine = getEngine(backend);
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const rowsPerBlock = 128;
    const scores = engine.arena.alloc(rowsPerBlock * problem.kvLength);
    const shift = problem.kvLength - problem.qLength;
    for (let b = 0; b < problem.batch; b++) {
      for (let h = 0; h < problem.qHeads; h++) {
        const head = headOffsetsInto(problem, placed, b, h, {
          q: 0,
          out: 0,
          lse: 0,
          k: 0,
          v: 0,
          head: 0,
          bias: -1,
        });
        for (let first = 0; first < problem.qLength; first += rowsPerBlock) {
          const last = Math.min(problem.qLength, first + rowsPerBlock);
          const keyEnd = causal ? Math.min(problem.kvLength, last + shift) : problem.kvLength;
          attendRows(engine, problem, head, b, first, last, 0, keyEnd, scores);
        }
      }
    }
    return finishAttention(engine, problem, placed, { out: null, lse: null });
  } finally {
    engine.arena.release(placed.mark);
  }
}

function inputs(n: number, seed: number): { q: Tensor; k: Tensor; v: Tensor } {
  return { q: randn([1, H, n, D], seed), k: randn([1, H, n, D], seed + 1), v: randn([1, H, n, D], seed + 2) };
}

async function medianMs(fn: () => void, quick = QUICK): Promise<number> {
  const bench = new Bench({
    iterations: quick ? 2 : 5,
    time: quick ? 100 : 1000,
    warmup: true,
    warmupIterations: 1,
    warmupTime: 0,
  });
  bench.add('task', fn);
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') throw new Error(`benchmark ${result.state}`);
  return result.latency.p50;
}

// 0. Validate every timed path on a slice before timing anything.
{
  const small = { q: randn([1, 2, 200, D], 1), k: randn([1, 2, 200, D], 2), v: randn([1, 2, 200, D], 3) };
  const linearCases: LinearOptions[] = [
    {},
    { causal: true },
    { featureMap: 'favor' },
    { causal: true, chunkSize: 16 },
  ];
  for (const options of linearCases) {
    const withBackend = { ...options, backend };
    const error = errorStats(
      linearAttention(small.q, small.k, small.v, withBackend).data,
      referenceLinearAttention(small.q, small.k, small.v, withBackend).out,
    ).maxAbs;
    if (!(error < 1e-4))
      throw new Error(`linear ${JSON.stringify(options)}: error ${error} vs its oracle; not timing`);
  }
  for (const causal of [false, true]) {
    const exact = exactAttention(small.q, small.k, small.v, causal).data;
    const error = errorStats(exact, referenceAttention(small.q, small.k, small.v, { causal }).out).maxAbs;
    if (!(error < 1e-4)) throw new Error(`exact comparator (causal ${causal}): error ${error}; not timing`);
  }
}

console.log(`# @attnkit/linear benchmark — backend '${backend}', B = 1, H = ${H}, d = dv = ${D}, medians`);
console.log('# measured on a shared machine: compare ratios within one run\n');

// 1. Time vs N.
console.log('## 1. time vs N (µs/token flat = linear in N)');
console.log(
  'N'.padStart(6),
  ...['elu', 'elu causal', 'favor m=256'].map((s) => `${s} ms`.padStart(16)),
  '  µs/token (elu)',
);
for (let n = 512; n <= MAX_N; n *= 2) {
  const { q, k, v } = inputs(n, 10);
  const elu = await medianMs(() => linearAttention(q, k, v, { backend }), n >= 8192);
  const causal = await medianMs(() => linearAttention(q, k, v, { backend, causal: true }), n >= 8192);
  const favor =
    n <= 4096
      ? await medianMs(() => linearAttention(q, k, v, { backend, featureMap: 'favor' }), n >= 4096)
      : Number.NaN;
  console.log(
    String(n).padStart(6),
    elu.toFixed(1).padStart(16),
    causal.toFixed(1).padStart(16),
    (Number.isNaN(favor) ? '—' : favor.toFixed(1)).padStart(16),
    `  ${((elu * 1000) / n).toFixed(2)}`,
  );
}

// 2. Crossover with exact attention.
console.log('\n## 2. linear (elu) vs exact O(N²) attention (kernels attendRows, 128-row blocks)');
console.log(
  'N'.padStart(6),
  ...['exact ms', 'linear ms', 'x', 'exact causal', 'linear causal', 'x', 'naive f32'].map((s) =>
    s.padStart(13),
  ),
);
let crossover = 0;
let causalCrossover = 0;
for (let n = 32; n <= Math.min(MAX_N, 4096); n *= 2) {
  const { q, k, v } = inputs(n, 20);
  const exact = await medianMs(() => exactAttention(q, k, v, false), n >= 2048);
  const linear = await medianMs(() => linearAttention(q, k, v, { backend }), n >= 2048);
  const exactCausal = await medianMs(() => exactAttention(q, k, v, true), n >= 2048);
  const linearCausal = await medianMs(() => linearAttention(q, k, v, { backend, causal: true }), n >= 2048);
  const naive = n <= 512 ? await medianMs(() => naiveFloat32Attention(q, k, v), true) : Number.NaN;
  if (!crossover && linear < exact) crossover = n;
  if (!causalCrossover && linearCausal < exactCausal) causalCrossover = n;
  console.log(
    String(n).padStart(6),
    exact.toFixed(2).padStart(13),
    linear.toFixed(2).padStart(13),
    (exact / linear).toFixed(2).padStart(13),
    exactCausal.toFixed(2).padStart(13),
    linearCausal.toFixed(2).padStart(13),
    (exactCausal / linearCausal).toFixed(2).padStart(13),
    (Number.isNaN(naive) ? '—' : naive.toFixed(2)).padStart(13),
  );
  // past the crossover by 4× in both: the O(N²) side only gets slower
  if (crossover && causalCrossover && n >= 4 * Math.max(crossover, causalCrossover)) break;
}
console.log(
  `linear overtakes exact at N = ${crossover || '> tested'} (non-causal), N = ${causalCrossover || '> tested'} (causal)`,
);

// 3. Decoding: one new token after `prefix` tokens.
console.log('\n## 3. recurrent decoding step (1 token, B = 1, H = 8): flat in tokens so far');
for (const featureMap of ['elu', 'favor'] as const) {
  const times: string[] = [];
  for (const prefix of [256, 4096]) {
    const state = createLinearState({
      batch: 1,
      qHeads: H,
      kvHeads: H,
      headDim: D,
      valueDim: D,
      featureMap,
      backend,
    });
    const { q, k, v } = inputs(prefix, 30);
    state.step(q, k, v);
    const token = inputs(1, 40);
    // every timed call adds a token: a few hundred on top of `prefix` do not change the picture
    const ms = await medianMs(() => state.step(token.q, token.k, token.v));
    times.push(`after ${prefix}: ${(ms * 1000).toFixed(0)} µs`);
  }
  console.log(`${featureMap.padEnd(6)} ${times.join(', ')}`);
}

// 4. Chunk size of the causal form.
console.log('\n## 4. causal chunk size C at N = 4096 (elu)');
{
  const { q, k, v } = inputs(Math.min(4096, MAX_N), 50);
  const row: string[] = [];
  for (const chunkSize of [4, 8, 16, 32, 64, 128]) {
    const ms = await medianMs(() => linearAttention(q, k, v, { backend, causal: true, chunkSize }), true);
    row.push(`C=${chunkSize}: ${ms.toFixed(1)} ms`);
  }
  console.log(row.join(', '));
}

// 5. Distance from softmax attention (a reported metric, docs/design.md, Accuracy).
console.log('\n## 5. RMS (max abs) distance from softmax attention, N = 256, one seed per m');
for (const std of [1, 0.5]) {
  const q = randn([1, H, 256, D], 60, std);
  const k = randn([1, H, 256, D], 61, std);
  const v = randn([1, H, 256, D], 62);
  const all = distancesFromSoftmax(q, k, v, { backend });
  const cells = [
    `elu ${all.elu.rms.toFixed(3)} (${all.elu.maxAbs.toFixed(2)})`,
    `relu ${all.relu.rms.toFixed(3)} (${all.relu.maxAbs.toFixed(2)})`,
  ];
  for (const features of [16, 64, 256, 1024]) {
    const favor = distanceFromSoftmax(q, k, v, { backend, featureMap: 'favor', features });
    cells.push(`favor m=${features} ${favor.rms.toFixed(3)} (${favor.maxAbs.toFixed(2)})`);
  }
  console.log(`q, k ~ N(0, ${std}²): ${cells.join(', ')}`);
}

// 6. Threads.
console.log('\n## 6. threads at N = 8192 (elu, non-causal and causal; favor m = 256)');
{
  const workers = await startThreads(2);
  const { q, k, v } = inputs(Math.min(8192, MAX_N), 70);
  const cells: string[] = [];
  for (const options of [{}, { causal: true }, { featureMap: 'favor' as const }]) {
    const one = await medianMs(() => linearAttention(q, k, v, { ...options, backend, threads: 1 }), true);
    const two = await medianMs(() => linearAttention(q, k, v, { ...options, backend, threads: 2 }), true);
    cells.push(
      `${JSON.stringify(options)} ${one.toFixed(1)} → ${two.toFixed(1)} ms (×${(one / two).toFixed(2)})`,
    );
  }
  console.log(`(${workers} worker started) ${cells.join(', ')}`);
  await stopThreads();
}
