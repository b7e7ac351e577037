/**
 * The native backend (packages/native) as the engine sees it, through the BUILT package (pool
 * workers load dist): what 'auto' picks and why, each CPU path forced in turn and held to float64
 * and to the others, the environment switches (ATTNKIT_NATIVE_PATH), a private engine across memory
 * growth, and pool workers computing on native with results bitwise equal at every thread count.
 * Where the addon is unavailable, the test that proves the fallback runs and the others are skipped
 * with the reason.
 *
 * Tolerances: a GEMM element against float64 within (k + 4)·u·(|alpha|·Σ|a·b| + |beta·c|) (u = 2⁻²⁴,
 * the bound wasm-gemm.test.ts derives); row primitives against the js twin (float64 inside, one
 * rounding) within (cols + 8)·u relative, the sum bound of wasm-rows.test.ts plus the exp's 2 ulp and
 * a division; two paths within the sum of their bounds.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  backendInfo,
  createEngine,
  type Engine,
  getEngine,
  type NativePath,
  nativePathInfo,
  nativeUnavailableReason,
  setNativePath,
  setThreadPolicy,
  startThreads,
  stopThreads,
} from '../../dist/index.js';
import { flashBlockScratchFloats, type NativeKernelOps, runParallel } from '../../dist/runtime/index.js';
import { seeded, U, uniform } from './helpers.js';

const NATIVE_WHY = nativeUnavailableReason();
const describeNative = NATIVE_WHY === undefined ? describe : describe.skip;
const suffix = NATIVE_WHY === undefined ? '' : ` — the native backend is unavailable: ${NATIVE_WHY}`;
const DIST = new URL('../../dist/index.js', import.meta.url).href;

/** Runs `body` in a fresh Node process with `env` added; returns its stdout (one JSON line). */
function inChild(body: string, env: Record<string, string>): unknown {
  const script = `import * as kernels from ${JSON.stringify(DIST)};\n${body}`;
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    timeout: 20_000,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return JSON.parse(stdout);
}

