/**
 * Limits and non-finite values (docs/design.md, "Limits and non-finite values"), on every backend
 * (js, wasm, and native where the addon loaded):
 * - NaN propagates: a row whose VISIBLE scores contain NaN gives NaN probabilities / output and a
 *   NaN lse; a NaN in a hidden key's score is discarded (maskBand writes −∞ over it); a row that
 *   sees no key still gives zeros and lse = −∞.
 * - Finite inputs never give NaN, and overflow is not masking: gemmNT's score results saturate to
 *   ±FLT_MAX (an intermediate +∞ − ∞ is recomputed rather than left as NaN), so −∞ in a score
 *   buffer always means "hidden"; scores tied at the saturation value share the weight equally.
 *   `saturate = false` keeps the plain IEEE float32 product (FAVOR+ projections).
 * Expected values are closed forms (means of value rows, log of a count) or core's float64 oracle
 * where float64 and the float32 rules agree.
 */
import { referenceAttention, tensor } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../engine/engine.js';
import { getEngine } from '../engine/engine.js';
import { compiledBackends, expectClose, readBack, reportNativeSkip, U } from './helpers.js';

const FLT_MAX = 3.4028234663852886e38;
const js = getEngine('js');
const ENGINES = [...compiledBackends().map((backend) => getEngine(backend)), js] as const;
const arena = js.arena;
reportNativeSkip('non-finite values');

function withArena<T>(body: () => T): T {
  const mark = arena.mark();
  try {
    return body();
  } finally {
    arena.release(mark);
  }
}

interface Head {
  /** q [lq × dk], k [lk × dk], v [lk × dv], row-major. */
  q: ArrayLike<number>;
  k: ArrayLike<number>;
  v: ArrayLike<number>;
  lq: number;
  lk: number;
  dk: number;
  dv: number;
  scale?: number;
  /** Keys j >= validKeys are hidden (kvLengths). Default lk. */
  validKeys?: number;
  causal?: boolean;
}

interface HeadResult {
  out: Float32Array;
  lse: Float32Array;
}

/** The materialising path of dense / causal / sliding-window: gemmNT → maskBand → softmaxRows → gemmNN. */
function denseHead(engine: Engine, head: Head): HeadResult {
  const { lq, lk, dk, dv } = head;
  const scale = head.scale ?? 1 / Math.sqrt(dk);
  const validKeys = head.validKeys ?? lk;
  const right = head.causal ? 0 : Number.POSITIVE_INFINITY;
  return withArena(() => {
    const { ops } = engine;
    const q = arena.put(Float32Array.from(head.q));
    const k = arena.put(Float32Array.from(head.k));
    const v = arena.put(Float32Array.from(head.v));
    const s = arena.alloc(lq * lk);
    const out = arena.alloc(lq * dv);
    const lse = arena.alloc(lq);
    ops.gemmNT(lq, lk, dk, q, dk, k, dk, s, lk, scale, 0);
    ops.maskBand(s, lk, lq, lk, lk - lq, 0, Number.POSITIVE_INFINITY, right, validKeys);
    ops.softmaxRows(s, lk, lq, lk, lse);
    ops.gemmNN(lq, dv, lk, s, lk, v, dv, out, dv, 1, 0);
    return { out: readBack(engine, out, lq * dv), lse: readBack(engine, lse, lq) };
  });
}

