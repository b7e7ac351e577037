// Fused native flash against the generic native loop, wasm and onnxruntime-node's MultiHeadAttention,
// back to back in ONE process (the harness runs each peer in a child process; this script uses the
// peer's own graph builder and feeds, packages/harness/src/peers, so the graphs are the same).
//
//   node packages/harness/scripts/fused-flash-bench.mjs [N ...] [--threads 1,2] [--repeats 3]
//        [--iterations 5] [--masks full,causal] [--blocks 64x256,128x128] [--only fused]
//
// Per (N, mask, threads): `repeats` rounds, each timing every contender back to back (one warm-up
// call, then the median of `iterations` calls); the reported figure is the median of the rounds'
// medians, with `uptime`'s 1-minute load average read before the configuration. The last column is
// the process's CPU time per call (all threads; on one thread, the compute time without the waits
// a shared machine adds). B = 1, H = 8,
// d = 64, f32; GFLOP/s count 4·B·H·Lq·Lk·d (half of it under a causal mask), as the harness does.
// Build first (`pnpm build`): it imports the built packages.
import { readFileSync } from 'node:fs';
import { randn } from '@attnkit/core';
import { flash } from '@attnkit/flash';
import { startThreads, stopThreads } from '@attnkit/kernels';
import * as ort from 'onnxruntime-node';
import { setFusedFlash } from '../../flash/dist/work.js';
import { bhsdToBshd } from '../dist/peers/layout.js';
import { buildOnnxModel } from '../dist/peers/onnx-model.js';

const argv = process.argv.slice(2);
function option(name, fallback) {
  const at = argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = argv[at + 1];
  argv.splice(at, 2);
  return value;
}
const threadsList = option('threads', '1,2').split(',').map(Number);
const repeats = Number(option('repeats', '3'));
const iterations = Number(option('iterations', '5'));
const masks = option('masks', 'full,causal').split(',');
const blocks = option('blocks', '')
  .split(',')
  .filter(Boolean)
  .map((b) => b.split('x').map(Number));
const only = option('only', '');
const sizes = argv.length > 0 ? argv.map(Number) : [1024, 4096];
const H = 8;
const D = 64;

function load() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
/**
 * Median wall ms and median process CPU ms (all threads) of `iterations` calls after a warm-up.
 * First a 100 ms pause: onnxruntime's intra-op threads keep spinning on the cores for a while after
 * a run, and in this one process they took them from whichever contender came next (a flash call
 * on 2 threads right after the peer: 8.3-12.0 ms and 16.7-20.6 CPU ms, against 7.5-8.9 and
 * 14.2-14.6 after 300 ms of rest, N=1024; the harness runs each peer in a child process and never
 * sees this). The pause is the same for every contender, the peer included.
 */
async function time(call) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  await call();
  const wall = [];
  const cpu = [];
  for (let i = 0; i < iterations; i++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    await call();
    wall.push(performance.now() - start);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
  }
  return [median(wall), median(cpu)];
}

await startThreads(Math.max(...threadsList));
const sessions = new Map();
async function ortCall(n, causal, threads, q, k, v) {
  const key = `${n}/${causal}/${threads}`;
  if (!sessions.has(key)) {
    const shape = { batch: 1, qHeads: H, kvHeads: H, qLength: n, kvLength: n, headDim: D, valueDim: D };
    const model = await buildOnnxModel('mha', shape, 1 / Math.sqrt(D), { causal });
    const session = await ort.InferenceSession.create(model.bytes, {
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
    const bshd = (t) => new ort.Tensor('float32', bhsdToBshd(t.data, t.shape), [1, n, H * D]);
    const feeds = { query: bshd(q), key: bshd(k), value: bshd(v) };
    sessions.set(key, () => session.run(feeds));
  }
  return sessions.get(key);
}

console.log(`| N | mask | threads | load | contender | ms | GFLOP/s | × ort | × wasm | cpu ms |`);
console.log(`| - | - | - | - | - | - | - | - | - | - |`);
for (const n of sizes) {
  const q = randn([1, H, n, D], 1);
  const k = randn([1, H, n, D], 2);
  const v = randn([1, H, n, D], 3);
  for (const mask of masks) {
    const causal = mask === 'causal';
    const flops = 4 * H * n * n * D * (causal ? 0.5 : 1);
    for (const threads of threadsList) {
      const loadBefore = load();
      const flashCall =
        (fused, backend, extra = {}) =>
        () => {
          setFusedFlash(fused);
          flash.forward(q, k, v, { causal, backend, threads, ...extra });
        };
      const contenders = [];
      if (blocks.length > 0) {
        for (const [blockQ, blockK] of blocks)
          contenders.push([`fused ${blockQ}×${blockK}`, flashCall(true, 'native', { blockQ, blockK })]);
      } else {
        contenders.push(['fused native', flashCall(true, 'native')]);
        if (!only) {
          contenders.push(['generic native', flashCall(false, 'native')]);
          if (!(n >= 4096 && threads > 1)) contenders.push(['wasm', flashCall(false, 'wasm')]);
        }
      }
      if (!only) contenders.push(['ort-node:mha', await ortCall(n, causal, threads, q, k, v)]);
      const rounds = new Map(contenders.map(([name]) => [name, []]));
      for (let r = 0; r < repeats; r++) {
        for (const [name, call] of contenders) rounds.get(name).push(await time(call));
      }
      setFusedFlash(true);
      const ms = new Map([...rounds].map(([name, xs]) => [name, median(xs.map((x) => x[0]))]));
      const cpuMs = new Map([...rounds].map(([name, xs]) => [name, median(xs.map((x) => x[1]))]));
      for (const [name, m] of ms) {
        const vsOrt = ms.has('ort-node:mha') ? (ms.get('ort-node:mha') / m).toFixed(2) : '';
        const vsWasm = ms.has('wasm') ? (ms.get('wasm') / m).toFixed(2) : '';
        console.log(
          `| ${n} | ${mask} | ${threads} | ${loadBefore} | ${name} | ${m.toFixed(1)} | ${(flops / m / 1e6).toFixed(1)} | ${vsOrt} | ${vsWasm} | ${cpuMs.get(name).toFixed(1)} |`,
        );
      }
    }
  }
}
await stopThreads();
