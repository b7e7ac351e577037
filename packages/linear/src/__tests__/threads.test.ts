/**
 * Threads. Pool workers import the BUILT work module (dist/work.js) by URL — Node cannot load the
 * .ts sources — so this file tests the build (turbo's `test` depends on `build`).
 */
import { randn, type Tensor } from '@attnkit/core';
import { type Backend, getEngine, startThreads, stopThreads, wasmFeatures } from '@attnkit/kernels';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { linear, linearAttention, referenceLinearAttention } from '../../dist/index.js';
import { expectClose, LINEAR_TOLERANCE } from './helpers.js';

function bits(t: Tensor): Uint32Array {
  return new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
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
  const q = randn([2, 6, 70, 16], 1);
  const k = randn([2, 3, 90, 16], 2);
  const v = randn([2, 3, 90, 12], 3);
  const cases = [
    { featureMap: 'elu' as const },
    { featureMap: 'relu' as const, causal: true, chunkSize: 7 },
    { featureMap: 'favor' as const, features: 40, causal: true, kvLengths: [90, 31] },
    { featureMap: 'favor' as const, kvLengths: [0, 50] },
  ];
  for (const backend of ['wasm', 'js'] as Backend[]) {
    for (const options of cases) {
      it(`${backend}: threads = 2 is bitwise threads = 1, ${JSON.stringify(options)}`, () => {
        const one = linearAttention(q, k, v, { ...options, backend, threads: 1 });
        const two = linearAttention(q, k, v, { ...options, backend, threads: 2 });
        // Same items, each computed start to end by one thread: identical bits.
        expect(bits(two)).toEqual(bits(one));
        expectClose(
          two.data,
          referenceLinearAttention(q, k, v, options).out,
          LINEAR_TOLERANCE,
          'vs quadratic',
        );
      });
    }
  }

  it('workspaceBytes with threads = 2 bounds the arena memory the call uses', () => {
    const engine = getEngine();
    const options = { featureMap: 'favor' as const, features: 32, causal: true, threads: 2 };
    const start = engine.arena.mark();
    let peak = start;
    const original = engine.arena.alloc.bind(engine.arena);
    const alloc = vi.spyOn(engine.arena, 'alloc').mockImplementation((floats: number) => {
      const offset = original(floats);
      peak = Math.max(peak, engine.arena.mark());
      return offset;
    });
    try {
      linearAttention(q, k, v, options);
    } finally {
      alloc.mockRestore();
    }
    const analytic = linear.workspaceBytes(q, k, v, options);
    const measured = (peak - start) * 4;
    expect(measured).toBeLessThanOrEqual(analytic);
    // alignment padding and the caller possibly running no item keep it below, but not far below:
    // the copies of q, k, v and out alone are most of it
    expect(measured).toBeGreaterThan(0.5 * analytic);
  });
});