/** The streaming path of flash, key tiles of `tile` columns: gemmNT → maskBand → onlineSoftmaxStep → gemmNN, then finishRows. */
function flashHead(engine: Engine, head: Head, tile: number): HeadResult {
  const { lq, lk, dk, dv } = head;
  const scale = head.scale ?? 1 / Math.sqrt(dk);
  const validKeys = head.validKeys ?? lk;
  const right = head.causal ? 0 : Number.POSITIVE_INFINITY;
  return withArena(() => {
    const { ops } = engine;
    const q = arena.put(Float32Array.from(head.q));
    const k = arena.put(Float32Array.from(head.k));
    const v = arena.put(Float32Array.from(head.v));
    const s = arena.alloc(lq * tile);
    const rowMax = arena.put(new Float32Array(lq).fill(Number.NEGATIVE_INFINITY));
    const rowSum = arena.put(new Float32Array(lq));
    const acc = arena.put(new Float32Array(lq * dv));
    const out = arena.alloc(lq * dv);
    const lse = arena.alloc(lq);
    for (let j0 = 0; j0 < lk; j0 += tile) {
      const cols = Math.min(tile, lk - j0);
      ops.gemmNT(lq, cols, dk, q, dk, k + j0 * dk, dk, s, tile, scale, 0);
      ops.maskBand(s, tile, lq, cols, lk - lq, j0, Number.POSITIVE_INFINITY, right, validKeys);
      ops.onlineSoftmaxStep(s, tile, lq, cols, rowMax, rowSum, acc, dv, dv);
      ops.gemmNN(lq, dv, cols, s, tile, v + j0 * dv, dv, acc, dv, 1, 1);
    }
    ops.finishRows(acc, dv, lq, dv, rowMax, rowSum, out, dv, lse);
    return { out: readBack(engine, out, lq * dv), lse: readBack(engine, lse, lq) };
  });
}

/** Every backend × path (dense, flash with 1-, 2- and 3-key tiles) on one head. */
function everyPath(head: Head): { label: string; result: HeadResult }[] {
  const results: { label: string; result: HeadResult }[] = [];
  for (const engine of ENGINES) {
    results.push({ label: `dense ${engine.backend}`, result: denseHead(engine, head) });
    for (const tile of [1, 2, 3]) {
      results.push({ label: `flash tile ${tile} ${engine.backend}`, result: flashHead(engine, head, tile) });
    }
  }
  return results;
}

/** Mean of value rows `keys` (float64). */
function meanOf(v: ArrayLike<number>, dv: number, keys: number[]): number[] {
  const mean = new Array<number>(dv).fill(0);
  for (const j of keys) for (let c = 0; c < dv; c++) mean[c]! += v[j * dv + c]! / keys.length;
  return mean;
}

function expectRow(
  label: string,
  got: HeadResult,
  row: number,
  dv: number,
  out: number[],
  lse: number,
): void {
  const tolerance = (i: number) => 16 * U * (Math.abs(out[i]!) + 1);
  expectClose(`${label} out row ${row}`, got.out.subarray(row * dv, row * dv + dv), out, tolerance);
  expectClose(`${label} lse row ${row}`, [got.lse[row]!], [lse], () => 16 * U * (Math.abs(lse) + 1));
}

function expectNaNRow(label: string, got: HeadResult, row: number, dv: number): void {
  const values = Array.from(got.out.subarray(row * dv, row * dv + dv));
  expect(values.every(Number.isNaN), `${label} out row ${row}: ${values}`).toBe(true);
  expect(got.lse[row], `${label} lse row ${row}`).toBeNaN();
}

const V3 = [1, -2, 4, 8, -16, 32]; // three value rows of dv = 2