describe('backend selection', () => {
  it("'auto' picks native where the addon loaded, else wasm, and backendInfo says why", () => {
    const info = backendInfo();
    expect(getEngine().backend).toBe(info.backend);
    expect(getEngine('auto').backend).toBe(info.backend);
    if (NATIVE_WHY === undefined) {
      expect(info.backend).toBe('native');
      expect(info.native.available).toBe(true);
      expect(info.native.path).toBe(nativePathInfo()!.path);
      expect(info.reason).toMatch(/^the native addon loaded \((avx512|avx2|baseline) path, chosen by /);
    } else {
      expect(info.backend).toBe('wasm');
      expect(info.native).toEqual({ available: false, reason: NATIVE_WHY });
      expect(info.reason).toBe(`native is unavailable (${NATIVE_WHY}); the wasm SIMD kernels compiled`);
      expect(() => getEngine('native')).toThrow(NATIVE_WHY);
    }
  });

  it('ATTNKIT_NATIVE_PATH=none disables native: auto runs wasm, native is refused with the reason', () => {
    const got = inChild(
      `let refused = '';
       try { kernels.getEngine('native'); } catch (error) { refused = error.message; }
       console.log(JSON.stringify({ info: kernels.backendInfo(), auto: kernels.getEngine().backend, refused }));`,
      { ATTNKIT_NATIVE_PATH: 'none' },
    ) as { info: ReturnType<typeof backendInfo>; auto: string; refused: string };
    expect(got.auto).toBe('wasm');
    expect(got.info.backend).toBe('wasm');
    expect(got.info.native).toEqual({ available: false, reason: 'disabled by ATTNKIT_NATIVE_PATH=none' });
    expect(got.refused).toBe(
      "getEngine('native'): the native backend is unavailable (disabled by ATTNKIT_NATIVE_PATH=none); use backend 'wasm' or 'js'",
    );
  });
});

/** The GEMM cases every path runs: tails of every tile shape, k across the 256-deep block, beta ≠ 0. */
const GEMMS = [
  { layout: 'gemmNT', m: 37, n: 45, k: 300, alpha: 0.125, beta: 0 },
  { layout: 'gemmNN', m: 19, n: 65, k: 70, alpha: 1, beta: 1 },
  { layout: 'gemmTN', m: 33, n: 40, k: 50, alpha: -0.5, beta: 0.5 },
] as const;

/** Every GEMM case and a row pipeline (softmax with lse, online step + finish, exp rows, sums) on `engine`. */
function workload(engine: Engine, seed: number): Float32Array[] {
  const { arena, ops } = engine;
  const rand = seeded(seed);
  const mark = arena.mark();
  try {
    const outputs: Float32Array[] = [];
    for (const g of GEMMS) {
      const [aRows, aCols] = g.layout === 'gemmTN' ? [g.k, g.m] : [g.m, g.k];
      const [bRows, bCols] = g.layout === 'gemmNT' ? [g.n, g.k] : [g.k, g.n];
      const a = arena.put(uniform(rand, aRows * aCols));
      const b = arena.put(uniform(rand, bRows * bCols));
      const c = arena.put(uniform(rand, g.m * g.n));
      ops[g.layout](g.m, g.n, g.k, a, aCols, b, bCols, c, g.n, g.alpha, g.beta);
      outputs.push(arena.heap.slice(c, c + g.m * g.n));
    }
    const rows = 9;
    const cols = 100;
    const scores = uniform(rand, rows * cols, 6);
    for (let i = 0; i < scores.length; i += 7) scores[i] = Number.NEGATIVE_INFINITY;
    const s = arena.put(scores);
    const lse = arena.alloc(rows);
    ops.softmaxRows(s, cols, rows, cols, lse);
    outputs.push(arena.heap.slice(s, s + rows * cols), arena.heap.slice(lse, lse + rows));
    const tile = arena.put(scores);
    const rowMax = arena.put(new Float32Array(rows).fill(Number.NEGATIVE_INFINITY));
    const rowSum = arena.put(new Float32Array(rows));
    const acc = arena.put(uniform(rand, rows * 24));
    ops.onlineSoftmaxStep(tile, cols, rows, cols, rowMax, rowSum, acc, 24, 24);
    ops.finishRows(acc, 24, rows, 24, rowMax, rowSum, acc, 24, lse);
    outputs.push(arena.heap.slice(acc, acc + rows * 24), arena.heap.slice(lse, lse + rows));
    const x = arena.put(uniform(rand, rows * cols, 3));
    const sums = arena.alloc(cols);
    ops.expShiftRows(x, cols, rows, cols, -1, 0.5, 0.25);
    ops.columnSums(x, cols, rows, cols, sums, 0);
    outputs.push(arena.heap.slice(x, x + rows * cols), arena.heap.slice(sums, sums + cols));
    return outputs;
  } finally {
    arena.release(mark);
  }
}

/** Per-output tolerance of `got` against the js twin's `expected`. */
function expectNear(label: string, got: Float32Array, expected: Float32Array, index: number): void {
  const g = GEMMS[index];
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const x = got[i]!;
    if (Object.is(x, e)) continue;
    // GEMMs: |c| ≤ Σ|a·b|·|alpha| + |beta·c| ≤ k + 1 for operands in [-1, 1]; rows: relative
    const tolerance = g
      ? (g.k + 4) * U * (Math.abs(g.alpha) * g.k + Math.abs(g.beta))
      : (100 + 8) * U * Math.abs(e);
    expect(Math.abs(x - e), `${label}: output ${index} [${i}] ${x} vs ${e}`).toBeLessThanOrEqual(
      tolerance + 1e-38,
    );
  }
}

describeNative(`native CPU paths${suffix}`, () => {
  const paths = (nativePathInfo()?.paths ?? []) as NativePath[];

  afterEach(() => {
    setNativePath();
  });

  it('every path this CPU runs can be forced, runs, and agrees with the twin and the other paths', () => {
    const native = getEngine('native');
    const expected = workload(getEngine('js'), 11);
    const results = new Map<NativePath, Float32Array[]>();
    for (const path of paths) {
      expect(setNativePath(path)).toMatchObject({ path, selectedBy: 'setPath' });
      expect(nativePathInfo()!.path).toBe(path);
      const got = workload(native, 11);
      for (const [index, output] of got.entries())
        expectNear(`${path} vs js`, output, expected[index]!, index);
      // a rerun on the same path is bitwise the same
      expect(workload(native, 11)).toEqual(got);
      results.set(path, got);
    }
    expect(paths).toContain('baseline');
    // the forced paths are different code: FMA (AVX) and mul + add (baseline) round the 300-deep
    // dot products differently somewhere
    const fused = results.get('avx512') ?? results.get('avx2');
    if (fused) expect(fused[0]).not.toEqual(results.get('baseline')![0]);
    expect(setNativePath()).toMatchObject({ path: paths[0], selectedBy: 'cpu' });
  });

  it('refuses a path name it does not know', () => {
    expect(() => setNativePath('sse9' as NativePath)).toThrow(
      /^setPath: expected 'avx512', 'avx2', 'baseline'/,
    );
  });

  it('ATTNKIT_NATIVE_PATH=baseline selects the baseline path at load', () => {
    const got = inChild('console.log(JSON.stringify(kernels.backendInfo()));', {
      ATTNKIT_NATIVE_PATH: 'baseline',
    }) as ReturnType<typeof backendInfo>;
    expect(got.backend).toBe('native');
    expect(got.native.path).toBe('baseline');
    expect(got.reason).toBe('the native addon loaded (baseline path, chosen by ATTNKIT_NATIVE_PATH)');
  });
});

