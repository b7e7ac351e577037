/**
 * The score-tile primitives of masks and score modifiers (maskRanges, addTile, addAlibi,
 * softcapScores) on every backend: js, wasm and native on each CPU path this machine runs (forced
 * with setNativePath), against float64 references on random tiles with ragged shapes (rows ∈
 * {0, 1, 3, 8}, cols ∈ {0, 1, 3, …, 100}: every tail of the 4-, 8- and 16-wide loops; row strides
 * larger than the row, whose padding must stay untouched) and on the edge values.
 *
 * - maskRanges, addTile, addAlibi round once (or not at all), so every backend must equal the
 *   float64 reference rounded to float32 bit for bit (NaN counted as one value): they then agree
 *   bitwise with each other.
 * - softcapScores: cap·tanh(x/cap) within SOFTCAP_ULP ulps of the float32 result (the kernels'
 *   tanh is within 1.5 ulp, assembly/tanh.ts; the division x/cap and the product by cap add one
 *   rounding each), plus cap·2⁻¹⁵⁰ absolute where x/cap is subnormal (the quotient's rounding is
 *   then absolute, on every backend, the js twin included). tanh itself (cap = 1: x/1 and 1·t are
 *   exact) within TANH_ULP on a sweep of 2 M points.
 * - The checked wrappers (wasm, native) refuse out-of-arena operands with an ArenaError naming the
 *   primitive and the argument.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ArenaError } from '../engine/arena.js';
import { type Engine, getEngine } from '../engine/engine.js';
import { type NativePath, nativePathInfo, setNativePath } from '../engine/native-ops.js';
import {
  expectPaddingIntact,
  NATIVE_UNAVAILABLE,
  reportNativeSkip,
  SENTINEL,
  seeded,
  strided,
} from './helpers.js';

const FLT_MAX = 3.4028234663852886e38;
const INF = Number.POSITIVE_INFINITY;
const ROWS = [0, 1, 3, 8];
const COLS = [0, 1, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 65, 100];
/** Asserted bound of the kernels' tanh (measured max 1.33 ulp, assembly/tanh.ts). */
const TANH_ULP = 1.5;
/** softcapScores: tanh's bound plus the division's and the product's roundings (1 ulp each, generously). */
const SOFTCAP_ULP = TANH_ULP + 2;

interface Runner {
  readonly label: string;
  readonly engine: Engine;
  /** Selects the runner's code path before it computes (a native CPU path). */
  readonly select: () => void;
}

function runners(): Runner[] {
  const list: Runner[] = [
    { label: 'js', engine: getEngine('js'), select: () => {} },
    { label: 'wasm', engine: getEngine('wasm'), select: () => {} },
  ];
  if (NATIVE_UNAVAILABLE === undefined) {
    const native = getEngine('native');
    for (const path of nativePathInfo()!.paths as NativePath[]) {
      list.push({ label: `native/${path}`, engine: native, select: () => setNativePath(path) });
    }
  }
  return list;
}

const RUNNERS = runners();
const arena = getEngine('js').arena;

reportNativeSkip('score-tile primitives');

afterAll(() => {
  if (NATIVE_UNAVAILABLE === undefined) setNativePath();
});

/** Runs `compute` on every runner over a fresh copy of `tile` (rows × cols, stride ld); returns each result. */
function onEveryBackend(
  tile: Float32Array,
  compute: (runner: Runner, s: number) => void,
): { label: string; got: Float32Array }[] {
  const out: { label: string; got: Float32Array }[] = [];
  for (const runner of RUNNERS) {
    const mark = arena.mark();
    try {
      const s = arena.put(tile);
      runner.select();
      compute(runner, s);
      out.push({ label: runner.label, got: arena.heap.slice(s, s + tile.length) });
    } finally {
      arena.release(mark);
    }
  }
  return out;
}

/** float32 bits, every NaN as one value. */
function bitsOf(x: number): number {
  if (Number.isNaN(x)) return -1;
  const view = new Float32Array([x]);
  return new Uint32Array(view.buffer)[0]!;
}

