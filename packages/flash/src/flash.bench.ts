/**
 * Flash benchmarks (issue 4's acceptance lines), B = 1, H = 8, d = 64, float32, default backend:
 *   gflops  — non-causal N = 4096 on 1 and 2 threads (targets >= 38 and >= 65 GFLOP/s)
 *   naive   — N = 2048 against core's naiveFloat32Attention in this process (target >= 30×)
 *   causal  — causal wall time / non-causal wall time at N = 4096 (target <= 0.55)
 *   blocks  — blockQ × blockK sweep at N = 2048 (how the defaults were chosen)
 *   rss     — peak RSS of causal N = 32768, one head, in a fresh child process (target well under 400 MB)
 * FLOPs = 2 · Σ visible pairs · (Dk + Dv) (all B·Hq·Lq·Lk pairs when unmasked; core's visiblePairs otherwise).
 * Usage: node dist/bench/flash.bench.js [section ...]   (default: all sections)
 * Timings on a shared machine are noisy: read them as ratios within one run.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type AttentionOptions,
  naiveFloat32Attention,
  randn,
  type Tensor,
  validateAttentionInputs,
  visiblePairs,
} from '@attnkit/core';
import { type FlashOptions, flash, flashAttention } from '@attnkit/flash';
import { getEngine } from '@attnkit/kernels';
import { Bench } from 'tinybench';

const HEADS = 8;
const HEAD_DIM = 64;

function inputs(n: number, heads = HEADS): { q: Tensor; k: Tensor; v: Tensor } {
  return {
    q: randn([1, heads, n, HEAD_DIM], 1),
    k: randn([1, heads, n, HEAD_DIM], 2),
    v: randn([1, heads, n, HEAD_DIM], 3),
  };
}

function flopsOf(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): number {
  const problem = validateAttentionInputs(q, k, v, options);
  const pairs = problem.masked
    ? visiblePairs(problem)
    : problem.batch * problem.qHeads * problem.qLength * problem.kvLength;
  return 2 * pairs * (problem.headDim + problem.valueDim);
}

/** Mean milliseconds per call (tinybench, warm-up on). */
async function meanMs(
  name: string,
  fn: () => void,
  iterations: number,
  warmupIterations = 1,
): Promise<number> {
  const bench = new Bench({
    name,
    iterations,
    time: 0,
    warmup: warmupIterations > 0,
    warmupIterations,
    warmupTime: 0,
  });
  bench.add(name, fn);
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') {
    throw new Error(`${name}: ${result.state === 'errored' ? String(result.error) : result.state}`);
  }
  return result.latency.mean;
}

function line(label: string, value: string): void {
  console.log(`${label.padEnd(58)} ${value}`);
}

async function timeFlash(
  n: number,
  options: FlashOptions,
  iterations = 3,
): Promise<{ ms: number; gflops: number }> {
  const { q, k, v } = inputs(n);
  const reasons = flash.notSupportedReasons(q, k, v, options);
  if (reasons.length > 0) throw new SkipError(reasons.join('; '));
  const ms = await meanMs(
    `flash N=${n} ${JSON.stringify(options)}`,
    () => flashAttention(q, k, v, options),
    iterations,
  );
  return { ms, gflops: flopsOf(q, k, v, options) / (ms * 1e6) };
}

class SkipError extends Error {}

async function report(label: string, run: () => Promise<string>): Promise<void> {
  try {
    line(label, await run());
  } catch (error) {
    if (error instanceof SkipError) line(label, `skipped (${error.message})`);
    else throw error;
  }
}

async function gflops(): Promise<void> {
  for (const threads of [1, 2]) {
    await report(`flash non-causal N=4096, ${threads} thread(s)`, async () => {
      const { ms, gflops } = await timeFlash(4096, { threads });
      return `${ms.toFixed(1)} ms  ${gflops.toFixed(1)} GFLOP/s  (target >= ${threads === 1 ? 38 : 65})`;
    });
  }
}

async function naive(): Promise<void> {
  const n = 2048;
  const { q, k, v } = inputs(n);
  const flashMs = await meanMs('flash N=2048', () => flashAttention(q, k, v), 5);
  // The naive triple loop takes seconds per call here: one timed call after one warm-up.
  const naiveMs = await meanMs('naive float32 N=2048', () => naiveFloat32Attention(q, k, v), 1, 1);
  const flops = flopsOf(q, k, v, {});
  line('flash N=2048', `${flashMs.toFixed(1)} ms  ${(flops / (flashMs * 1e6)).toFixed(1)} GFLOP/s`);
  line('naive float32 N=2048', `${naiveMs.toFixed(1)} ms  ${(flops / (naiveMs * 1e6)).toFixed(2)} GFLOP/s`);
  line('flash speed-up over naive float32, N=2048', `${(naiveMs / flashMs).toFixed(1)}×  (target >= 30×)`);
}

async function causal(): Promise<void> {
  const full = await timeFlash(4096, {});
  const masked = await timeFlash(4096, { causal: true });
  line('flash non-causal N=4096', `${full.ms.toFixed(1)} ms  ${full.gflops.toFixed(1)} GFLOP/s`);
  line(
    'flash causal N=4096',
    `${masked.ms.toFixed(1)} ms  ${masked.gflops.toFixed(1)} GFLOP/s (visible pairs)`,
  );
  line('causal / non-causal wall time, N=4096', `${(masked.ms / full.ms).toFixed(3)}  (target <= 0.55)`);
}

async function blocks(): Promise<void> {
  for (const blockQ of [16, 32, 64, 128]) {
    for (const blockK of [32, 64, 128, 256]) {
      const { ms, gflops } = await timeFlash(2048, { blockQ, blockK }, 2);
      line(
        `flash N=2048 blockQ ${blockQ} blockK ${blockK}`,
        `${ms.toFixed(1)} ms  ${gflops.toFixed(1)} GFLOP/s`,
      );
    }
  }
}

function rss(): void {
  const child = fileURLToPath(new URL('./peak-rss.bench.js', import.meta.url));
  const n = 32768;
  const output = execFileSync(process.execPath, [child, String(n), '1', String(HEAD_DIM), '1'], {
    encoding: 'utf8',
  });
  const m = JSON.parse(output.trim().split('\n').at(-1)!) as Record<string, number>;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  line(
    `flash causal N=${n}, 1 head, fresh process`,
    `peak RSS ${mb(m.peakRss!)} (process baseline ${mb(m.baselineRss!)}, after inputs ${mb(m.inputsRss!)}), ` +
      `${m.seconds!.toFixed(2)} s  (target well under 400 MB)`,
  );
}

const sections: Record<string, () => Promise<void> | void> = { gflops, naive, causal, blocks, rss };
const chosen = process.argv.slice(2);
for (const name of chosen) if (!(name in sections)) throw new Error(`unknown section '${name}'`);
console.log(
  `@attnkit/flash bench: B=1 H=${HEADS} d=${HEAD_DIM} f32, backend ${getEngine().backend}, Node ${process.version}`,
);
for (const name of chosen.length > 0 ? chosen : Object.keys(sections)) await sections[name]!();
