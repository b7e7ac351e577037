/**
 * The worker pool (runParallel) through the BUILT package: workers load dist/pool/node-worker.js, so
 * these tests run against dist like any consumer (turbo's test task builds first).
 * Work modules are test fixtures (plain ESM, loadable by a worker without a TS loader).
 */
import { execFileSync } from 'node:child_process';
import { AttentionInputError } from '@attnkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getEngine,
  registerWorkModule,
  setThreadPolicy,
  startThreads,
  stopThreads,
} from '../../dist/index.js';
import { runParallel, runParallelWith } from '../../dist/runtime/index.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).href;
const GEMM = fixture('gemm-work.mjs');
const FAILING = fixture('failing-work.mjs');
const RENDEZVOUS = fixture('rendezvous-work.mjs');

const engine = getEngine('wasm');
const { arena } = engine;

beforeAll(async () => {
  // 3 threads even on a 2-core machine (the default cap would clamp them to 2), and no idle release
  // between tests. Start (and wait for) the workers once: later jobs find them warm.
  setThreadPolicy({ maxThreads: 3, idleMs: Number.POSITIVE_INFINITY });
  expect(await startThreads(3)).toBe(2);
}, 30_000);

afterAll(async () => {
  setThreadPolicy({ maxThreads: undefined, idleMs: undefined });
  await stopThreads();
});

function rendezvous(extra: Record<string, unknown> = {}, items = 2) {
  const counter = arena.put(new Float32Array(16));
  const out = arena.put(new Float32Array(items));
  const payload = { counterBytes: counter * 4, items, out, callerBase: arena.base, ...extra };
  return { payload, out };
}