/** Every element of got (rows × cols at stride ld) equals expected[r·cols + c] bit for bit. */
function expectBitwise(
  label: string,
  got: Float32Array,
  expected: ArrayLike<number>,
  rows: number,
  cols: number,
  ld: number,
): void {
  const failures: string[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = got[r * ld + c]!;
      const e = Math.fround(expected[r * cols + c]!);
      if (bitsOf(g) !== bitsOf(e) && failures.length < 5)
        failures.push(`(${r}, ${c}) got ${g}, expected ${e}`);
    }
  }
  if (failures.length > 0) throw new Error(`${label}: ${failures.join('; ')}`);
  expectPaddingIntact(label, got, rows, cols, ld);
}

/** A float32 value: mostly moderate, sometimes near FLT_MAX, sometimes special. */
function scoreValue(rand: () => number, specials: boolean): number {
  const u = rand();
  if (specials && u < 0.04) return Number.NEGATIVE_INFINITY;
  if (specials && u < 0.06) return INF;
  if (specials && u < 0.08) return Number.NaN;
  if (u < 0.2) return Math.fround((rand() * 2 - 1) * FLT_MAX);
  return Math.fround((rand() * 2 - 1) * 40);
}

function tileOf(rand: () => number, rows: number, cols: number, specials = true): Float32Array {
  return Float32Array.from({ length: rows * cols }, () => scoreValue(rand, specials));
}

/**
 * The float64 reference of a saturating score sum (KernelOps.addTile): the exact sum a + b rounded
 * to float32; beyond float32's range ±FLT_MAX, unless a term is −∞ (then −∞, or NaN from +∞ − ∞).
 */
function saturatedSum(a: number, b: number): number {
  const exact = a + b; // exact for float32 operands, or correctly rounded where the exponents differ by > 29
  if (a === Number.NEGATIVE_INFINITY || b === Number.NEGATIVE_INFINITY) return exact;
  if (Number.isNaN(exact)) return exact;
  const rounded = Math.fround(exact);
  if (rounded === INF) return FLT_MAX;
  if (rounded === Number.NEGATIVE_INFINITY) return -FLT_MAX;
  return rounded;
}

describe('maskRanges on every backend', () => {
  /** A row's [start, end): inside, before or after the tile, empty, reversed, unbounded. */
  function range(rand: () => number, firstKey: number, cols: number): [number, number] {
    const pick = Math.floor(rand() * 8);
    const within = () => firstKey + Math.floor(rand() * (cols + 1));
    switch (pick) {
      case 0:
        return [firstKey - 5, firstKey + cols + 5]; // starts before the tile, ends after it: no column hidden
      case 1:
        return [within(), within() + cols]; // ends after the tile
      case 2:
        return [firstKey - 1 - Math.floor(rand() * 10), within()]; // starts before the tile
      case 3: {
        const at = within();
        return [at, at]; // empty
      }
      case 4:
        return [within(), within() - cols - 1]; // reversed: empty
      case 5:
        return [Number.NEGATIVE_INFINITY, rand() < 0.5 ? INF : within()];
      case 6:
        return [firstKey + cols + Math.floor(rand() * 4), firstKey + cols + 9]; // wholly after
      default: {
        const a = within();
        const b = within();
        return [Math.min(a, b), Math.max(a, b)];
      }
    }
  }

  it('hides exactly the keys outside each row range, bit for bit on every backend', () => {
    const rand = seeded(71);
    for (const rows of ROWS) {
      for (const cols of COLS) {
        for (let trial = 0; trial < 3; trial++) {
          const ld = cols + 3;
          const firstKey = Math.floor(rand() * 200) - 20;
          const values = tileOf(rand, rows, cols);
          const ranges = new Float32Array(2 * rows);
          for (let r = 0; r < rows; r++) ranges.set(range(rand, firstKey, cols), 2 * r);
          const expected = new Float64Array(rows * cols);
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++) {
              const key = firstKey + c;
              const hidden = key < ranges[2 * r]! || key >= ranges[2 * r + 1]!;
              expected[r * cols + c] = hidden ? Number.NEGATIVE_INFINITY : values[r * cols + c]!;
            }
          }
          for (const { label, got } of onEveryBackend(strided(values, rows, cols, ld), ({ engine }, s) => {
            const at = arena.put(ranges);
            engine.ops.maskRanges(s, ld, rows, cols, firstKey, at);
          })) {
            expectBitwise(
              `maskRanges ${label} ${rows}×${cols} key=${firstKey}`,
              got,
              expected,
              rows,
              cols,
              ld,
            );
          }
        }
      }
    }
  });

  it('treats fractional and NaN bounds as the twin does, on every backend', () => {
    // fractional bounds hide the integer columns below start / from end on; a NaN start hides
    // nothing, a NaN end hides only what lies before the start (the twin's Math.min/max propagate NaN)
    const cols = 21;
    const rows = 5;
    const firstKey = 10;
    const ranges = Float32Array.from([
      12.5,
      20.5,
      9.25,
      30.75,
      Number.NaN,
      15,
      14,
      Number.NaN,
      Number.NaN,
      Number.NaN,
    ]);
    const values = Float32Array.from({ length: rows * cols }, (_, i) => i + 1);
    const visible = (r: number, c: number): boolean => {
      const key = firstKey + c;
      return [key >= 12.5 && key < 20.5, key < 30.75, true, key >= 14, true][r]!;
    };
    const expected = Array.from({ length: rows * cols }, (_, i) =>
      visible(Math.floor(i / cols), i % cols) ? values[i]! : Number.NEGATIVE_INFINITY,
    );
    for (const { label, got } of onEveryBackend(strided(values, rows, cols, cols + 1), ({ engine }, s) => {
      engine.ops.maskRanges(s, cols + 1, rows, cols, firstKey, arena.put(ranges));
    })) {
      expectBitwise(`maskRanges ${label} fractional / NaN`, got, expected, rows, cols, cols + 1);
    }
  });
});