describe('NaN propagates through the visible scores', () => {
  it('softmaxRows: NaN anywhere among the visible entries (vector lanes and tail) gives NaN and lse NaN', () => {
    const cols = 9;
    const NaN_ = Number.NaN;
    const inf = Number.NEGATIVE_INFINITY;
    const rows = [
      [NaN_, 1, 2, 3, 4, 5, 6, 7, 8], // NaN with finite entries
      [inf, inf, inf, inf, NaN_, inf, inf, inf, inf], // the only visible entry is NaN (a vector lane)
      [inf, inf, inf, inf, inf, inf, inf, inf, NaN_], // ... in the scalar tail
      [NaN_, NaN_, NaN_, NaN_, NaN_, NaN_, NaN_, NaN_, NaN_],
      [inf, inf, inf, inf, inf, inf, inf, inf, inf], // sees no key: zeros, lse −∞
      [0, 0, 0, 0, 0, 0, 0, 0, Math.log(2)], // ordinary
    ];
    for (const engine of ENGINES) {
      withArena(() => {
        const s = arena.put(Float32Array.from(rows.flat()));
        const lse = arena.put(new Float32Array(rows.length).fill(7));
        engine.ops.softmaxRows(s, cols, rows.length, cols, lse);
        const p = readBack(engine, s, rows.length * cols);
        const l = readBack(engine, lse, rows.length);
        for (let r = 0; r < 4; r++) {
          expect(
            Array.from(p.subarray(r * cols, r * cols + cols)).every(Number.isNaN),
            `${engine.backend} row ${r}`,
          ).toBe(true);
          expect(l[r], `${engine.backend} lse ${r}`).toBeNaN();
        }
        expect(Array.from(p.subarray(4 * cols, 5 * cols))).toEqual(new Array(cols).fill(0));
        expect(l[4]).toBe(Number.NEGATIVE_INFINITY);
        expectClose(
          `${engine.backend} ordinary row`,
          p.subarray(5 * cols),
          [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2],
          () => 16 * U,
        );
        expectClose(`${engine.backend} ordinary lse`, [l[5]!], [Math.log(10)], () => 16 * U);
      });
    }
  });

  it('onlineSoftmaxStep + finishRows: NaN in the first, a middle or the last tile gives NaN out and lse', () => {
    const NaN_ = Number.NaN;
    const inf = Number.NEGATIVE_INFINITY;
    const dv = 2;
    // 6 columns streamed as tiles of 2; each row's NaN sits in a different tile
    const rows = [
      [NaN_, inf, inf, inf, inf, inf], // first tile, the only visible entry
      [inf, inf, inf, inf, inf, NaN_], // last tile, after tiles that saw nothing
      [1, 2, NaN_, inf, 3, 4], // middle tile, between finite tiles
      [inf, inf, NaN_, NaN_, inf, inf], // middle tile, all of the row's visible entries
      [inf, inf, inf, inf, inf, inf], // sees no key
    ];
    const v = Float32Array.from({ length: 6 * dv }, (_, i) => i + 1);
    for (const engine of ENGINES) {
      withArena(() => {
        const n = rows.length;
        const s = arena.alloc(n * 2);
        const rowMax = arena.put(new Float32Array(n).fill(Number.NEGATIVE_INFINITY));
        const rowSum = arena.put(new Float32Array(n));
        const acc = arena.put(new Float32Array(n * dv));
        const vAt = arena.put(v);
        for (let j0 = 0; j0 < 6; j0 += 2) {
          arena.heap.set(
            rows.flatMap((row) => row.slice(j0, j0 + 2)),
            s,
          );
          engine.ops.onlineSoftmaxStep(s, 2, n, 2, rowMax, rowSum, acc, dv, dv);
          engine.ops.gemmNN(n, dv, 2, s, 2, vAt + j0 * dv, dv, acc, dv, 1, 1);
        }
        const out = arena.alloc(n * dv);
        const lse = arena.alloc(n);
        engine.ops.finishRows(acc, dv, n, dv, rowMax, rowSum, out, dv, lse);
        const got = { out: readBack(engine, out, n * dv), lse: readBack(engine, lse, n) };
        for (let r = 0; r < 4; r++) expectNaNRow(`online ${engine.backend}`, got, r, dv);
        expect(Array.from(got.out.subarray(4 * dv))).toEqual([0, 0]);
        expect(got.lse[4]).toBe(Number.NEGATIVE_INFINITY);
      });
    }
  });

  it('a NaN query row gives a NaN row (only that row), dense and flash, both backends', () => {
    const q = [0.5, -1, Number.NaN, 0, 2, 1];
    const k = [1, 0, 0, 1, -1, 1];
    const head: Head = { q, k, v: V3, lq: 3, lk: 3, dk: 2, dv: 2 };
    const reference = referenceAttention(
      tensor(Float32Array.from([0.5, -1, 0, 0, 2, 1]), [1, 1, 3, 2]),
      tensor(Float32Array.from(k), [1, 1, 3, 2]),
      tensor(Float32Array.from(V3), [1, 1, 3, 2]),
    );
    for (const { label, result } of everyPath(head)) {
      expectNaNRow(label, result, 1, 2);
      for (const row of [0, 2]) {
        expectRow(
          label,
          result,
          row,
          2,
          Array.from(reference.out.subarray(row * 2, row * 2 + 2)),
          reference.lse[row]!,
        );
      }
    }
  });

  it('NaN in the only visible key gives NaN; NaN in a hidden key (kvLengths, causal) is discarded', () => {
    // kvLengths = 1: key 0 is the only visible key of every row
    const only: Head = {
      q: [1, 0, 0, 1],
      k: [Number.NaN, 1, 2, 0, 3, 3],
      v: V3,
      lq: 2,
      lk: 3,
      dk: 2,
      dv: 2,
      validKeys: 1,
    };
    for (const { label, result } of everyPath(only)) {
      expectNaNRow(label, result, 0, 2);
      expectNaNRow(label, result, 1, 2);
    }
    // kvLengths = 2: key 2 is NaN and hidden; causal with Lq = Lk = 3: row 0 sees key 0 only
    const hidden: Head = {
      q: [1, 0, 0, 1, 1, 1],
      k: [1, 2, -1, 0.5, Number.NaN, Number.NaN],
      v: V3,
      lq: 3,
      lk: 3,
      dk: 2,
      dv: 2,
    };
    const heads: Head[] = [
      { ...hidden, validKeys: 2 },
      { ...hidden, causal: true, k: [1, 2, Number.NaN, 0.5, -1, 0] },
    ];
    for (const head of heads) {
      const reference = referenceAttention(
        tensor(Float32Array.from(head.q), [1, 1, 3, 2]),
        tensor(
          Float32Array.from(head.k, (x) => (Number.isNaN(x) ? 0 : x)),
          [1, 1, 3, 2],
        ),
        tensor(Float32Array.from(head.v), [1, 1, 3, 2]),
        head.validKeys !== undefined ? { kvLengths: [head.validKeys] } : { causal: true },
      );
      for (const { label, result } of everyPath(head)) {
        if (head.causal) {
          // row 0 sees only key 0 (finite); rows 1 and 2 see the NaN key 1
          expectRow(label, result, 0, 2, Array.from(reference.out.subarray(0, 2)), reference.lse[0]!);
          expectNaNRow(label, result, 1, 2);
          expectNaNRow(label, result, 2, 2);
        } else {
          for (let row = 0; row < 3; row++) {
            expectRow(
              label,
              result,
              row,
              2,
              Array.from(reference.out.subarray(row * 2, row * 2 + 2)),
              reference.lse[row]!,
            );
          }
        }
      }
    }
  });
});