describe('runParallel', () => {
  it('a GEMM split by rows over 2 and 3 threads equals the single-thread result bit for bit', () => {
    const mark = arena.mark();
    try {
      const m = 100;
      const n = 37;
      const k = 65;
      const a = arena.put(Float32Array.from({ length: m * k }, (_, i) => Math.sin(i)));
      const b = arena.put(Float32Array.from({ length: n * k }, (_, i) => Math.cos(0.7 * i)));
      const who = arena.alloc(16);
      const reference = arena.alloc(m * n);
      const meet = arena.put(new Float32Array(16));
      const payload = (c: number, meetBytes?: number) => ({
        a,
        b,
        c,
        who,
        m,
        n,
        k,
        rowsPerItem: 13,
        meetBytes,
      });
      const items = Math.ceil(m / 13);
      runParallel(GEMM, payload(reference), items, 1);
      const expected = arena.heap.slice(reference, reference + m * n);
      // the single-thread pass itself is right (spot check against float64)
      let dot = 0;
      for (let p = 0; p < k; p++) dot += Math.sin(99 * k + p) * Math.cos(0.7 * (36 * k + p));
      expect(expected[99 * n + 36]).toBeCloseTo(dot, 4);
      for (const threads of [2, 3]) {
        const c = arena.alloc(m * n);
        arena.heap.fill(Number.NaN, c, c + m * n);
        arena.heap.fill(0, meet, meet + 1);
        runParallel(GEMM, payload(c, meet * 4), items, threads);
        expect(arena.heap.slice(c, c + m * n)).toEqual(expected);
        // items 0 and 1 met, so at least one GEMM item ran in a worker's own arena
        const bases = new Set(arena.heap.subarray(who, who + items));
        expect(bases.has(arena.base)).toBe(true);
        expect(bases.size).toBeGreaterThan(1);
      }
    } finally {
      arena.release(mark);
    }
  });

  it('runs items concurrently on the caller and a worker', () => {
    const mark = arena.mark();
    try {
      const { payload, out } = rendezvous();
      runParallel(RENDEZVOUS, payload, 2, 2);
      expect(Array.from(arena.heap.subarray(out, out + 2)).sort()).toEqual([1, 2]);
    } finally {
      arena.release(mark);
    }
  });

  it('rethrows an item failure in the caller, restores the arena, and stays usable', () => {
    const mark = arena.mark();
    const out = arena.alloc(8);
    const before = arena.mark();
    expect(() => runParallel(FAILING, { failItem: 5, out }, 8, 2)).toThrow(/boom at item 5/);
    expect(arena.mark()).toBe(before);
    // the pool still runs jobs afterwards, on all items
    arena.heap.fill(0, out, out + 8);
    runParallel(FAILING, { failItem: -1, out }, 8, 2);
    expect(Array.from(arena.heap.subarray(out, out + 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    arena.release(mark);
  });

  it('carries an error thrown inside a worker (name, message, item) to the caller', () => {
    const mark = arena.mark();
    try {
      const { payload } = rendezvous({ throwInWorker: true });
      let caught: unknown;
      try {
        runParallel(RENDEZVOUS, payload, 2, 2);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(Error);
      expect((caught as Error).message).toMatch(
        /item \d failed in worker 1, item \d: TypeError: item \d thrown in a worker/,
      );
      // and the next job still runs on both threads
      const again = rendezvous();
      runParallel(RENDEZVOUS, again.payload, 2, 2);
      expect(Array.from(arena.heap.subarray(again.out, again.out + 2)).sort()).toEqual([1, 2]);
    } finally {
      arena.release(mark);
    }
  });

  it("bounds a worker's arena by workerArenaBytes (an ArenaError, not corruption)", () => {
    const mark = arena.mark();
    try {
      const { payload } = rendezvous({ allocFloats: 1 << 20 });
      expect(() => runParallel(RENDEZVOUS, payload, 2, 2, { workerArenaBytes: 1 << 16 })).toThrow(
        /ArenaError: alloc\(1048576\)/,
      );
    } finally {
      arena.release(mark);
    }
  });

  it('threads = 1 runs every item inline, in order; items = 0 does nothing', () => {
    const mark = arena.mark();
    try {
      const out = arena.put(new Float32Array(5));
      runParallel(FAILING, { failItem: -1, out }, 0, 4);
      expect(Array.from(arena.heap.subarray(out, out + 5))).toEqual([0, 0, 0, 0, 0]);
      runParallel(FAILING, { failItem: -1, out }, 5, 1);
      expect(Array.from(arena.heap.subarray(out, out + 5))).toEqual([1, 2, 3, 4, 5]);
      // inline failures are the original error object
      expect(() => runParallel(FAILING, { failItem: 2, out }, 5, 1)).toThrow(RangeError);
    } finally {
      arena.release(mark);
    }
  });

  it('runParallelWith: callerFirst runs once on the caller while a worker already runs items', () => {
    const mark = arena.mark();
    try {
      const { payload, out } = rendezvous();
      const counter = new Int32Array(arena.memory.buffer, payload.counterBytes, 1);
      let calls = 0;
      let seenThere = 0;
      // Waits (20 s at most) for an item to check in: only a worker can, since the caller is here.
      const callerFirst = () => {
        calls++;
        const deadline = Date.now() + 20_000;
        while (Atomics.load(counter, 0) < 1 && Date.now() < deadline) Atomics.wait(counter, 0, 0, 50);
        seenThere = Atomics.load(counter, 0);
      };
      runParallelWith(RENDEZVOUS, payload, 2, 2, {}, callerFirst);
      expect(calls).toBe(1);
      expect(seenThere).toBe(1);
      // item 0 went to the worker while the caller waited, item 1 to the caller afterwards
      expect(Array.from(arena.heap.subarray(out, out + 2))).toEqual([2, 1]);
    } finally {
      arena.release(mark);
    }
  });

  it('runParallelWith: callerFirst runs before the items on the one-thread path, and its error is rethrown', () => {
    const mark = arena.mark();
    try {
      const out = arena.put(new Float32Array(3));
      let doneBefore = -1;
      const callerFirst = () => {
        doneBefore = arena.heap.subarray(out, out + 3).filter((x) => x !== 0).length;
      };
      runParallelWith(FAILING, { failItem: -1, out }, 3, 1, {}, callerFirst);
      expect(doneBefore).toBe(0);
      expect(Array.from(arena.heap.subarray(out, out + 3))).toEqual([1, 2, 3]);
      // on the pool path a throwing callerFirst fails the job (items not yet run are skipped) and is
      // rethrown as itself; the pool stays usable
      arena.heap.fill(0, out, out + 3);
      const fail = () => {
        throw new SyntaxError('callerFirst broke');
      };
      expect(() => runParallelWith(FAILING, { failItem: -1, out }, 3, 2, {}, fail)).toThrow(SyntaxError);
      runParallel(FAILING, { failItem: -1, out }, 3, 2);
      expect(Array.from(arena.heap.subarray(out, out + 3))).toEqual([1, 2, 3]);
    } finally {
      arena.release(mark);
    }
  });

  it('uses a registered module on the caller (how browsers load work modules synchronously)', () => {
    const mark = arena.mark();
    try {
      const out = arena.put(new Float32Array(3));
      const seen: number[] = [];
      registerWorkModule('registered:test-module', {
        runItem(running, payload, item) {
          seen.push(item);
          running.arena.heap[(payload as { out: number }).out + item] = 10 * item;
        },
      });
      runParallel('registered:test-module', { out }, 3, 1);
      expect(seen).toEqual([0, 1, 2]);
      expect(Array.from(arena.heap.subarray(out, out + 3))).toEqual([0, 10, 20]);
      expect(() => runParallel('https://example.invalid/work.js', {}, 1, 1)).toThrow(
        /not loaded on this thread/,
      );
    } finally {
      arena.release(mark);
    }
  });

  it('refuses bad arguments and modules without runItem', async () => {
    expect(() => runParallel(FAILING, {}, -1, 2)).toThrow(
      /^items: expected a non-negative integer number of items, received -1/,
    );
    expect(() => runParallel(FAILING, {}, 4, 0)).toThrow(
      /^threads: expected an integer number of threads in \[1, 64\], received 0/,
    );
    expect(() => runParallel(FAILING, {}, 4, 2.5)).toThrow(AttentionInputError);
    expect(() => runParallel(FAILING, {}, 4, 2, { workerArenaBytes: -5 })).toThrow(
      /^options.workerArenaBytes: /,
    );
    expect(() => runParallel(new URL('../../package.json', import.meta.url).href, {}, 1, 1)).toThrow();
    expect(() => runParallel(fixture('no-run-item.mjs'), {}, 1, 1)).toThrow(/does not export runItem/);
    expect(() => registerWorkModule('', { runItem() {} })).toThrow(AttentionInputError);
    expect(() => registerWorkModule(fixture('x.mjs'), {} as never)).toThrow(/does not export runItem/);
    await expect(startThreads(0)).rejects.toThrow(/^threads: expected an integer number of threads/);
  });

  it('never keeps the process alive (workers are unref’d)', () => {
    const script = `
      import { getEngine } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};
      import { runParallel } from ${JSON.stringify(new URL('../../dist/runtime/index.js', import.meta.url).href)};
      const arena = getEngine('wasm').arena;
      const out = arena.alloc(8);
      runParallel(${JSON.stringify(FAILING)}, { failItem: -1, out }, 8, 3);
      console.log(Array.from(arena.heap.subarray(out, out + 8)).join(','));
    `;
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 20_000,
      encoding: 'utf8',
    });
    expect(stdout.trim()).toBe('1,2,3,4,5,6,7,8');
  });
});
