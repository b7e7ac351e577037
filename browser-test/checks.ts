/**
 * The checks the page (main.ts) and the dedicated worker (worker.ts) run: each variant on a small
 * case against its float64 oracle, one backend at a time, plus the worker-pool probes.
 */

import { causalAttention } from '@attnkit/causal';
import { type ErrorStats, errorStats, randn, referenceAttention, type Tensor } from '@attnkit/core';
import { denseAttention } from '@attnkit/dense';
import { flashAttention } from '@attnkit/flash';
import { type Backend, getEngine, runParallel } from '@attnkit/kernels/runtime';
import { linearAttention, referenceLinearAttention } from '@attnkit/linear';
import { initMultiHeadWeights, multiHeadAttention, referenceMultiHeadAttention } from '@attnkit/mha';
import { slidingWindowAttention } from '@attnkit/sliding-window';

export interface Check {
  name: string;
  /** Where it ran: 'main' (the page's thread) or 'worker' (a dedicated Worker). */
  thread: string;
  backend: string;
  threads: number;
  maxAbs: number | null;
  limit: string;
  pass: boolean;
  note: string;
}

/** Exact softmax variants: max |out − float64 oracle| on this small case (values O(1), d = 16). */
export const EXACT_MAX_ABS = 1e-5;
/** linear vs its own float64 oracle, and mha vs its float64 layer: the package tests' tolerances. */
const LINEAR_TOLERANCE = { atol: 2e-5, rtol: 1e-4 };
const MHA_TOLERANCE = { atol: 1e-5, rtol: 1e-4 };

export const SHAPE = { B: 1, H: 2, L: 33, d: 16 };

