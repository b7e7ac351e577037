/**
 * The paged cache's decode attend (kernels' decodeAttend: the query rows of one kv head against the
 * positions read from their pages in place, one online-softmax pass) against the float64 oracle,
 * the tiled path it replaces, and its edge semantics (docs/design.md, Caches and
 * the layer). Native runs on every path this CPU has (setNativePath).
 */
import { errorStats, naiveFloat32Attention, randn, referenceAttention, type Tensor } from '@attnkit/core';
import { DECODE_TOLERANCE, expectBitwiseEqual, expectWithin, twoXRule } from '@attnkit/core/testing';
import { type NativePath, nativePathInfo, nativeUnavailableReason, setNativePath } from '@attnkit/kernels';
import { afterEach, describe, expect, it } from 'vitest';
import { createPagedKVCache, type PagedKVCache } from '../index.js';

const HQ = 8;
const HKV = 2;
/** Not a multiple of any vector width: the kernels' tails run too. */
const DK = 40;
const DV = 24;
const N = 150;
const NATIVE = nativeUnavailableReason() === undefined;
/** Every engine the decode path runs on: js, wasm, then native on each path this CPU has. */
const RUNS: readonly { name: string; backend: 'js' | 'wasm' | 'native'; path?: NativePath }[] = [
  { name: 'js', backend: 'js' },
  { name: 'wasm', backend: 'wasm' },
  ...(NATIVE
    ? ((nativePathInfo()?.paths ?? []) as NativePath[]).map((path) => ({
        name: `native ${path}`,
        backend: 'native' as const,
        path,
      }))
    : []),
];

afterEach(() => {
  if (NATIVE) setNativePath();
});

function select(run: (typeof RUNS)[number]): void {
  if (run.path) setNativePath(run.path);
}

/** Rows [from, to) of every head of a [1, H, L, D] tensor. */
function rows(t: ArrayLike<number>, heads: number, length: number, depth: number, from: number, to: number) {
  const out = new Float64Array(heads * (to - from) * depth);
  for (let h = 0; h < heads; h++) {
    for (let i = from; i < to; i++) {
      for (let c = 0; c < depth; c++)
        out[(h * (to - from) + i - from) * depth + c] = t[(h * length + i) * depth + c]!;
    }
  }
  return out;
}

interface Attended {
  out: Float32Array;
  lse: Float32Array;
}

/** A cache holding k, v (N positions), then one attend of the last `lnew` queries of q. */
function attendLast(
  cache: PagedKVCache,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  lnew: number,
  window?: number,
): Attended {
  const id = cache.addSequence();
  cache.append([id], k, v);
  const last = rows(q.data, HQ, N, DK, N - lnew, N);
  const lse = new Float32Array(HQ * lnew);
  const options = window === undefined ? { lse } : { lse, window: [window, 0] as [number, number] };
  const out = cache.attend([id], { data: Float32Array.from(last), shape: [1, HQ, lnew, DK] }, options);
  return { out: out.data, lse };
}

function cacheOf(
  backend: 'js' | 'wasm' | 'native',
  attendPath: 'decode' | 'tiled',
  extra: { pageSize?: number; storage?: 'float32' | 'float16' | 'int8' } = {},
): PagedKVCache {
  const cache = createPagedKVCache({
    kvHeads: HKV,
    headDim: DK,
    valueDim: DV,
    pageSize: 5,
    backend,
    ...extra,
  });
  cache.attendPath = attendPath;
  return cache;
}

