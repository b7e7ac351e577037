/**
 * Benchmark (not a test): dense on the default backend (and on 'js') against core's naive float32
 * triple loop, in one process, at B = 1, H = 8, N = 1024, d = 64 (override: --n=, --heads=, --dim=).
 * Validates first (dense within 2 × the naive path's error vs the float64 oracle on a slice),
 * then times with tinybench (warm-up on) and prints ms, GFLOP/s (2·B·H·Lq·Lk·(Dk + Dv)) and
 * speed-ups over naive. Run: `pnpm --filter @attnkit/dense bench`.
 */
import { errorStats, naiveFloat32Attention, randn, referenceAttention, type Tensor } from '@attnkit/core';
import { denseAttention } from '@attnkit/dense';
import { getEngine } from '@attnkit/kernels';
import { Bench } from 'tinybench';

function flag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
}

const B = 1;
const H = flag('heads', 8);
const N = flag('n', 1024);
const D = flag('dim', 64);
const flops = 2 * B * H * N * N * (D + D);

const q = randn([B, H, N, D], 1);
const k = randn([B, H, N, D], 2);
const v = randn([B, H, N, D], 3);

function firstHead(t: Tensor): Tensor {
  return { data: t.data.subarray(0, N * D), shape: [1, 1, N, D] };
}

// 1. Validate before timing: head 0, causal and plain, against the float64 oracle.
for (const causal of [false, true]) {
  const [hq, hk, hv] = [firstHead(q), firstHead(k), firstHead(v)];
  const reference = referenceAttention(hq, hk, hv, { causal });
  const denseError = errorStats(denseAttention(hq, hk, hv, { causal }).data, reference.out).maxAbs;
  const naiveError = errorStats(naiveFloat32Attention(hq, hk, hv, { causal }), reference.out).maxAbs;
  if (!(denseError <= 2 * naiveError + 1e-6)) {
    throw new Error(
      `dense error ${denseError} exceeds 2 × naive ${naiveError} (causal ${causal}): not timing`,
    );
  }
}

// 2. Time.
const backendName = getEngine().backend;
const bench = new Bench({ iterations: 3, time: 2000, warmup: true, warmupIterations: 1, warmupTime: 0 });
bench.add(`dense (default backend: ${backendName})`, () => {
  denseAttention(q, k, v);
});
if (backendName !== 'js') {
  bench.add("dense (backend 'js')", () => {
    denseAttention(q, k, v, { backend: 'js' });
  });
}
bench.add('naiveFloat32Attention', () => {
  naiveFloat32Attention(q, k, v);
});
await bench.run();

const naiveTask = bench.tasks.find((t) => t.name === 'naiveFloat32Attention')!;
const naiveMs = naiveTask.result.state === 'completed' ? naiveTask.result.latency.p50 : Number.NaN;
console.log(`B=${B} H=${H} N=${N} d=${D}: ${(flops / 1e9).toFixed(3)} GFLOP per call (2·B·H·N²·(Dk+Dv))`);
console.log(
  'task'.padEnd(40),
  'median ms'.padStart(10),
  'GFLOP/s'.padStart(9),
  'x naive'.padStart(8),
  'runs'.padStart(5),
);
for (const task of bench.tasks) {
  const result = task.result;
  if (result.state !== 'completed') {
    console.log(task.name.padEnd(40), result.state, 'error' in result ? String(result.error) : '');
    continue;
  }
  const ms = result.latency.p50;
  console.log(
    task.name.padEnd(40),
    ms.toFixed(1).padStart(10),
    (flops / 1e6 / ms).toFixed(2).padStart(9),
    (naiveMs / ms).toFixed(1).padStart(8),
    String(Math.round(result.totalTime / result.period)).padStart(5),
  );
}
