/**
 * The Web Worker bootstrap (dist/web-worker.js) speaks the pool's protocol: an init message, then
 * job messages, with items claimed and errors reported through the shared control block. A Node
 * worker thread plays the browser worker (fixtures/web-worker-shim.mjs supplies `onmessage`), and
 * this test plays the caller by hand, without claiming items itself.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONTROL_BLOCK_BYTES,
  engineMemory,
  getEngine,
  INSTANCE_SCRATCH_BYTES,
} from '../../dist/engine/engine.js';
import { kernelsModule } from '../../dist/engine/wasm-module.js';
import { ControlBlock, ERROR_IN_WORKER } from '../../dist/pool/thread-protocol.js';

const memory = engineMemory();
const { arena } = getEngine('wasm');
const control = new ControlBlock(memory.memory.buffer, memory.controlBytes, CONTROL_BLOCK_BYTES);
/** A URL no loader can import: only the module registered under it inside the worker can run it. */
const REGISTERED_ONLY_URL = 'attnkit-test:registered-work-module';
const worker = new Worker(new URL('./fixtures/web-worker-shim.mjs', import.meta.url), {
  workerData: {
    bootstrap: new URL('../../dist/pool/web-worker.js', import.meta.url).href,
    register: {
      threadPool: new URL('../../dist/pool/thread-pool.js', import.meta.url).href,
      module: new URL('./fixtures/failing-work.mjs', import.meta.url).href,
      url: REGISTERED_ONLY_URL,
    },
  },
});
worker.postMessage({
  type: 'init',
  memory: memory.memory,
  module: kernelsModule(true),
  controlBytes: memory.controlBytes,
  controlSize: CONTROL_BLOCK_BYTES,
  workerIndex: 7,
  epoch: 0,
});

afterAll(async () => {
  await worker.terminate();
});

// generations far from the pool's own counter (which this file never uses)
let generation = 1_000_000;

function runJob(url: string, payload: unknown, items: number): void {
  const regionFloats = (INSTANCE_SCRATCH_BYTES + 2 ** 20) / 4;
  const region = arena.alloc(regionFloats);
  generation++;
  control.open(generation);
  worker.postMessage({
    type: 'job',
    generation,
    url,
    payload,
    items,
    backend: 'wasm',
    regionBytes: region * 4,
    regionEndBytes: (region + regionFloats) * 4,
    floorBytes: arena.floor * 4,
  });
  control.waitDone(items);
}

describe('Web Worker bootstrap', () => {
  it('claims and runs every item of a job in the shared memory', () => {
    const mark = arena.mark();
    try {
      const out = arena.put(new Float32Array(6));
      runJob(new URL('./fixtures/failing-work.mjs', import.meta.url).href, { failItem: -1, out }, 6);
      expect(Array.from(arena.heap.subarray(out, out + 6))).toEqual([1, 2, 3, 4, 5, 6]);
      expect(control.errorOwner()).toBe(0);
    } finally {
      arena.release(mark);
    }
  });

  it('reports a failing item through the control block and runs the next job', () => {
    const mark = arena.mark();
    try {
      const out = arena.put(new Float32Array(4));
      runJob(new URL('./fixtures/failing-work.mjs', import.meta.url).href, { failItem: 2, out }, 4);
      expect(control.errorOwner()).toBe(ERROR_IN_WORKER);
      expect(control.errorItem()).toBe(2);
      expect(control.errorText()).toMatch(/^worker 7, item 2: RangeError: boom at item 2/);
      arena.heap.fill(0, out, out + 4);
      runJob(new URL('./fixtures/failing-work.mjs', import.meta.url).href, { failItem: -1, out }, 4);
      expect(Array.from(arena.heap.subarray(out, out + 4))).toEqual([1, 2, 3, 4]);
    } finally {
      arena.release(mark);
    }
  });

  it('runs a work module registered inside the worker without importing its URL (bundled apps)', () => {
    const mark = arena.mark();
    try {
      const out = arena.put(new Float32Array(5));
      runJob(REGISTERED_ONLY_URL, { failItem: -1, out }, 5);
      expect(control.errorOwner(), control.errorText()).toBe(0);
      expect(Array.from(arena.heap.subarray(out, out + 5))).toEqual([1, 2, 3, 4, 5]);
    } finally {
      arena.release(mark);
    }
  });
});