describe('finite inputs never give NaN; overflow is not masking', () => {
  it('scores below −FLT_MAX saturate (not −∞ = hidden): q = [1e20, 0], keys −1e20·{1, 2, 3} tie', () => {
    // float64: scores −7.07e39·{1, 2, 3}, out = v₀, lse = −7.07e39. float32 saturates all three to
    // −FLT_MAX, where they tie: out = the mean of the three values, lse = −FLT_MAX + log 3 = −FLT_MAX.
    const head: Head = { q: [1e20, 0], k: [-1e20, 0, -2e20, 0, -3e20, 0], v: V3, lq: 1, lk: 3, dk: 2, dv: 2 };
    for (const { label, result } of everyPath(head))
      expectRow(label, result, 0, 2, meanOf(V3, 2, [0, 1, 2]), -FLT_MAX);
  });

  it('scores above FLT_MAX saturate instead of giving NaN (+∞ − +∞): keys +1e20·{1, 2, 3} tie at FLT_MAX', () => {
    const head: Head = { q: [1e20, 0], k: [1e20, 0, 2e20, 0, 3e20, 0], v: V3, lq: 1, lk: 3, dk: 2, dv: 2 };
    for (const { label, result } of everyPath(head))
      expectRow(label, result, 0, 2, meanOf(V3, 2, [0, 1, 2]), FLT_MAX);
  });

  it('an ordinary key among saturated ones: the saturated maximum wins, the −FLT_MAX key gets 0', () => {
    // scores: key 0 = +sat, key 1 = 0.5, key 2 = −sat
    const head: Head = {
      q: [1e20, 1],
      k: [1e20, 0, 0, 0.5, -1e20, 0],
      v: V3,
      lq: 1,
      lk: 3,
      dk: 2,
      dv: 2,
      scale: 1,
    };
    for (const { label, result } of everyPath(head))
      expectRow(label, result, 0, 2, meanOf(V3, 2, [0]), FLT_MAX);
  });

  it('scale 3e38 on ordinary inputs: no NaN; keys whose scores overflow tie at FLT_MAX', () => {
    // q·k = 0.5, 2, 3: scores 1.5e38, 6e38 → FLT_MAX, 9e38 → FLT_MAX
    const head: Head = {
      q: [1, 0],
      k: [0.5, 1, 2, -1, 3, 0],
      v: V3,
      lq: 1,
      lk: 3,
      dk: 2,
      dv: 2,
      scale: 3e38,
    };
    for (const { label, result } of everyPath(head))
      expectRow(label, result, 0, 2, meanOf(V3, 2, [1, 2]), FLT_MAX);
    // a scale above FLT_MAX (1e39: +∞ as a float32) still gives finite scores: q·k = 0 → 0, 1e-30 → 1e9
    const big: Head = {
      q: [1, 0],
      k: [0, 1, 1e-30, 0, -1e-30, 0],
      v: V3,
      lq: 1,
      lk: 3,
      dk: 2,
      dv: 2,
      scale: 1e39,
    };
    for (const { label, result } of everyPath(big)) expectRow(label, result, 0, 2, meanOf(V3, 2, [1]), 1e9);
  });

  it('terms that overflow with opposite signs (+∞ + −∞ in float32) give the finite score, not NaN', () => {
    // key 0: 1e20·1e20 − 1e20·1e20 = 0 exactly; key 1: 0 → a tie, lse = log 2; key 2 hidden
    const head: Head = {
      q: [1e20, 1e20],
      k: [1e20, -1e20, 0, 0, 5, 5],
      v: V3,
      lq: 1,
      lk: 3,
      dk: 2,
      dv: 2,
      validKeys: 2,
    };
    for (const { label, result } of everyPath(head))
      expectRow(label, result, 0, 2, meanOf(V3, 2, [0, 1]), Math.log(2));
  });
});