describe('addTile on every backend', () => {
  it('adds with saturation, bit for bit equal to the float64 reference', () => {
    const rand = seeded(72);
    for (const rows of ROWS) {
      for (const cols of COLS) {
        const ld = cols + 2;
        const ldx = cols + 5;
        const values = tileOf(rand, rows, cols);
        const bias = tileOf(rand, rows, cols);
        const expected = values.map((v, i) => saturatedSum(v, bias[i]!));
        for (const { label, got } of onEveryBackend(strided(values, rows, cols, ld), ({ engine }, s) => {
          const x = arena.put(strided(bias, rows, cols, ldx));
          engine.ops.addTile(s, ld, rows, cols, x, ldx);
        })) {
          expectBitwise(`addTile ${label} ${rows}×${cols}`, got, expected, rows, cols, ld);
        }
      }
    }
  });

  it('edge values: ±FLT_MAX sums saturate, −Infinity terms stay, +Infinity never stays, NaN stays', () => {
    const N = Number.NaN;
    // [s, x, expected], each pair run at every lane position of a 16-wide vector and in a tail
    const cases: [number, number, number][] = [
      [FLT_MAX, FLT_MAX, FLT_MAX],
      [-FLT_MAX, -FLT_MAX, -FLT_MAX],
      [3e38, 1e38, FLT_MAX],
      [-3e38, -1e38, -FLT_MAX],
      [INF, 1, FLT_MAX],
      [1, INF, FLT_MAX],
      [INF, INF, FLT_MAX],
      [INF, -FLT_MAX, FLT_MAX],
      [Number.NEGATIVE_INFINITY, 5, Number.NEGATIVE_INFINITY],
      [5, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
      [Number.NEGATIVE_INFINITY, FLT_MAX, Number.NEGATIVE_INFINITY],
      [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
      [Number.NEGATIVE_INFINITY, INF, N],
      [INF, Number.NEGATIVE_INFINITY, N],
      [N, 1, N],
      [1, N, N],
      [N, Number.NEGATIVE_INFINITY, N],
      [FLT_MAX, -FLT_MAX, 0],
      [1.5, -0.25, 1.25],
    ];
    const cols = cases.length + 3; // a vector body and a tail on every path
    for (let shift = 0; shift < 16; shift++) {
      const s = new Float32Array(cols).fill(2);
      const x = new Float32Array(cols).fill(3);
      const expected = new Float64Array(cols).fill(5);
      cases.forEach(([a, b, e], i) => {
        const at = (i * 5 + shift) % cols;
        s[at] = a;
        x[at] = b;
        expected[at] = e;
      });
      for (const { label, got } of onEveryBackend(s, ({ engine }, at) => {
        engine.ops.addTile(at, cols, 1, cols, arena.put(x), cols);
      })) {
        expectBitwise(`addTile edges ${label} shift ${shift}`, got, expected, 1, cols, cols);
      }
    }
  });
});

describe('addAlibi on every backend', () => {
  function check(
    label: string,
    values: Float32Array,
    rows: number,
    cols: number,
    ld: number,
    slope: number,
    firstQueryPos: number,
    firstKey: number,
  ): void {
    const slope32 = Math.fround(slope);
    const expected = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        // the product of a float32 slope and an integer distance below 2²⁹ is exact in float64
        const term = Math.fround(slope32 * (firstKey + c - (firstQueryPos + r)));
        expected[r * cols + c] = saturatedSum(values[r * cols + c]!, term);
      }
    }
    for (const { label: backend, got } of onEveryBackend(strided(values, rows, cols, ld), ({ engine }, s) => {
      engine.ops.addAlibi(s, ld, rows, cols, slope, firstQueryPos, firstKey);
    })) {
      expectBitwise(`addAlibi ${backend} ${label}`, got, expected, rows, cols, ld);
    }
  }

  it('adds slope · (key − position) with saturation, bit for bit equal to the float64 reference', () => {
    const rand = seeded(73);
    const slopes = [0.5, 2 ** -8, 0.0078125 * 3, -0.3, 1e-3, 1e30];
    for (const rows of ROWS) {
      for (const cols of COLS) {
        for (let trial = 0; trial < 2; trial++) {
          const ld = cols + 3;
          const slope = rand() < 0.5 ? slopes[Math.floor(rand() * slopes.length)]! : rand() * 4 - 2;
          const firstQueryPos = Math.floor(rand() * 4000) - 100;
          const firstKey = Math.floor(rand() * 4000) - 100;
          const values = tileOf(rand, rows, cols);
          check(
            `${rows}×${cols} slope=${slope} pos=${firstQueryPos} key=${firstKey}`,
            values,
            rows,
            cols,
            ld,
            slope,
            firstQueryPos,
            firstKey,
          );
        }
      }
    }
  });

  it('takes the exact scalar route for distances beyond 2²⁴ and fractional positions', () => {
    const rand = seeded(74);
    const values = tileOf(rand, 3, 37, false);
    // 3·10⁷ > 2²⁴: float32 cannot hold every distance, the kernels must round the float64 product
    check('far keys', values, 3, 37, 40, 0.3, 0, 3e7 + 1);
    check('far queries', values, 3, 37, 40, -0.7, 5e7 + 3, 11);
    check('fractional positions', values, 3, 37, 40, 0.3, 0.5, 17);
  });

  it('edge values: saturating sums, −Infinity and NaN scores, infinite and NaN terms', () => {
    const cols = 23;
    const values = new Float32Array(cols).fill(1);
    values.set([FLT_MAX, -FLT_MAX, Number.NEGATIVE_INFINITY, Number.NaN, INF, 3e38, -3e38], 0);
    values.set([FLT_MAX, -FLT_MAX, Number.NEGATIVE_INFINITY, Number.NaN, INF], 16);
    // key − position = c − 8: negative, zero and positive distances over the vector body and the tail
    check('FLT_MAX slope 1e30', values, 1, cols, cols, 1e30, 8, 0);
    check('FLT_MAX slope -1e30', values, 1, cols, cols, -1e30, 8, 0);
    // a slope beyond float32's range rounds to ±Infinity: ∞·0 = NaN, −∞ terms hide, +∞ ones saturate
    check('infinite slope', values, 1, cols, cols, 1e39, 8, 0);
    check('NaN slope', values, 1, cols, cols, Number.NaN, 8, 0);
  });
});

