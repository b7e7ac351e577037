/**
 * The pool's thread policy (kernels README, "Threads"): a job or startThreads never runs on more
 * threads than the cap (default max(2, availableParallelism()), surplus requests clamped, which
 * changes no result), and workers idle for `idleMs` are released and restarted on demand.
 * Through the BUILT package, like threads.test.ts; its own file, so its pool starts empty.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { AttentionInputError } from '@attnkit/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_IDLE_MS,
  getEngine,
  setThreadPolicy,
  startThreads,
  stopThreads,
  threadsInfo,
} from '../../dist/index.js';
import { runParallel } from '../../dist/runtime/index.js';

const GEMM = new URL('./fixtures/gemm-work.mjs', import.meta.url).href;
const FAILING = new URL('./fixtures/failing-work.mjs', import.meta.url).href;
const { arena } = getEngine('wasm');
const defaultCap = Math.min(64, Math.max(2, availableParallelism()));

afterAll(async () => {
  setThreadPolicy({ maxThreads: undefined, idleMs: undefined });
  await stopThreads();
});

/** A 100×37×65 GEMM in 8 row items on `threads` threads; items 0 and 1 meet when `meet` (two threads compute). */
function gemm(threads: number, meet = false): Float32Array {
  const mark = arena.mark();
  try {
    const m = 100;
    const n = 37;
    const k = 65;
    const a = arena.put(Float32Array.from({ length: m * k }, (_, i) => Math.sin(i)));
    const b = arena.put(Float32Array.from({ length: n * k }, (_, i) => Math.cos(0.7 * i)));
    const c = arena.alloc(m * n);
    const who = arena.alloc(16);
    const meetAt = arena.put(new Float32Array(16));
    arena.heap.fill(Number.NaN, c, c + m * n);
    const payload = { a, b, c, who, m, n, k, rowsPerItem: 13, meetBytes: meet ? meetAt * 4 : undefined };
    runParallel(GEMM, payload, Math.ceil(m / 13), threads);
    return arena.heap.slice(c, c + m * n);
  } finally {
    arena.release(mark);
  }
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return condition();
}

describe('thread cap', () => {
  it('startThreads above the cap starts cap − 1 workers (the caller is the cap-th thread)', async () => {
    expect(await startThreads(defaultCap + 2)).toBe(defaultCap - 1);
    const info = threadsInfo();
    expect(info.maxThreads).toBe(defaultCap);
    expect(info.hardwareThreads).toBe(availableParallelism());
    expect(info.workers).toBe(defaultCap - 1);
    expect(info.idleMs).toBe(DEFAULT_IDLE_MS);
    await stopThreads();
    expect(threadsInfo().workers).toBe(0);
  }, 30_000);

  it('a job asking for 64 threads runs on at most the cap, bitwise equal to one thread', () => {
    setThreadPolicy({ maxThreads: 3 });
    const one = gemm(1);
    expect(threadsInfo().lastJob).toEqual({ requested: 1, threads: 1 });
    const many = gemm(64, true);
    expect(many).toEqual(one);
    expect(threadsInfo().lastJob).toEqual({ requested: 64, threads: 3 });
    expect(threadsInfo().workers).toBe(2);
  }, 30_000);

  it('refuses a malformed policy naming the field', () => {
    const argument = (policy: object) => {
      try {
        setThreadPolicy(policy as never);
      } catch (error) {
        expect(error).toBeInstanceOf(AttentionInputError);
        return (error as AttentionInputError).argument;
      }
      return undefined;
    };
    expect(argument({ maxThreads: 0 })).toBe('policy.maxThreads');
    expect(argument({ maxThreads: 65 })).toBe('policy.maxThreads');
    expect(argument({ idleMs: -1 })).toBe('policy.idleMs');
    expect(argument({ idleMs: Number.NaN })).toBe('policy.idleMs');
    expect(argument({ threads: 2 })).toBe('policy.threads');
    expect(argument({ idleMs: Number.POSITIVE_INFINITY })).toBeUndefined();
    expect(threadsInfo().idleMs).toBe(Number.POSITIVE_INFINITY);
    setThreadPolicy({ idleMs: undefined });
    expect(threadsInfo().idleMs).toBe(DEFAULT_IDLE_MS);
  });
});

describe('idle release', () => {
  it('releases the workers after idleMs without a job, and the next job restarts them', async () => {
    setThreadPolicy({ maxThreads: 3, idleMs: 300 });
    const one = gemm(1);
    expect(gemm(3, true)).toEqual(one);
    expect(threadsInfo().workers).toBe(2);
    expect(await until(() => threadsInfo().workers === 0, 10_000)).toBe(true);
    // after the release: a job works, on workers started again (items 0 and 1 meet on two threads)
    expect(gemm(3, true)).toEqual(one);
    expect(threadsInfo().lastJob).toEqual({ requested: 3, threads: 3 });
    expect(threadsInfo().workers).toBe(2);
    expect(await startThreads(3)).toBe(2);
  }, 30_000);

  it('a job inside the idle window keeps the workers', async () => {
    await stopThreads();
    setThreadPolicy({ maxThreads: 2, idleMs: 400 });
    expect(await startThreads(2)).toBe(1);
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      gemm(2);
      expect(threadsInfo().workers).toBe(1);
    }
    expect(await until(() => threadsInfo().workers === 0, 10_000)).toBe(true);
  }, 30_000);

  it('an idle time beyond the 2^31 − 1 ms a timer can wait does not release at once', async () => {
    await stopThreads();
    setThreadPolicy({ maxThreads: 2, idleMs: 2 ** 32 });
    expect(await startThreads(2)).toBe(1);
    gemm(2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(threadsInfo().workers).toBe(1);
    setThreadPolicy({ idleMs: undefined });
  }, 30_000);

  it('the idle timer never keeps the process alive (unref’d)', () => {
    const script = `
      import { getEngine, setThreadPolicy } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};
      import { runParallel } from ${JSON.stringify(new URL('../../dist/runtime/index.js', import.meta.url).href)};
      setThreadPolicy({ idleMs: 120000 });
      const arena = getEngine('wasm').arena;
      const out = arena.alloc(8);
      runParallel(${JSON.stringify(FAILING)}, { failItem: -1, out }, 8, 2);
      console.log(Array.from(arena.heap.subarray(out, out + 8)).join(','));
    `;
    const started = Date.now();
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 20_000,
      encoding: 'utf8',
    });
    expect(stdout.trim()).toBe('1,2,3,4,5,6,7,8');
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);
});
