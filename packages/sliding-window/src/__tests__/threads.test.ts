/**
 * Threads. Pool workers import the BUILT work module (dist/work.js) by URL — Node cannot load the
 * .ts sources — so this file tests the build (turbo's `test` depends on `build`).
 */
import { errorStats, formatErrorStats, randn, referenceAttention, type Tensor } from '@attnkit/core';
import { describeVariant } from '@attnkit/core/testing';
import { type Backend, getEngine, startThreads, stopThreads, wasmFeatures } from '@attnkit/kernels';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { slidingWindow, slidingWindowAttention } from '../../dist/index.js';
import { itemScratchFloats } from '../../dist/work.js';

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
  const cases: [string, ReturnType<typeof inputs>, { window: [number, number] } & Record<string, unknown>][] =
    [
      ['causal window', inputs(1, 4, 4, 200, 200, 32, 1), { window: [20, 0], causal: true }],
      ['symmetric, GQA, odd blocks', inputs(2, 6, 2, 77, 77, 16, 2), { window: [5, 5], blockQ: 5 }],
      ['kvLengths, Lq ≠ Lk', inputs(2, 2, 1, 90, 60, 24, 3), { window: [7, 3], kvLengths: [60, 13] }],
      [
        'global tokens',
        inputs(1, 2, 2, 64, 64, 16, 4),
        { window: [3, 3], globalTokens: [0, 31, 63], blockQ: 9 },
      ],
    ];
  for (const backend of ['wasm', 'js'] as Backend[]) {
    for (const [name, { q, k, v }, options] of cases) {
      it(`${backend}: threads = 2 is bitwise threads = 1 (${name})`, () => {
        const lse1 = new Float32Array(q.shape[0]! * q.shape[1]! * q.shape[2]!);
        const lse2 = new Float32Array(lse1.length);
        const one = slidingWindowAttention(q, k, v, { ...options, backend, threads: 1, lse: lse1 });
        const two = slidingWindowAttention(q, k, v, { ...options, backend, threads: 2, lse: lse2 });
        // Same items, each computed start to end by one thread: identical bits.
        expect(bits(two)).toEqual(bits(one));
        expect(bits(lse2)).toEqual(bits(lse1));
        if (options.globalTokens) return; // the oracle knows no global tokens (global-tokens.test.ts checks them)
        // And right (the conformance tolerance of the default backend, conformance.test.ts).
        const stats = errorStats(two.data, referenceAttention(q, k, v, options).out, { atol: 2e-5, rtol: 0 });
        expect(stats.failing, formatErrorStats(stats)).toBe(0);
      });
    }
  }

  it('workspaceBytes with threads = 2 bounds the arena memory the call uses', () => {
    const engine = getEngine();
    const { q, k, v } = inputs(1, 4, 2, 128, 128, 32, 5);
    const options = { window: [16, 0] as [number, number], threads: 2, blockQ: 32 };
    const start = engine.arena.mark();
    let peak = start;
    const original = engine.arena.alloc.bind(engine.arena);
    const alloc = vi.spyOn(engine.arena, 'alloc').mockImplementation((floats: number) => {
      const offset = original(floats);
      peak = Math.max(peak, engine.arena.mark());
      return offset;
    });
    try {
      slidingWindowAttention(q, k, v, options);
    } finally {
      alloc.mockRestore();
    }
    const analytic = slidingWindow.workspaceBytes(q, k, v, options);
    const measured = (peak - start) * 4;
    expect(measured).toBeLessThanOrEqual(analytic);
    // Scheduling is dynamic: when the worker claims every item the caller never allocates its own
    // scratch, so the peak may be one item scratch below the analytic figure, never more.
    const scratch =
      4 *
      Math.ceil(
        itemScratchFloats({
          blockQ: 32,
          kvLength: 128,
          windowLeft: 16,
          windowRight: 0,
          headDim: 32,
          valueDim: 32,
          globalCount: 0,
        }) / 16,
      ) *
      16;
    if (poolAvailable) expect(measured).toBeGreaterThanOrEqual(analytic - scratch);
  });
});

// The whole conformance kit once more, on two threads (tolerance of the default backend, see conformance.test.ts).
describeVariant(slidingWindow, { tolerance: { atol: 2e-5, rtol: 0 }, options: { threads: 2, blockQ: 7 } });