describeNative(`native engines${suffix}`, () => {
  it('a private native engine keeps computing right across memory growth (the heap address is re-read)', () => {
    const engine = createEngine('native', { initialBytes: 0 });
    expect(engine.backend).toBe('native');
    const { arena, ops } = engine;
    const a = arena.put(new Float32Array([1, 2, 3, 4, 5, 6]));
    const c = arena.alloc(4);
    ops.gemmNT(2, 2, 3, a, 3, a, 3, c, 2, 1, 0);
    expect(Array.from(arena.heap.subarray(c, c + 4))).toEqual([14, 32, 32, 77]);
    const bytes = arena.memory.buffer.byteLength;
    const big = arena.alloc(4 * 2 ** 20); // 16 MiB: grows the memory
    expect(arena.memory.buffer.byteLength).toBeGreaterThan(bytes);
    arena.heap.set([1, 0, 0, 1], big);
    const d = arena.alloc(4);
    ops.gemmNN(2, 2, 2, big, 2, a, 3, d, 2, 2, 0);
    expect(Array.from(arena.heap.subarray(d, d + 4))).toEqual([2, 4, 8, 10]);
  });

  it('put and read copy with memcpy: every bit kept (NaN payload, −0, subnormal), ranges outside refused', () => {
    const engine = createEngine('native', { initialBytes: 0 });
    const ops = engine.ops as NativeKernelOps;
    const { arena } = engine;
    const bits = new Uint32Array([
      0x7fc01234, 0xffa00001, 0x80000000, 0x00000001, 0x7f7fffff, 0x3f800000, 0xff800000,
    ]);
    const data = new Float32Array(bits.buffer);
    const at = ops.put(data);
    // the arena's own view sees the same bits, and a read returns them
    expect(Array.from(new Uint32Array(arena.heap.buffer, at * 4, bits.length))).toEqual(Array.from(bits));
    const back = new Float32Array(bits.length + 2).fill(7);
    ops.read(at, back.subarray(1, 1 + bits.length));
    expect(Array.from(new Uint32Array(back.buffer, 4, bits.length))).toEqual(Array.from(bits));
    expect([back[0], back[bits.length + 1]]).toEqual([7, 7]);
    // a read past the live allocations is the arena's error; the addon refuses a range past the heap
    expect(() => ops.read(arena.mark(), new Float32Array(4))).toThrow(/outside the arena's live allocations/);
    const addon = (ops as unknown as { addon: { copyFloats: (...a: unknown[]) => void } }).addon;
    expect(() => addon.copyFloats(arena.heap, arena.heap.length - 2, new Float32Array(4), true)).toThrow(
      'copyFloats: [offset, offset + array.length) is not inside the heap',
    );
    expect(() => addon.copyFloats(arena.heap, 0.5, new Float32Array(1), true)).toThrow(/not inside the heap/);
  });

  it('checks operands like wasm: an offset outside the live arena is an ArenaError naming the argument', () => {
    const { ops, arena } = getEngine('native');
    expect(() => ops.softmaxRows(arena.mark() + 64, 8, 1, 8, -1)).toThrow(
      /^softmaxRows: s = \d+ \(1 × 8, stride 8\) spans \[\d+, \d+\), outside the arena's live allocations/,
    );
    expect(() => ops.gemmNT(1.5, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0)).toThrow(
      'gemmNT: m must be a non-negative integer',
    );
  });
});

describeNative(`native on pool workers${suffix}`, () => {
  const GEMM = new URL('./fixtures/gemm-work.mjs', import.meta.url).href;

  beforeAll(async () => {
    setThreadPolicy({ maxThreads: 3, idleMs: Number.POSITIVE_INFINITY });
    await startThreads(3);
  }, 30_000);

  afterAll(async () => {
    setThreadPolicy({ maxThreads: undefined, idleMs: undefined });
    await stopThreads();
  });

  it('workers compute on native too, and 2 or 3 threads equal 1 thread bit for bit', () => {
    const { arena } = getEngine('native');
    const mark = arena.mark();
    try {
      const m = 90;
      const n = 70;
      const k = 129;
      const a = arena.put(Float32Array.from({ length: m * k }, (_, i) => Math.sin(i)));
      const b = arena.put(Float32Array.from({ length: n * k }, (_, i) => Math.cos(0.3 * i)));
      const who = arena.alloc(16);
      const backends = arena.alloc(16);
      const meet = arena.put(new Float32Array(16));
      const items = Math.ceil(m / 11);
      const payload = (c: number, meetBytes?: number) => ({
        a,
        b,
        c,
        who,
        backends,
        m,
        n,
        k,
        rowsPerItem: 11,
        meetBytes,
      });
      const reference = arena.alloc(m * n);
      runParallel(GEMM, payload(reference), items, 1, { backend: 'native' });
      const expected = arena.heap.slice(reference, reference + m * n);
      for (const threads of [2, 3]) {
        const c = arena.alloc(m * n);
        arena.heap.fill(Number.NaN, c, c + m * n);
        arena.heap.fill(0, meet, meet + 1);
        arena.heap.fill(0, backends, backends + items);
        runParallel(GEMM, payload(c, meet * 4), items, threads, { backend: 'native' });
        expect(arena.heap.slice(c, c + m * n)).toEqual(expected);
        // every item ran on native, and items 0 and 1 met, so one of them ran in a worker's arena
        expect(Array.from(arena.heap.subarray(backends, backends + items))).toEqual(new Array(items).fill(3));
        expect(new Set(arena.heap.subarray(who, who + items)).size).toBeGreaterThan(1);
      }
    } finally {
      arena.release(mark);
    }
  });
});

describeNative(`native fused flash block${suffix}`, () => {
  afterEach(() => {
    setNativePath();
  });

  /** Places q = 0 (equal scores), k and v for `rows` rows against `keys` keys of width d. */
  function place(engine: Engine, rows: number, keys: number, d: number) {
    const { arena } = engine;
    const v = new Float32Array(keys * d).map((_, i) => (i % 7) - 3 + i / 100);
    return {
      q: arena.put(new Float32Array(rows * d)),
      k: arena.put(new Float32Array(keys * d).map((_, i) => Math.sin(i))),
      v: arena.put(v),
      values: v,
      out: arena.alloc(rows * d),
      lse: arena.alloc(rows),
      work: arena.alloc(flashBlockScratchFloats(rows, d, d, 4)),
    };
  }

  function args(at: ReturnType<typeof place>, rows: number, keys: number, d: number, validKeys: number) {
    return {
      q: at.q,
      k: at.k,
      v: at.v,
      out: at.out,
      lse: at.lse,
      rows,
      headDim: d,
      valueDim: d,
      keyStart: 0,
      keyEnd: keys,
      blockK: 4,
      scale: 0.5,
      firstQueryPos: keys - rows,
      left: Number.POSITIVE_INFINITY,
      right: Number.POSITIVE_INFINITY,
      validKeys,
      fullFirst: 0,
      fullEnd: validKeys,
      work: at.work,
      mod0: 0,
      mod0Value: 0,
      mod1: 0,
      mod1Value: 0,
      keyLow: 0,
      runs: -1,
      runCount: 0,
    };
  }

  it('equal scores average the visible values on every path; a row with no visible key is zeros, lse −∞', () => {
    const rows = 3;
    const keys = 10;
    const d = 5;
    for (const path of nativePathInfo()!.paths) {
      setNativePath(path);
      const engine = getEngine('native');
      const ops = engine.ops as NativeKernelOps;
      const { arena } = engine;
      const mark = arena.mark();
      try {
        const at = place(engine, rows, keys, d);
        // 7 of the 10 keys are valid: every row averages values 0..6 (tiles of 4: one masked)
        expect(ops.flashBlock(args(at, rows, keys, d, 7))).toBe(0);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < d; c++) {
            let mean = 0;
            for (let j = 0; j < 7; j++) mean += at.values[j * d + c]! / 7;
            expect(Math.abs(arena.heap[at.out + r * d + c]! - mean), `${path} row ${r}`).toBeLessThanOrEqual(
              16 * U * 4,
            );
          }
          expect(Math.abs(arena.heap[at.lse + r]! - Math.log(7))).toBeLessThanOrEqual(8 * U);
        }
        // no valid key: zeros and lse −∞, never NaN
        expect(ops.flashBlock(args(at, rows, keys, d, 0))).toBe(0);
        for (let i = 0; i < rows * d; i++) expect(arena.heap[at.out + i]).toBe(0);
        for (let r = 0; r < rows; r++) expect(arena.heap[at.lse + r]).toBe(Number.NEGATIVE_INFINITY);
      } finally {
        arena.release(mark);
      }
    }
  });

  it('refuses a work buffer outside the arena, naming it', () => {
    const engine = getEngine('native');
    const ops = engine.ops as NativeKernelOps;
    const { arena } = engine;
    const mark = arena.mark();
    try {
      const at = place(engine, 2, 8, 4);
      const bad = { ...args(at, 2, 8, 4, 8), work: arena.mark() };
      expect(() => ops.flashBlock(bad)).toThrow(/^flashBlock: work = \d+ \(1 × \d+, stride 0\) spans/);
      expect(() => ops.flashBlock({ ...args(at, 2, 8, 4, 8), keyEnd: 1e6 })).toThrow(/^flashBlock: k = /);
    } finally {
      arena.release(mark);
    }
  });
});