/** The spacing of float32 at |y|: 2^(floor(log2 |y|) − 23), at least 2⁻¹⁴⁹. */
function ulpOf(y: number): number {
  const a = Math.abs(y);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
}

describe('softcapScores on every backend', () => {
  /** cap·tanh(x/cap) in float64 with the float32 cap; the subnormal quotient's absolute rounding allowed. */
  function expectSoftcap(
    label: string,
    got: Float32Array,
    values: Float32Array,
    rows: number,
    cols: number,
    ld: number,
    cap: number,
  ): number {
    const cap32 = Math.fround(cap);
    let worst = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const x = values[r * cols + c]!;
        const y = got[r * ld + c]!;
        const e = cap32 * Math.tanh(x / cap32);
        if (Number.isNaN(e)) {
          if (!Number.isNaN(y)) throw new Error(`${label} (${r}, ${c}) of ${x}: ${y}, expected NaN`);
          continue;
        }
        const allowance = Math.abs(x / cap32) < 2 ** -126 ? cap32 * 2 ** -150 : 0;
        const err = Math.max(0, Math.abs(y - e) - allowance) / ulpOf(e);
        if (!(err <= SOFTCAP_ULP)) {
          throw new Error(`${label} (${r}, ${c}) of ${x}: ${y}, expected ${e} (${err} ulp)`);
        }
        worst = Math.max(worst, err);
      }
    }
    expectPaddingIntact(label, got, rows, cols, ld);
    return worst;
  }

  it(`is within ${SOFTCAP_ULP} ulp of cap·tanh(x/cap) in float64 on random tiles`, () => {
    const rand = seeded(75);
    for (const rows of ROWS) {
      for (const cols of COLS) {
        for (const cap of [1, 5, 30, 50.5]) {
          const ld = cols + 1;
          // scores across magnitudes: tiny, near the tanh split (0.625·cap), large
          const values = Float32Array.from({ length: rows * cols }, () => {
            const u = rand();
            if (u < 0.05) return Number.NEGATIVE_INFINITY;
            if (u < 0.08) return INF;
            if (u < 0.1) return Number.NaN;
            return (rand() < 0.5 ? -1 : 1) * cap * 2 ** (rand() * 30 - 24);
          });
          for (const { label, got } of onEveryBackend(strided(values, rows, cols, ld), ({ engine }, s) => {
            engine.ops.softcapScores(s, ld, rows, cols, cap);
          })) {
            expectSoftcap(
              `softcapScores ${label} ${rows}×${cols} cap=${cap}`,
              got,
              values,
              rows,
              cols,
              ld,
              cap,
            );
          }
        }
      }
    }
  });

  it('edge values: ±Infinity give ±cap, NaN stays NaN, ±0 and subnormals keep their sign, huge scores give ±cap', () => {
    const cap = 30;
    const values = Float32Array.from([
      INF,
      Number.NEGATIVE_INFINITY,
      Number.NaN,
      0,
      -0,
      1e-45,
      -1e-45,
      1e-40,
      -2e-38,
      FLT_MAX,
      -FLT_MAX,
      1e6,
      -300,
      18.75,
      0.625 * 30,
      -0.6249 * 30,
      29.99,
      7,
    ]);
    const cols = values.length;
    for (const { label, got } of onEveryBackend(values, ({ engine }, s) => {
      engine.ops.softcapScores(s, cols, 1, cols, cap);
    })) {
      expect(got[0], label).toBe(cap);
      expect(got[1], label).toBe(-cap);
      expect(Number.isNaN(got[2]!), label).toBe(true);
      expect(Object.is(got[3], 0), `${label} +0`).toBe(true);
      expect(Object.is(got[4], -0), `${label} -0`).toBe(true);
      expect(Math.sign(got[6]!) <= 0 && Math.sign(got[5]!) >= 0, `${label} subnormal signs`).toBe(true);
      expect([got[9], got[10], got[11], got[12]], label).toEqual([cap, -cap, cap, -cap]);
      expectSoftcap(`softcapScores edges ${label}`, got, values, 1, cols, cols, cap);
    }
  });

  it(`tanh (cap = 1) is within ${TANH_ULP} ulp of Math.tanh on a 2 M-point sweep of float32`, () => {
    // every 5th float32 of [0.5, 0.75] (both sides of the 0.625 split), every 53rd of [2⁻²⁰, 20],
    // every 4099th of [2⁻¹⁴⁹, FLT_MAX], each also negated
    const points: number[] = [];
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    const sweep = (lo: number, hi: number, step: number) => {
      asFloat[0] = lo;
      const start = bits[0]!;
      asFloat[0] = hi;
      const end = bits[0]!;
      for (let b = start; b <= end; b += step) {
        bits[0] = b;
        points.push(asFloat[0]!, -asFloat[0]!);
      }
    };
    sweep(0.5, 0.75, 5);
    sweep(2 ** -20, 20, 53);
    sweep(2 ** -149, FLT_MAX, 4099);
    const values = Float32Array.from(points);
    const n = values.length;
    expect(n).toBeGreaterThan(2_000_000);
    const expected = Float64Array.from(values, (x) => Math.tanh(x));
    for (const runner of RUNNERS.filter((r) => r.label !== 'js')) {
      const mark = arena.mark();
      try {
        const s = arena.put(values);
        runner.select();
        runner.engine.ops.softcapScores(s, n, 1, n, 1);
        const heap = arena.heap;
        let worst = 0;
        let at = 0;
        for (let i = 0; i < n; i++) {
          const e = expected[i]!;
          const g = heap[s + i]!;
          // NaN never occurs here; exact results (±0, ±1) give 0
          const err = Math.abs(g - e) / ulpOf(e);
          if (err > worst) {
            worst = err;
            at = values[i]!;
          }
        }
        expect(worst, `${runner.label}: max ${worst} ulp at ${at}`).toBeLessThanOrEqual(TANH_ULP);
      } finally {
        arena.release(mark);
      }
    }
  });
});