describe('gemmNT score semantics', () => {
  /**
   * One gemmNT on both backends. Entries that overflow are checked exactly (both backends must
   * give ±FLT_MAX, the finite value or NaN); the others within the dot-product bound.
   */
  function run(
    engine: Engine,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    alpha: number,
    saturate?: boolean,
  ): Float32Array {
    return withArena(() => {
      const aAt = arena.put(a);
      const bAt = arena.put(b);
      const c = arena.put(new Float32Array(m * n).fill(Number.NaN));
      if (saturate === undefined) engine.ops.gemmNT(m, n, k, aAt, k, bAt, k, c, n, alpha, 0);
      else engine.ops.gemmNT(m, n, k, aAt, k, bAt, k, c, n, alpha, 0, saturate);
      return readBack(engine, c, m * n);
    });
  }

  /** A [m × k] and B [n × k] with chosen entries at depth `at`; the rest small and finite. */
  function operands(m: number, n: number, k: number, at: number) {
    const a = Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 5) / 8 - 0.25);
    const b = Float32Array.from({ length: n * k }, (_, i) => ((i * 3) % 7) / 8 - 0.375);
    // rows of A: 0 huge positive, 1 huge in two terms, 2 NaN, 3 ordinary
    const set = (x: Float32Array, row: number, p: number, value: number) => {
      x[row * k + p] = value;
    };
    set(a, 0, at, 1e20);
    set(a, 1, at, 1e20);
    set(a, 1, at + 1, 1e20);
    set(a, 2, at + 1, Number.NaN);
    // columns of B: 0 huge positive, 1 huge negative, 2 opposite-sign pair, the rest ordinary
    set(b, 0, at, 1e20);
    set(b, 1, at, -1e20);
    set(b, 2, at, 1e20);
    set(b, 2, at + 1, -1e20);
    return { a, b };
  }

  /** float64 C = alpha · A·Bᵀ, then the rule: round to float32, ±∞ → ±FLT_MAX. */
  function expected(m: number, n: number, k: number, a: Float32Array, b: Float32Array, alpha: number) {
    const c = new Float64Array(m * n);
    const bound = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        let magnitude = 0;
        for (let p = 0; p < k; p++) {
          dot += a[i * k + p]! * b[j * k + p]!;
          magnitude += Math.abs(a[i * k + p]! * b[j * k + p]!);
        }
        const x = Math.fround(alpha * dot);
        c[i * n + j] =
          x === Number.POSITIVE_INFINITY ? FLT_MAX : x === Number.NEGATIVE_INFINITY ? -FLT_MAX : x;
        bound[i * n + j] = (k + 4) * U * Math.abs(alpha) * magnitude;
      }
    }
    return { c, bound };
  }

  it('saturates ±overflow to ±FLT_MAX, recomputes +∞ − ∞, keeps NaN; every backend agrees (tails, k > 256)', () => {
    for (const [m, n, k] of [
      [5, 11, 2], // full 8-column panel and a 3-column tail, a row tail
      [4, 8, 64],
      [6, 9, 300], // the overflow in the second 256-deep k block
      [9, 37, 70], // native's 16- and 32-column panels with tails, a row tail of its 6- and 8-row tiles
    ] as const) {
      const at = k > 256 ? 280 : 0;
      const { a, b } = operands(m, n, k, at);
      for (const alpha of [1, 0.5, -3]) {
        const { c, bound } = expected(m, n, k, a, b, alpha);
        for (const engine of ENGINES) {
          const got = run(engine, m, n, k, a, b, alpha);
          const label = `gemmNT ${engine.backend} ${m}×${n}×${k} alpha ${alpha}`;
          expect(
            got.some((x) => !Number.isNaN(x) && !Number.isFinite(x)),
            `${label}: an infinity`,
          ).toBe(false);
          expectClose(label, got, c, (i) => bound[i]! + 1e-30);
          // saturated entries are exactly ±FLT_MAX on both backends
          for (let i = 0; i < m * n; i++)
            if (Math.abs(c[i]!) === FLT_MAX) expect(got[i], `${label} [${i}]`).toBe(c[i]);
          // the rows that met NaN are NaN, the others are not
          for (let j = 0; j < n; j++) expect(got[2 * n + j], `${label} (2, ${j})`).toBeNaN();
          expect(got.filter(Number.isNaN).length, `${label} NaN count`).toBe(n);
        }
      }
    }
  });

  it('alpha beyond float32 range (1e39) is applied in float64 where it matters', () => {
    const a = Float32Array.from([1, 2, 3, 0]);
    const b = Float32Array.from([2, -1, 1e-30, 0, 0, 0]);
    for (const engine of ENGINES) {
      const got = run(engine, 2, 3, 2, a, b, 1e39);
      // row 0: 1e39·0 = 0, 1e39·1e-30 = 1e9, 0; row 1: 1e39·6 → FLT_MAX, 1e39·3e-30 = 3e9, 0
      expectClose(engine.backend, got, [0, 1e9, 0, FLT_MAX, 3e9, 0], (i) => (i === 3 ? 0 : 4 * U * 3e9));
    }
  });

  it('saturate = false keeps plain IEEE float32 products (what a projection gets)', () => {
    const a = Float32Array.from([1e20, 0, 1, 2]);
    const b = Float32Array.from([1e20, 0, -1e20, 0, 1, 1]);
    for (const engine of ENGINES) {
      const got = run(engine, 2, 3, 2, a, b, 1, false);
      expect(Array.from(got)).toEqual([
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        Math.fround(1e20),
        Math.fround(1e20),
        Math.fround(-1e20),
        3,
      ]);
    }
  });
});
