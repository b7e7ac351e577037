/**
 * Threads. Pool workers import the BUILT work module (dist/work.js) by URL — Node cannot load the
 * .ts sources — so this file tests the build (turbo's `test` depends on `build`).
 */
import { errorStats, formatErrorStats, randn, referenceAttention, type Tensor } from '@attnkit/core';
import { type Backend, startThreads, stopThreads, wasmFeatures } from '@attnkit/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dense, denseAttention } from '../../dist/index.js';

function bits(t: Tensor | Float32Array): Uint32Array {
  const data = t instanceof Float32Array ? t : t.data;
  return new Uint32Array(data.buffer, data.byteOffset, data.length);
}

const poolAvailable = wasmFeatures().sharedMemory;

beforeAll(async () => {
  // Start the worker ahead of time, so the jobs below really run on two threads.
  if (poolAvailable) expect(await startThreads(2)).toBe(1);
});

afterAll(async () => {
  await stopThreads();
});

describe('dense on threads', () => {
  // GQA 6/2, Lq ≠ Lk, a window and kvLengths: 2 · 6 = 12 items of (b, h)
  const q = randn([2, 6, 45, 16], 1);
  const k = randn([2, 2, 60, 16], 2);
  const v = randn([2, 2, 60, 24], 3);
  const options = { window: [9, 3] as const, kvLengths: [60, 21] };

  for (const backend of ['wasm', 'js'] as Backend[]) {
    it(`${backend}: threads = 2 is bitwise threads = 1, and right`, () => {
      const lse1 = new Float32Array(2 * 6 * 45);
      const lse2 = new Float32Array(lse1.length);
      const one = denseAttention(q, k, v, { ...options, backend, threads: 1, lse: lse1 });
      const two = denseAttention(q, k, v, { ...options, backend, threads: 2, lse: lse2 });
      // Same items, each computed start to end by one thread: identical bits.
      expect(bits(two)).toEqual(bits(one));
      expect(bits(lse2)).toEqual(bits(lse1));
      // And right: the default-backend tolerance of conformance.test.ts.
      const stats = errorStats(two.data, referenceAttention(q, k, v, options).out, { atol: 1e-5, rtol: 0 });
      expect(stats.failing, formatErrorStats(stats)).toBe(0);
    });
  }

  it('workspaceBytes grows by one score buffer (and the pool scratch) per extra thread', () => {
    const one = dense.workspaceBytes(q, k, v, { threads: 1 });
    const two = dense.workspaceBytes(q, k, v, { threads: 2 });
    expect(two - one).toBeGreaterThanOrEqual(45 * 60 * 4);
  });
});
