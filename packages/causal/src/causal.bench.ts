/**
 * Causal benchmarks (issue 4), B = 1, H = 8, d = 64, float32 (tinybench, warm-up on):
 *   ratio   — causalAttention (row blocks × visible prefix) vs the dense-style full work (one block
 *             of all rows × all keys, mask applied inside — what dense does) at N = 2048 and 4096,
 *             timed in alternating rounds (median ratio) so load drift hits both alike
 *   blocks  — blockQ sweep at N = 2048 (how the default was chosen)
 *   threads — N = 4096 on 2 threads vs 1 (alternating rounds, median ratio)
 *   decode  — KV-cache step: attend one query against 256 and 4096 cached positions, and one append
 * FLOPs = 2 · visible pairs · (Dk + Dv) (core's visiblePairs), for both paths: the full work's extra
 * (hidden) pairs are the waste being measured.
 * Usage: node dist/bench/causal.bench.js [ratio|blocks|threads|decode ...] [--backend=js|wasm]
 * Timings on a shared machine are noisy: read them as ratios within one run.
 */

import { benchArgs, benchLine as line, meanMs, pairedTimes } from '@attnkit/bench-utils';
import { type CausalOptions, causalAttention, createKVCache } from '@attnkit/causal';
import { attentionGflops, randn, type Tensor, validateAttentionInputs } from '@attnkit/core';
import { getEngine, stopThreads } from '@attnkit/kernels';

const HEADS = 8;
const HEAD_DIM = 64;

const { backend: backendArg, wanted } = benchArgs();

function inputs(lq: number, lk: number): { q: Tensor; k: Tensor; v: Tensor } {
  return {
    q: randn([1, HEADS, lq, HEAD_DIM], 1),
    k: randn([1, HEADS, lk, HEAD_DIM], 2),
    v: randn([1, HEADS, lk, HEAD_DIM], 3),
  };
}

function gflops(q: Tensor, k: Tensor, v: Tensor, ms: number): number {
  return attentionGflops(validateAttentionInputs(q, k, v, { causal: true }), ms);
}

async function ratio(): Promise<void> {
  for (const n of [2048, 4096]) {
    const { q, k, v } = inputs(n, n);
    const options: CausalOptions = { backend: backendArg };
    // blockQ = N: one block of all rows against all keys, the mask applied inside (dense's work)
    const { aMs, bMs, ratio } = await pairedTimes(
      () => causalAttention(q, k, v, options),
      () => causalAttention(q, k, v, { ...options, blockQ: n }),
      n >= 4096 ? 3 : 5,
    );
    line(
      `causal N=${n} (blockQ default)`,
      `${aMs.toFixed(1)} ms, ${gflops(q, k, v, aMs).toFixed(2)} GFLOP/s`,
    );
    line(
      `dense-style full work N=${n} (blockQ = N)`,
      `${bMs.toFixed(1)} ms, ${gflops(q, k, v, bMs).toFixed(2)} GFLOP/s (useful)`,
    );
    line(`  ratio causal / full work N=${n} (median of paired rounds)`, ratio.toFixed(3));
  }
}

async function blocks(): Promise<void> {
  const n = 2048;
  const { q, k, v } = inputs(n, n);
  for (const blockQ of [16, 32, 64, 128, 256]) {
    const ms = await meanMs(
      `blockQ ${blockQ}`,
      () => causalAttention(q, k, v, { backend: backendArg, blockQ }),
      3,
    );
    line(`causal N=${n} blockQ=${blockQ}`, `${ms.toFixed(1)} ms, ${gflops(q, k, v, ms).toFixed(2)} GFLOP/s`);
  }
}

async function threads(): Promise<void> {
  const n = 4096;
  const { q, k, v } = inputs(n, n);
  const { aMs, bMs, ratio } = await pairedTimes(
    () => causalAttention(q, k, v, { backend: backendArg, threads: 2 }),
    () => causalAttention(q, k, v, { backend: backendArg, threads: 1 }),
    3,
  );
  line(`causal N=${n} threads=1`, `${bMs.toFixed(1)} ms, ${gflops(q, k, v, bMs).toFixed(2)} GFLOP/s`);
  line(`causal N=${n} threads=2`, `${aMs.toFixed(1)} ms, ${gflops(q, k, v, aMs).toFixed(2)} GFLOP/s`);
  line('  time(2 threads) / time(1 thread) (median of paired rounds)', ratio.toFixed(3));
}

async function decode(): Promise<void> {
  const step = inputs(1, 1);
  const results: number[] = [];
  for (const cached of [256, 4096]) {
    const prefix = inputs(cached, cached);
    const cache = createKVCache({
      batch: 1,
      kvHeads: HEADS,
      headDim: HEAD_DIM,
      valueDim: HEAD_DIM,
      capacity: cached + 1024,
      growth: 'none',
      backend: backendArg,
    });
    cache.append(prefix.k, prefix.v);
    // attend at a fixed length (appending inside the timed loop would grow it)
    const attendMs = await meanMs(`attend ${cached}`, () => cache.attend(step.q), 200, 20);
    const appendMs = await meanMs(`append ${cached}`, () => cache.append(step.k, step.v), 500, 0);
    results.push(attendMs);
    line(
      `decode step, ${cached} cached tokens`,
      `attend ${(attendMs * 1000).toFixed(1)} µs + append ${(appendMs * 1000).toFixed(1)} µs`,
    );
  }
  line('  attend ratio 4096 / 256 cached (16× the keys)', (results[1]! / results[0]!).toFixed(2));
}

console.log(`@attnkit/causal bench, backend ${getEngine(backendArg).backend}, B=1 H=${HEADS} d=${HEAD_DIM}`);
if (wanted('ratio')) await ratio();
if (wanted('blocks')) await blocks();
if (wanted('threads')) await threads();
if (wanted('decode')) await decode();
await stopThreads();
