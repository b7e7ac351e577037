import { causalAttention } from '@attnkit/causal';
import { randn } from '@attnkit/core';

const n = Number(process.argv[2]);
const H = 8,
  d = 64;
const q = randn([1, H, n, d], 1),
  k = randn([1, H, n, d], 2),
  v = randn([1, H, n, d], 3);
const flops = 2 * H * ((n * (n + 1)) / 2) * 128;
const sizes = [8, 16, 32, 64, 128];
for (const b of sizes) causalAttention(q, k, v, { blockQ: b });
for (let round = 0; round < 3; round++) {
  const row = [];
  for (const blockQ of sizes) {
    const t = performance.now();
    causalAttention(q, k, v, { blockQ });
    const ms = performance.now() - t;
    row.push(`${blockQ}:${ms.toFixed(0)}ms/${(flops / ms / 1e6).toFixed(1)}`);
  }
  console.log(n, row.join('  '));
}
