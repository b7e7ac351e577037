/**
 * The three GEMMs of each compiled backend (wasm; native where the addon loaded, on the CPU path it
 * chose) against their JS twins and a float64 reference, on every (m, n, k) in
 * {1, 3, 5, 7, 8, 13, 17, 64, 65}³ (tails of wasm's 4×8 and native's 4×8, 6×16 and 8×32 micro-kernels
 * on every side; 33 and 65 cross native's 32-column panels), plus k above the
 * 256-deep k block, with row strides larger than the row, alpha ≠ 1 and beta ∈ {0, 1, 0.5}.
 *
 * Tolerance (per element, both backends vs float64): the standard bound for a float32 dot product
 * summed in order, (k + 4)·u·(|alpha|·Σ_p |a_ip·b_pj| + |beta·c_ij|) with u = 2⁻²⁴: one rounding per
 * product and per addition (k), plus alpha's product, beta's product and the final addition.
 * The compiled result and the twin are held to each other with the sum of their bounds.
 */
import { describe, expect, it } from 'vitest';
import { getEngine } from '../engine/engine.js';
import {
  compiledBackends,
  expectClose,
  expectPaddingIntact,
  placeTwice,
  readBack,
  reportNativeSkip,
  seeded,
  strided,
  U,
  uniform,
} from './helpers.js';

const SIZES = [1, 3, 5, 7, 8, 13, 17, 33, 64, 65];
type Layout = 'NT' | 'NN' | 'TN';

interface Case {
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  extra: number;
}

/** Runs one GEMM on `backend` and on the twin and checks both against float64. */
function checkGemm(
  backend: 'wasm' | 'native',
  layout: Layout,
  { m, n, k, alpha, beta, extra }: Case,
  seed: number,
): void {
  const wasm = getEngine(backend);
  const js = getEngine('js');
  const arena = wasm.arena;
  const rand = seeded(seed);
  // A is [m × k] (NT, NN) or [k × m] (TN); B is [n × k] (NT) or [k × n] (NN, TN)
  const [aRows, aCols] = layout === 'TN' ? [k, m] : [m, k];
  const [bRows, bCols] = layout === 'NT' ? [n, k] : [k, n];
  const lda = aCols + extra;
  const ldb = bCols + ((extra * 3) % 5);
  const ldc = n + ((extra * 2) % 3);
  const aValues = uniform(rand, aRows * aCols);
  const bValues = uniform(rand, bRows * bCols);
  // beta == 0 must never read C: start it as NaN so a read would show
  const cValues = beta === 0 ? new Float32Array(m * n).fill(Number.NaN) : uniform(rand, m * n);
  const mark = arena.mark();
  try {
    const a = arena.put(strided(aValues, aRows, aCols, lda));
    const b = arena.put(strided(bValues, bRows, bCols, ldb));
    const [cWasm, cJs] = placeTwice(wasm, strided(cValues, m, n, ldc));
    const call = layout === 'NT' ? 'gemmNT' : layout === 'NN' ? 'gemmNN' : 'gemmTN';
    wasm.ops[call](m, n, k, a, lda, b, ldb, cWasm, ldc, alpha, beta);
    js.ops[call](m, n, k, a, lda, b, ldb, cJs, ldc, alpha, beta);
    const gotWasm = readBack(wasm, cWasm, m * ldc);
    const gotJs = readBack(js, cJs, m * ldc);

    const reference = new Float64Array(m * ldc);
    const bound = new Float64Array(m * ldc);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        let magnitude = 0;
        for (let p = 0; p < k; p++) {
          const av = layout === 'TN' ? aValues[p * m + i]! : aValues[i * k + p]!;
          const bv = layout === 'NT' ? bValues[j * k + p]! : bValues[p * n + j]!;
          dot += av * bv;
          magnitude += Math.abs(av * bv);
        }
        const old = beta === 0 ? 0 : cValues[i * n + j]!;
        reference[i * ldc + j] = alpha * dot + beta * old;
        bound[i * ldc + j] = (k + 4) * U * (Math.abs(alpha) * magnitude + Math.abs(beta * old)) + 1e-30;
      }
      for (let j = n; j < ldc; j++) {
        reference[i * ldc + j] = Number.NaN; // padding: checked separately
      }
    }
    const label = `gemm${layout} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta} extra=${extra}`;
    const valid = (data: ArrayLike<number>) =>
      Float64Array.from({ length: m * n }, (_, t) => data[Math.floor(t / n) * ldc + (t % n)]!);
    const boundAt = (t: number) => bound[Math.floor(t / n) * ldc + (t % n)]!;
    expectClose(`${label} ${backend} vs float64`, valid(gotWasm), valid(reference), boundAt);
    expectClose(`${label} js vs float64`, valid(gotJs), valid(reference), boundAt);
    expectClose(`${label} ${backend} vs js`, valid(gotWasm), valid(gotJs), (t) => 2 * boundAt(t));
    expectPaddingIntact(`${label} ${backend}`, gotWasm, m, n, ldc);
  } finally {
    arena.release(mark);
  }
}

reportNativeSkip('gemm');

describe.each(
  compiledBackends().flatMap((backend) =>
    (['NT', 'NN', 'TN'] as const).map((layout) => [backend, layout] as const),
  ),
)('%s gemm%s', (backend, layout) => {
  it('matches the twin and float64 on every tail combination of m, n, k', () => {
    const rand = seeded(7);
    let seed = 100;
    for (const m of SIZES) {
      for (const n of SIZES) {
        for (const k of SIZES) {
          const alpha = [1, -1.7, 0.3][Math.floor(rand() * 3)]!;
          const beta = [0, 1, 0.5][Math.floor(rand() * 3)]!;
          checkGemm(backend, layout, { m, n, k, alpha, beta, extra: Math.floor(rand() * 4) }, seed++);
        }
      }
    }
  });

  it('accumulates across k blocks (k > 256) with beta 0 and 1', () => {
    for (const [m, n, k] of [
      [5, 9, 257],
      [13, 17, 600],
      [64, 64, 513],
    ] as const) {
      for (const beta of [0, 1]) {
        checkGemm(backend, layout, { m, n, k, alpha: 0.5, beta, extra: 3 }, m * n + k + beta);
      }
    }
  });

  it('with k = 0 writes beta·C (and zeros for beta = 0 without reading C)', () => {
    for (const beta of [0, 0.5])
      checkGemm(backend, layout, { m: 7, n: 9, k: 0, alpha: 2, beta, extra: 1 }, 3);
  });

  it('does nothing for m = 0 or n = 0', () => {
    const wasm = getEngine(backend);
    const mark = wasm.arena.mark();
    const c = wasm.arena.put(new Float32Array([1, 2, 3, 4]));
    const call = layout === 'NT' ? 'gemmNT' : layout === 'NN' ? 'gemmNN' : 'gemmTN';
    wasm.ops[call](0, 4, 3, c, 3, c, 3, c, 4, 1, 0);
    wasm.ops[call](1, 0, 3, c, 3, c, 3, c, 4, 1, 0);
    expect(Array.from(readBack(wasm, c, 4))).toEqual([1, 2, 3, 4]);
    wasm.arena.release(mark);
  });
});
