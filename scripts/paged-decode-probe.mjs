// One token against a paged cache (docs/design.md, Caches and the layer: the attend's cost): B = 1,
// Hq = 32, Hkv = 8, d = 128, at 8K and 32K positions, float32 / float16 / int8 storage, on one
// backend (native unless named), the tiled attend path vs the decode one (decodeAttend). One
// process, back to back, the median of 5 attends after 2 warm-ups; GB/s = stored K + V bytes (int8:
// with its scales) / time. The machine's load goes with the figures (uptime before and after).
// Usage (after `pnpm build`): node scripts/paged-decode-probe.mjs [native|wasm|js] [pageSize]
// (pageSize: the cache's default unless given).
import { execSync } from 'node:child_process';
import { createPagedKVCache } from '../packages/causal/dist/index.js';
import { randn } from '../packages/core/dist/index.js';

const backend = process.argv[2] ?? 'native';
const pageSize = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const HQ = 32;
const HKV = 8;
const D = 128;
const uptime = () => execSync('uptime').toString().trim();
console.log(`uptime: ${uptime()}`);
console.log(`backend: ${backend}, pageSize: ${pageSize ?? 'default'}`);
for (const n of [8192, 32768]) {
  const k = randn([1, HKV, n, D], 2);
  const v = randn([1, HKV, n, D], 3);
  const q = randn([1, HQ, 1, D], 1);
  for (const storage of ['float32', 'float16', 'int8']) {
    const cache = createPagedKVCache({
      kvHeads: HKV,
      headDim: D,
      valueDim: D,
      storage,
      backend,
      ...(pageSize === undefined ? {} : { pageSize }),
    });
    const id = cache.addSequence();
    cache.append([id], k, v);
    const element = storage === 'float32' ? 4 : storage === 'float16' ? 2 : 1;
    const bytes = n * HKV * 2 * D * element + (storage === 'int8' ? n * HKV * 2 * 4 : 0);
    const line = [];
    for (const path of ['tiled', 'decode']) {
      cache.attendPath = path;
      for (let i = 0; i < 2; i++) cache.attend([id], q);
      const times = [];
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        cache.attend([id], q);
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      const ms = times[2];
      line.push(`${path} ${ms.toFixed(2)} ms (${(bytes / ms / 1e6).toFixed(1)} GB/s)`);
    }
    console.log(`N=${n} ${storage} (K+V ${(bytes / 2 ** 20).toFixed(0)} MiB): ${line.join(', ')}`);
  }
}
console.log(`uptime: ${uptime()}`);
