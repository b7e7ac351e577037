/**
 * Sliding-window benchmarks (issue 4), B = 1, H = 8, d = 64, float32 (tinybench, warm-up on):
 *   scaling — window [512, 0] (causal, Mistral-style) at N = 8192 and 16384: linear scaling means
 *             time(16384) / time(8192) ≈ 2 (target <= 2.2); alternating rounds, median ratio
 *   blocks  — blockQ sweep at N = 4096, window [512, 0] (how the default was chosen)
 *   globals — symmetric window [256, 256] at N = 4096 with 0 and 8 global tokens
 *   threads — N = 16384, window [512, 0], on 2 threads vs 1 (alternating rounds, median ratio)
 *   decode  — rolling-cache step (window 512) after 256, 4096 and 16384 positions: constant time
 * FLOPs = 2 · visible pairs · (Dk + Dv) (core's visiblePairs).
 * Usage: node dist/bench/sliding-window.bench.js [scaling|blocks|globals|threads|decode ...] [--backend=js|wasm]
 * Timings on a shared machine are noisy: read them as ratios within one run.
 */
import { benchArgs, benchLine as line, meanMs, pairedTimes } from '@attnkit/bench-utils';
import { attentionGflops, randn, type Tensor, validateAttentionInputs } from '@attnkit/core';
import { getEngine, stopThreads } from '@attnkit/kernels';
import {
  createRollingKVCache,
  type SlidingWindowOptions,
  slidingWindowAttention,
} from '@attnkit/sliding-window';

const HEADS = 8;
const HEAD_DIM = 64;

const { backend: backendArg, wanted } = benchArgs();

function inputs(n: number): { q: Tensor; k: Tensor; v: Tensor } {
  return {
    q: randn([1, HEADS, n, HEAD_DIM], 1),
    k: randn([1, HEADS, n, HEAD_DIM], 2),
    v: randn([1, HEADS, n, HEAD_DIM], 3),
  };
}

function gflops(q: Tensor, k: Tensor, v: Tensor, options: SlidingWindowOptions, ms: number): number {
  return attentionGflops(validateAttentionInputs(q, k, v, options), ms);
}

async function timeWindow(n: number, options: SlidingWindowOptions, iterations: number): Promise<number> {
  const { q, k, v } = inputs(n);
  const all = { ...options, backend: backendArg };
  const ms = await meanMs(`N=${n}`, () => slidingWindowAttention(q, k, v, all), iterations);
  line(
    `N=${n} ${JSON.stringify(options)}`,
    `${ms.toFixed(1)} ms, ${gflops(q, k, v, options, ms).toFixed(2)} GFLOP/s`,
  );
  return ms;
}

async function scaling(): Promise<void> {
  const options: SlidingWindowOptions = { window: [512, 0], causal: true, backend: backendArg };
  const small = inputs(8192);
  const large = inputs(16384);
  const { aMs, bMs, ratio } = await pairedTimes(
    () => slidingWindowAttention(large.q, large.k, large.v, options),
    () => slidingWindowAttention(small.q, small.k, small.v, options),
    5,
  );
  line(
    'N=8192 window [512, 0] causal',
    `${bMs.toFixed(1)} ms, ${gflops(small.q, small.k, small.v, options, bMs).toFixed(2)} GFLOP/s`,
  );
  line(
    'N=16384 window [512, 0] causal',
    `${aMs.toFixed(1)} ms, ${gflops(large.q, large.k, large.v, options, aMs).toFixed(2)} GFLOP/s`,
  );
  line('  time(16384) / time(8192) (target <= 2.2; median of paired rounds)', ratio.toFixed(3));
}

async function blocks(): Promise<void> {
  for (const blockQ of [16, 32, 64, 128, 256])
    await timeWindow(4096, { window: [512, 0], causal: true, blockQ }, 3);
}

async function globals(): Promise<void> {
  const plain = await timeWindow(4096, { window: [256, 256] }, 3);
  const withGlobals = await timeWindow(
    4096,
    { window: [256, 256], globalTokens: [0, 1, 2, 3, 1024, 2048, 3072, 4095] },
    3,
  );
  line('  8 global tokens / none', (withGlobals / plain).toFixed(3));
}

async function threads(): Promise<void> {
  const { q, k, v } = inputs(16384);
  const options: SlidingWindowOptions = { window: [512, 0], causal: true, backend: backendArg };
  const { aMs, bMs, ratio } = await pairedTimes(
    () => slidingWindowAttention(q, k, v, { ...options, threads: 2 }),
    () => slidingWindowAttention(q, k, v, { ...options, threads: 1 }),
    3,
  );
  line(
    'N=16384 window [512, 0] threads=1',
    `${bMs.toFixed(1)} ms, ${gflops(q, k, v, options, bMs).toFixed(2)} GFLOP/s`,
  );
  line(
    'N=16384 window [512, 0] threads=2',
    `${aMs.toFixed(1)} ms, ${gflops(q, k, v, options, aMs).toFixed(2)} GFLOP/s`,
  );
  line('  time(2 threads) / time(1 thread) (median of paired rounds)', ratio.toFixed(3));
}

async function decode(): Promise<void> {
  const step = inputs(1);
  const results: number[] = [];
  for (const length of [256, 4096, 16384]) {
    const prefix = inputs(length);
    const cache = createRollingKVCache({
      batch: 1,
      kvHeads: HEADS,
      headDim: HEAD_DIM,
      valueDim: HEAD_DIM,
      window: 512,
      backend: backendArg,
    });
    cache.append(prefix.k, prefix.v);
    const ms = await meanMs(
      `decode ${length}`,
      () => {
        cache.append(step.k, step.v);
        cache.attend(step.q);
      },
      200,
      20,
    );
    results.push(ms);
    line(
      `rolling decode step (append + attend), window 512, after ${length}`,
      `${(ms * 1000).toFixed(1)} µs`,
    );
  }
  line('  step ratio 16384 / 256 positions', (results[2]! / results[0]!).toFixed(2));
}

console.log(
  `@attnkit/sliding-window bench, backend ${getEngine(backendArg).backend}, B=1 H=${HEADS} d=${HEAD_DIM}`,
);
if (wanted('scaling')) await scaling();
if (wanted('blocks')) await blocks();
if (wanted('globals')) await globals();
if (wanted('threads')) await threads();
if (wanted('decode')) await decode();
await stopThreads();
