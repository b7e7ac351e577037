/**
 * Microbenchmarks (not tests) of every wasm primitive, next to the measured 128-bit SIMD ceiling
 * and the plain-TS twin, plus the worker pool's speed-up on an 8-head attention job.
 * Throughput: GFLOP/s for GEMMs (2·m·n·k), G elements/s for row primitives; "mean" from
 * tinybench's mean latency, "best" from its minimum, "cpu" from process CPU time over a further
 * ~300 ms loop (the last two are the least sensitive to other processes sharing the cores; cpu
 * is not shown for the 2-thread job, whose CPU time counts both threads).
 * Run: `pnpm --filter @attnkit/kernels bench` (options: --time=ms per task, default 600).
 */
import { getEngine, measureSimdCeiling, startThreads } from '@attnkit/kernels';
import { runParallel } from '@attnkit/kernels/runtime';
import { Bench } from 'tinybench';

const timeArg = process.argv.find((a) => a.startsWith('--time='));
const TIME = timeArg ? Number(timeArg.slice(7)) : 600;

const wasm = getEngine('wasm');
const js = getEngine('js');
const { arena } = wasm;

function random(length: number, scale = 1): Float32Array {
  let seed = 12345;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    out[i] = ((seed / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

interface Row {
  name: string;
  work: number;
  unit: 'GFLOP/s' | 'G el/s';
  fn: () => void;
  singleThread: boolean;
}
const rows: Row[] = [];
const bench = new Bench({ time: TIME, warmup: true, warmupTime: 100 });
function add(name: string, work: number, unit: Row['unit'], fn: () => void, singleThread = true): void {
  rows.push({ name, work, unit, fn, singleThread });
  bench.add(name, fn);
}

/** Milliseconds of process CPU time per call, over about 300 ms of calls. */
function cpuMillisecondsPerCall(fn: () => void, wallMs: number): number {
  const calls = Math.max(5, Math.ceil(300 / Math.max(wallMs, 1e-3)));
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / calls;
}

// 1. GEMMs, the three layouts
for (const [m, n, k] of [
  [64, 64, 64],
  [128, 128, 64],
  [512, 512, 64],
  [512, 64, 512],
] as const) {
  const a = arena.put(random(m * k));
  const b = arena.put(random(n * k));
  const c = arena.alloc(m * n);
  const flops = 2 * m * n * k;
  add(`gemmNT ${m}×${n}×${k}`, flops, 'GFLOP/s', () => wasm.ops.gemmNT(m, n, k, a, k, b, k, c, n, 1, 0));
  add(`gemmNN ${m}×${n}×${k}`, flops, 'GFLOP/s', () => wasm.ops.gemmNN(m, n, k, a, k, b, n, c, n, 1, 0));
  add(`gemmTN ${m}×${n}×${k}`, flops, 'GFLOP/s', () => wasm.ops.gemmTN(m, n, k, a, m, b, n, c, n, 1, 0));
  if (m === 64) {
    add(`gemmNT ${m}×${n}×${k} (js twin)`, flops, 'GFLOP/s', () =>
      js.ops.gemmNT(m, n, k, a, k, b, k, c, n, 1, 0),
    );
  }
}

// 2. Row primitives on a 64 × 1024 score tile (the flash/dense inner loop's shape)
const ROWS = 64;
const COLS = 1024;
const DV = 64;
const elements = ROWS * COLS;
const s = arena.put(random(elements, 8));
const x = arena.put(random(elements, 2));
const lse = arena.alloc(ROWS);
const rowMax = arena.alloc(ROWS);
const rowSum = arena.alloc(ROWS);
const acc = arena.put(random(ROWS * DV));
const out = arena.alloc(ROWS * DV);
const perRow = arena.put(random(ROWS));
const colOut = arena.alloc(COLS);
// softmax of its own output is still a valid softmax input, so no reset is needed
add(`softmaxRows ${ROWS}×${COLS}`, elements, 'G el/s', () => wasm.ops.softmaxRows(s, COLS, ROWS, COLS, lse));
add(`softmaxRows ${ROWS}×${COLS} (js twin)`, elements, 'G el/s', () =>
  js.ops.softmaxRows(s, COLS, ROWS, COLS, lse),
);
add(`onlineSoftmaxStep ${ROWS}×${COLS}, dv ${DV}`, elements, 'G el/s', () => {
  // a fresh running max each time: the step rescales the accumulator (corr = 0) like a first tile
  arena.heap.fill(Number.NEGATIVE_INFINITY, rowMax, rowMax + ROWS);
  wasm.ops.onlineSoftmaxStep(s, COLS, ROWS, COLS, rowMax, rowSum, acc, DV, DV);
});
add(`maskBand ${ROWS}×${COLS} (causal)`, elements, 'G el/s', () =>
  wasm.ops.maskBand(x, COLS, ROWS, COLS, 512, 0, Number.POSITIVE_INFINITY, 0, COLS),
);
add(`finishRows ${ROWS}×${DV}`, ROWS * DV, 'G el/s', () =>
  wasm.ops.finishRows(acc, DV, ROWS, DV, rowMax, rowSum, out, DV, lse),
);
add(`eluPlusOne ${elements}`, elements, 'G el/s', () => wasm.ops.eluPlusOne(x, elements));
add(`relu ${elements}`, elements, 'G el/s', () => wasm.ops.relu(x, elements));
add(`rowSquaredNorms ${ROWS}×${COLS}`, elements, 'G el/s', () =>
  wasm.ops.rowSquaredNorms(x, COLS, ROWS, COLS, lse, 0.5),
);
add(`rowMax ${ROWS}×${COLS}`, elements, 'G el/s', () => wasm.ops.rowMax(x, COLS, ROWS, COLS, lse));
add(`expShiftRows ${ROWS}×${COLS}`, elements, 'G el/s', () =>
  wasm.ops.expShiftRows(x, COLS, ROWS, COLS, perRow, 1, 0.5),
);
add(`columnSums ${ROWS}×${COLS}`, elements, 'G el/s', () =>
  wasm.ops.columnSums(x, COLS, ROWS, COLS, colOut, 1),
);
add(`divideRows ${ROWS}×${COLS}`, elements, 'G el/s', () =>
  wasm.ops.divideRows(x, COLS, ROWS, COLS, perRow, 1),
);

// 3. Threads: 8 heads of 512×512×64 attention (scores, softmax, P·V), 1 vs 2 threads
const HEADS = 8;
const LENGTH = 512;
const DIM = 64;
const headFloats = HEADS * LENGTH * DIM;
const payload = {
  q: arena.put(random(headFloats)),
  k: arena.put(random(headFloats)),
  v: arena.put(random(headFloats)),
  out: arena.alloc(headFloats),
  length: LENGTH,
  dim: DIM,
};
const workUrl = new URL('./attention-head-work.bench.js', import.meta.url).href;
const jobFlops = HEADS * 2 * LENGTH * LENGTH * (DIM + DIM);
await startThreads(2);
add(`8 heads 512×512×64, 1 thread`, jobFlops, 'GFLOP/s', () => runParallel(workUrl, payload, HEADS, 1));
add(
  `8 heads 512×512×64, 2 threads`,
  jobFlops,
  'GFLOP/s',
  () => runParallel(workUrl, payload, HEADS, 2),
  false,
);

// 4. Measure and report
const ceilingBefore = measureSimdCeiling();
await bench.run();
const ceiling = Math.max(ceilingBefore, measureSimdCeiling());

const table = rows.map(({ name, work, unit, fn, singleThread }) => {
  const task = bench.getTask(name);
  const result = task?.result;
  if (!result || !('latency' in result))
    return { name, 'mean ms': Number.NaN, mean: 'error', best: 'error', cpu: '' };
  const perSecond = (ms: number) => work / (ms * 1e6);
  const format = (ms: number) =>
    unit === 'GFLOP/s'
      ? `${perSecond(ms).toFixed(1)} GFLOP/s (${((100 * perSecond(ms)) / ceiling).toFixed(0)}%)`
      : `${perSecond(ms).toFixed(2)} G el/s`;
  return {
    name,
    'mean ms': Number(result.latency.mean.toFixed(4)),
    mean: format(result.latency.mean),
    best: format(result.latency.min),
    cpu: singleThread ? format(cpuMillisecondsPerCall(fn, result.latency.min)) : '',
  };
});
console.log(`128-bit SIMD ceiling (register-only f32x4 mul+add, best of 40): ${ceiling.toFixed(1)} GFLOP/s`);
console.table(table);
const one = bench.getTask(`8 heads 512×512×64, 1 thread`)?.result;
const two = bench.getTask(`8 heads 512×512×64, 2 threads`)?.result;
if (one && two && 'latency' in one && 'latency' in two) {
  console.log(
    `2-thread speed-up on 8 heads: ${(one.latency.mean / two.latency.mean).toFixed(2)}× (mean), ` +
      `${(one.latency.min / two.latency.min).toFixed(2)}× (best)`,
  );
}
