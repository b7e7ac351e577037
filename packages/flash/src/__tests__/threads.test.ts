/**
 * Threads. Pool workers import the BUILT work module (dist/work.js) by URL — Node cannot load the
 * .ts sources — so this file tests the build (turbo's `test` depends on `build`).
 */
import { type AttentionOptions, errorStats, randn, referenceAttention, type Tensor } from '@attnkit/core';
import { describeVariant } from '@attnkit/core/testing';
import { type Backend, getEngine, startThreads, stopThreads, wasmFeatures } from '@attnkit/kernels';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { flash, flashAttention } from '../../dist/index.js';
import { scratchFloats } from '../../dist/work.js';

function inputs(b: number, hq: number, hkv: number, lq: number, lk: number, d: number, seed: number) {
  return {
    q: randn([b, hq, lq, d], seed),
    k: randn([b, hkv, lk, d], seed + 1),
    v: randn([b, hkv, lk, d], seed + 2),
  };
}

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

describe('threads', () => {
  const cases: [
    string,
    ReturnType<typeof inputs>,
    AttentionOptions & { blockQ?: number; blockK?: number },
  ][] = [
    ['dense', inputs(1, 4, 4, 200, 200, 32, 1), {}],
    ['causal, GQA, odd tiles', inputs(2, 6, 2, 77, 77, 16, 2), { causal: true, blockQ: 5, blockK: 9 }],
    [
      'window and kvLengths, Lq ≠ Lk',
      inputs(2, 2, 1, 90, 60, 24, 3),
      { window: [7, 3], kvLengths: [60, 13] },
    ],
  ];
  for (const backend of ['wasm', 'js'] as Backend[]) {
    for (const [name, { q, k, v }, options] of cases) {
      it(`${backend}: threads = 2 is bitwise threads = 1 (${name})`, () => {
        const lse1 = new Float32Array(q.shape[0]! * q.shape[1]! * q.shape[2]!);
        const lse2 = new Float32Array(lse1.length);
        const one = flashAttention(q, k, v, { ...options, backend, threads: 1, lse: lse1 });
        const two = flashAttention(q, k, v, { ...options, backend, threads: 2, lse: lse2 });
        // Same item decomposition, each item computed by one thread start to end: identical bits.
        expect(bits(two)).toEqual(bits(one));
        expect(bits(lse2)).toEqual(bits(lse1));
        // And both are right (tolerance as in flash.test.ts: a few float32 roundings per key tile).
        const reference = referenceAttention(q, k, v, options);
        expect(errorStats(two.data, reference.out, { atol: 1e-4, rtol: 1e-4 }).failing).toBe(0);
      });
    }
  }

  it('workspaceBytes with threads = 2 is the arena memory the call uses', () => {
    const engine = getEngine();
    const { q, k, v } = inputs(1, 4, 2, 128, 128, 32, 4);
    const options = { causal: true, threads: 2, blockQ: 32, blockK: 16 };
    const start = engine.arena.mark();
    let peak = start;
    const original = engine.arena.alloc.bind(engine.arena);
    const alloc = vi.spyOn(engine.arena, 'alloc').mockImplementation((floats: number) => {
      const offset = original(floats);
      peak = Math.max(peak, engine.arena.mark());
      return offset;
    });
    try {
      flashAttention(q, k, v, options);
    } finally {
      alloc.mockRestore();
    }
    const analytic = flash.workspaceBytes(q, k, v, options);
    const measured = (peak - start) * 4;
    expect(measured).toBeLessThanOrEqual(analytic);
    // Scheduling is dynamic: when the worker claims every item the caller never allocates its item
    // scratch, so the peak may be one scratch below the analytic figure, never more.
    if (poolAvailable) expect(measured).toBeGreaterThanOrEqual(analytic - 4 * scratchFloats(32, 16));
  });
});

// The whole conformance table on two threads, with 4-row query blocks so even the small cases are
// split into several items (tolerance as in conformance.test.ts).
describeVariant(flash, { tolerance: { atol: 1e-4, rtol: 1e-4 }, options: { threads: 2, blockQ: 4 } });