describe('decodeAttend: the paged attend on native, wasm and js', () => {
  const q = randn([1, HQ, N, DK], 61);
  const k = randn([1, HKV, N, DK], 62);
  const v = randn([1, HKV, N, DV], 63);

  for (const lnew of [1, 3]) {
    for (const window of [undefined, 37]) {
      it(`Lnew ${lnew}, window ${window ?? 'none'}: within the 2× rule of the float64 oracle (out and lse), and within DECODE_TOLERANCE of the tiled path`, () => {
        const options =
          window === undefined ? { causal: true } : { causal: true, window: [window, 0] as [number, number] };
        const reference = referenceAttention(q, k, v, options);
        const expected = rows(reference.out, HQ, N, DV, N - lnew, N);
        const expectedLse = rows(reference.lse, HQ, N, 1, N - lnew, N);
        const naive = rows(naiveFloat32Attention(q, k, v, options), HQ, N, DV, N - lnew, N);
        const rule = twoXRule(naive, expected);
        for (const run of RUNS) {
          select(run);
          const decoded = attendLast(cacheOf(run.backend, 'decode'), q, k, v, lnew, window);
          const tiled = attendLast(cacheOf(run.backend, 'tiled'), q, k, v, lnew, window);
          const error = errorStats(decoded.out, expected).maxAbs;
          expect(
            error,
            `${run.name}: max error ${error}, the 2× rule's bound ${rule.bound}`,
          ).toBeLessThanOrEqual(rule.bound);
          expectWithin(decoded.lse, expectedLse, DECODE_TOLERANCE, `${run.name} lse vs oracle`);
          expectWithin(decoded.out, tiled.out, DECODE_TOLERANCE, `${run.name} decode vs tiled`);
          expectWithin(decoded.lse, tiled.lse, DECODE_TOLERANCE, `${run.name} lse decode vs tiled`);
        }
      });
    }
  }

  it('the bits do not depend on the page size (1, 5, 16, 64, 256), each engine, every storage', () => {
    for (const run of RUNS) {
      select(run);
      for (const storage of ['float32', 'float16', 'int8'] as const) {
        const base = attendLast(cacheOf(run.backend, 'decode', { storage, pageSize: 5 }), q, k, v, 3);
        for (const pageSize of [1, 16, 64, 256]) {
          const other = attendLast(cacheOf(run.backend, 'decode', { storage, pageSize }), q, k, v, 3);
          expectBitwiseEqual(other.out, base.out, `${run.name} ${storage} pageSize ${pageSize}`);
          expectBitwiseEqual(other.lse, base.lse, `${run.name} ${storage} lse pageSize ${pageSize}`);
        }
      }
    }
  });

  it('values exactly representable in half and in int8 · scale: float16 and int8 storage give float32 storage’s bits, each engine', () => {
    const grid = (x: Tensor, depth: number): Tensor => {
      const data = new Float32Array(x.data.length);
      for (let i = 0; i < data.length; i++) {
        data[i] = Math.max(-127, Math.min(127, Math.round(x.data[i]! * 50))) / 128;
      }
      // every row holds a ±127 (its int8 scale is then exactly 1/128)
      for (let row = 0; row < data.length / depth; row++) data[row * depth + (row % depth)] = 127 / 128;
      return { data, shape: x.shape };
    };
    const kk = grid(k, DK);
    const vv = grid(v, DV);
    for (const run of RUNS) {
      select(run);
      const float32 = attendLast(cacheOf(run.backend, 'decode'), q, kk, vv, 2);
      for (const storage of ['float16', 'int8'] as const) {
        const compact = attendLast(cacheOf(run.backend, 'decode', { storage }), q, kk, vv, 2);
        expectBitwiseEqual(compact.out, float32.out, `${run.name} ${storage} vs float32`);
        expectBitwiseEqual(compact.lse, float32.lse, `${run.name} ${storage} lse vs float32`);
      }
    }
  });

  it('a NaN in one query row makes that row (out and lse) NaN and leaves the others bit for bit', () => {
    const poisoned = { data: q.data.slice(), shape: q.shape };
    // head 3, the last position (the query of an Lnew 1 attend), feature 7
    poisoned.data[(3 * N + N - 1) * DK + 7] = Number.NaN;
    for (const run of RUNS) {
      select(run);
      const clean = attendLast(cacheOf(run.backend, 'decode'), q, k, v, 1);
      const dirty = attendLast(cacheOf(run.backend, 'decode'), poisoned, k, v, 1);
      for (let h = 0; h < HQ; h++) {
        const got = dirty.out.subarray(h * DV, (h + 1) * DV);
        if (h === 3) {
          expect(Array.from(got).every(Number.isNaN), `${run.name}: head 3 out`).toBe(true);
          expect(dirty.lse[3], `${run.name}: head 3 lse`).toBeNaN();
        } else {
          expectBitwiseEqual(got, clean.out.subarray(h * DV, (h + 1) * DV), `${run.name}: head ${h}`);
          expect(dirty.lse[h]).toBe(clean.lse[h]);
        }
      }
    }
  });

  it('float16: an Infinity in a value row reaches exactly the queries that see it (the later ones of a 3-query attend)', () => {
    const bad = { data: v.data.slice(), shape: v.shape };
    const good = { data: v.data.slice(), shape: v.shape };
    for (let g = 0; g < HKV; g++) {
      // the last position: only the last of the 3 queries sees it (within one block of keys)
      bad.data[(g * N + N - 1) * DV + 2] = Number.POSITIVE_INFINITY;
      good.data[(g * N + N - 1) * DV + 2] = 1;
    }
    for (const run of RUNS) {
      select(run);
      for (const window of [undefined, 20]) {
        const hidden = attendLast(
          cacheOf(run.backend, 'decode', { storage: 'float16' }),
          q,
          k,
          bad,
          3,
          window,
        );
        const plain = attendLast(
          cacheOf(run.backend, 'decode', { storage: 'float16' }),
          q,
          k,
          good,
          3,
          window,
        );
        for (let h = 0; h < HQ; h++) {
          for (let i = 0; i < 3; i++) {
            const at = (h * 3 + i) * DV;
            const what = `${run.name}, window ${window}, head ${h}, query ${i}`;
            if (i < 2) {
              expectBitwiseEqual(hidden.out.subarray(at, at + DV), plain.out.subarray(at, at + DV), what);
            } else {
              expect(hidden.out[at + 2], what).toBe(Number.POSITIVE_INFINITY);
            }
          }
        }
      }
    }
  });

  it('scores beyond float32 saturate as gemmNT’s (±FLT_MAX): the query weighs the positive keys equally (closed form)', () => {
    // q · k = ±1e40 for keys of sign ±: +FLT_MAX ties for the even positions, the odd ones weigh 0
    const big = new Float32Array(HQ * N * DK);
    const keys = new Float32Array(HKV * N * DK);
    for (let h = 0; h < HQ; h++) big[(h * N + N - 1) * DK] = 1e20;
    for (let g = 0; g < HKV; g++) {
      for (let i = 0; i < N; i++) keys[(g * N + i) * DK] = i % 2 === 0 ? 1e20 : -1e20;
    }
    const qq = { data: big, shape: [1, HQ, N, DK] };
    const kk = { data: keys, shape: [1, HKV, N, DK] };
    const expected = new Float64Array(HQ * DV);
    for (let h = 0; h < HQ; h++) {
      const g = Math.floor(h / (HQ / HKV));
      for (let c = 0; c < DV; c++) {
        let sum = 0;
        for (let i = 0; i < N; i += 2) sum += v.data[(g * N + i) * DV + c]!;
        expected[h * DV + c] = sum / Math.ceil(N / 2);
      }
    }
    for (const run of RUNS) {
      select(run);
      const got = attendLast(cacheOf(run.backend, 'decode'), qq, kk, v, 1);
      expectWithin(got.out, expected, DECODE_TOLERANCE, `${run.name}: saturated ties`);
      // lse = FLT_MAX + log(count): FLT_MAX in float32
      for (const value of got.lse) expect(value).toBe(3.4028234663852886e38);
    }
  });
});