function inputs(B: number, H: number, L: number, d: number, seed: number): [Tensor, Tensor, Tensor] {
  return [randn([B, H, L, d], seed), randn([B, H, L, d], seed + 1), randn([B, H, L, d], seed + 2)];
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function fromStats(
  base: Omit<Check, 'maxAbs' | 'pass' | 'limit'>,
  stats: ErrorStats,
  limit: string,
  pass: boolean,
): Check {
  return { ...base, maxAbs: stats.maxAbs, limit, pass: pass && stats.count > 0 };
}

/** Runs `compute` and compares it with `expected`; an exception is a failed check carrying its message. */
export function check(
  base: Omit<Check, 'maxAbs' | 'pass' | 'limit' | 'note'> & { note?: string },
  compute: () => { actual: ArrayLike<number>; expected: ArrayLike<number> },
  tolerance?: { atol: number; rtol: number },
): Check {
  const full = { note: '', ...base };
  try {
    const { actual, expected } = compute();
    if (tolerance) {
      const stats = errorStats(actual, expected, tolerance);
      return fromStats(full, stats, `atol ${tolerance.atol}, rtol ${tolerance.rtol}`, stats.failing === 0);
    }
    const stats = errorStats(actual, expected);
    return fromStats(full, stats, `max abs < ${EXACT_MAX_ABS}`, stats.maxAbs < EXACT_MAX_ABS);
  } catch (error) {
    return { ...full, maxAbs: null, limit: '', pass: false, note: describe(error) };
  }
}

/** Every variant on the small case, on one backend and one thread. */
export function variantChecks(backend: Backend, thread: string): Check[] {
  const { B, H, L, d } = SHAPE;
  const [q, k, v] = inputs(B, H, L, d, 11);
  const full = referenceAttention(q, k, v).out;
  const causalRef = referenceAttention(q, k, v, { causal: true }).out;
  const window = [4, 4] as const;
  const windowRef = referenceAttention(q, k, v, { window }).out;
  const at = { thread, backend, threads: 1 };
  const checks: Check[] = [
    check({ ...at, name: 'dense' }, () => ({
      actual: denseAttention(q, k, v, { backend }).data,
      expected: full,
    })),
    check({ ...at, name: 'flash' }, () => ({
      actual: flashAttention(q, k, v, { backend }).data,
      expected: full,
    })),
    check({ ...at, name: 'flash causal' }, () => ({
      actual: flashAttention(q, k, v, { backend, causal: true }).data,
      expected: causalRef,
    })),
    check({ ...at, name: 'causal' }, () => ({
      actual: causalAttention(q, k, v, { backend, causal: true }).data,
      expected: causalRef,
    })),
    check({ ...at, name: 'sliding-window [4, 4]' }, () => ({
      actual: slidingWindowAttention(q, k, v, { backend, window }).data,
      expected: windowRef,
    })),
    check(
      { ...at, name: 'linear (elu) vs its oracle' },
      () => ({
        actual: linearAttention(q, k, v, { backend }).data,
        expected: referenceLinearAttention(q, k, v).out,
      }),
      LINEAR_TOLERANCE,
    ),
    check(
      { ...at, name: 'linear favor causal vs its oracle' },
      () => ({
        actual: linearAttention(q, k, v, { backend, causal: true, featureMap: 'favor' }).data,
        expected: referenceLinearAttention(q, k, v, { causal: true, featureMap: 'favor' }).out,
      }),
      LINEAR_TOLERANCE,
    ),
  ];
  // mha: a GQA layer (dModel 32, 2 query heads over 1 kv head of width 16) over flash, causal.
  const weights = initMultiHeadWeights({ dModel: 32, heads: H, kvHeads: 1, headDim: d, bias: true, seed: 5 });
  const x = randn([B, L, 32], 7);
  checks.push(
    check(
      { ...at, name: 'mha (flash, GQA, causal)' },
      () => ({
        actual: multiHeadAttention(x, weights, {
          heads: H,
          kvHeads: 1,
          causal: true,
          variantOptions: { backend },
        }).data,
        expected: referenceMultiHeadAttention(x, weights, { heads: H, kvHeads: 1, causal: true }),
      }),
      MHA_TOLERANCE,
    ),
  );
  return checks;
}

/** flash with `threads` on a case with 20 parallel items (4 heads × 5 query blocks of 64). */
export function flashThreadsCheck(thread: string, threads: number, note: string): Check {
  const [q, k, v] = inputs(1, 4, 257, 16, 21);
  return check({ name: 'flash causal, L=257, 20 items', thread, backend: 'default', threads, note }, () => ({
    actual: flashAttention(q, k, v, { causal: true, threads }).data,
    expected: referenceAttention(q, k, v, { causal: true }).out,
  }));
}

/**
 * flash on a larger causal case (B=1, H=8, L=1024, d=64: 128 items) with `threads` vs 1 thread:
 * the results must be bitwise equal (each item is computed start to end by one thread); the best
 * of three timings of each is returned for the README.
 */
export function flashThreadsSpeed(
  thread: string,
  threads: number,
): { check: Check; ms1: number | null; msN: number | null } {
  const [q, k, v] = inputs(1, 8, 1024, 64, 31);
  const timings = { ms1: Number.NaN, msN: Number.NaN };
  const best = (run: () => Float32Array): [Float32Array, number] => {
    let out = run();
    let ms = Number.POSITIVE_INFINITY;
    for (let rep = 0; rep < 3; rep++) {
      const start = performance.now();
      out = run();
      ms = Math.min(ms, performance.now() - start);
    }
    return [out, ms];
  };
  const name = `flash causal, L=1024, d=64, 128 items: threads ${threads} vs 1`;
  const result = check({ name, thread, backend: 'default', threads }, () => {
    const [one, ms1] = best(() => flashAttention(q, k, v, { causal: true }).data);
    const [many, msN] = best(() => flashAttention(q, k, v, { causal: true, threads }).data);
    timings.ms1 = ms1;
    timings.msN = msN;
    return { actual: many, expected: one };
  });
  const { ms1, msN } = timings;
  const timed = Number.isFinite(ms1) && Number.isFinite(msN);
  const note = timed
    ? `best of 3: ${ms1.toFixed(1)} ms on 1 thread, ${msN.toFixed(1)} ms on ${threads} (x${(ms1 / msN).toFixed(2)})`
    : result.note;
  return {
    check: { ...result, limit: 'bitwise equal', pass: result.pass && result.maxAbs === 0, note },
    ms1: timed ? ms1 : null,
    msN: timed ? msN : null,
  };
}

export interface ProbeCounts {
  caller: number;
  workers: number;
  missing: number;
}

/**
 * Runs the import-free probe work module (public/probe-work.js) over `items` items on `threads`
 * threads and counts who ran them: the calling thread marks 1, any pool worker 2.
 */
export function probePool(url: string, items: number, threads: number): ProbeCounts {
  const { arena } = getEngine();
  const mark = arena.mark();
  (globalThis as { __attnkitCaller?: boolean }).__attnkitCaller = true;
  try {
    const out = arena.alloc(items);
    arena.heap.fill(0, out, out + items);
    runParallel(url, { out, spinIterations: 2_000_000 }, items, threads);
    const marks = arena.heap.slice(out, out + items);
    const counts = { caller: 0, workers: 0, missing: 0 };
    for (const value of marks) {
      if (value === 1) counts.caller++;
      else if (value === 2) counts.workers++;
      else counts.missing++;
    }
    return counts;
  } finally {
    arena.release(mark);
  }
}
