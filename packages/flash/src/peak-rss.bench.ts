/**
 * Child process of flash.bench.ts: peak resident memory of one flash call, measured in a fresh
 * process so nothing else the benchmark did is counted. Prints one JSON line.
 * Usage: node dist/bench/peak-rss.bench.js <N> <heads> <headDim> <causal 0|1> [backend]
 */
import { resourceUsage } from 'node:process';
import { randn } from '@attnkit/core';
import { flashAttention } from '@attnkit/flash';

const [n, heads, headDim, causal, backend] = process.argv.slice(2);
const length = Number(n);
const h = Number(heads);
const d = Number(headDim);
const baselineRss = process.memoryUsage().rss;
const baselineMaxRss = resourceUsage().maxRSS * 1024;
const q = randn([1, h, length, d], 1);
const k = randn([1, h, length, d], 2);
const v = randn([1, h, length, d], 3);
const inputsRss = process.memoryUsage().rss;
const start = performance.now();
const out = flashAttention(q, k, v, {
  causal: causal === '1',
  ...(backend ? { backend: backend as 'wasm' | 'js' } : {}),
});
const seconds = (performance.now() - start) / 1000;
let finite = true;
for (const x of out.data) finite &&= Number.isFinite(x);
console.log(
  JSON.stringify({
    n: length,
    heads: h,
    headDim: d,
    causal: causal === '1',
    seconds,
    finite,
    baselineRss,
    baselineMaxRss,
    inputsRss,
    afterRss: process.memoryUsage().rss,
    peakRss: resourceUsage().maxRSS * 1024,
  }),
);