describe('score-tile primitives: the checked wrappers', () => {
  for (const backend of ['wasm', ...(NATIVE_UNAVAILABLE === undefined ? ['native' as const] : [])] as const) {
    it(`${backend}: an operand outside the live arena is an ArenaError naming the primitive and the argument`, () => {
      const { ops } = getEngine(backend);
      const mark = arena.mark();
      try {
        const s = arena.put(new Float32Array(64).fill(SENTINEL));
        const top = arena.mark();
        const outside = /outside the arena's live allocations/;
        expect(() => ops.maskRanges(s, 8, 9, 8, 0, s)).toThrow(/^maskRanges: s = /);
        expect(() => ops.maskRanges(s, 8, 8, 8, 0, top - 15)).toThrow(
          /^maskRanges: ranges = \d+ \(1 × 16, stride 0\)/,
        );
        expect(() => ops.maskRanges(s, 8, 2, 8, 0, top)).toThrow(ArenaError);
        expect(() => ops.addTile(top, 8, 1, 8, s, 8)).toThrow(/^addTile: s = /);
        expect(() => ops.addTile(s, 8, 8, 8, s + 1, 8)).toThrow(/^addTile: x = .*stride 8/);
        expect(() => ops.addTile(s, 8, 2, 8, top - 8, 8)).toThrow(outside);
        expect(() => ops.addAlibi(s, 9, 8, 8, 0.5, 0, 0)).toThrow(/^addAlibi: s = .*stride 9/);
        expect(() => ops.addAlibi(s + 0.5, 8, 1, 8, 0.5, 0, 0)).toThrow(ArenaError);
        expect(() => ops.softcapScores(s + 60, 8, 1, 8, 30)).toThrow(/^softcapScores: s = /);
        expect(() => ops.softcapScores(s, -8, 2, 8, 30)).toThrow(ArenaError);
        expect(() => ops.softcapScores(s, 8, 1.5, 8, 30)).toThrow(
          'softcapScores: rows must be a non-negative integer',
        );
        // empty work is accepted anywhere, and the arena is untouched by every refused call
        expect(() => ops.addTile(top + 100, 8, 0, 8, top + 200, 8)).not.toThrow();
        expect(() => ops.maskRanges(top + 100, 8, 0, 8, 0, top + 300)).not.toThrow();
        expect(Array.from(arena.heap.subarray(s, s + 64))).toEqual(new Array(64).fill(SENTINEL));
      } finally {
        arena.release(mark);
      }
    });
  }
});
