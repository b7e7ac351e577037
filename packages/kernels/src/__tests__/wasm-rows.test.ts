/**
 * The row primitives of each compiled backend (wasm; native where the addon loaded, 4-, 8- or
 * 16-wide by CPU path) against their JS twins and float64, on rows ∈ {1, 3, 8} and
 * cols ∈ {0, 1, 3, 4, 5, 7, 8, 9, 13, 17, 64, 65, 100} (every tail of the 4- and 8-wide loops),
 * row strides larger than the row (padding must stay untouched), -Infinity entries, all-masked rows.
 *
 * Tolerances, with u = 2⁻²⁴ and the compiled exps' measured error below 2 ulp (wasm-exp.test.ts):
 * - exp(s - m) has relative error <= (|s - m| + 3)·u: the float32 subtraction s - m is exact to
 *   u·|s - m| and the exponential of that perturbed argument is off by the same relative amount,
 *   plus the exp's own 2 ulp. Results below FLT_MIN (x < -87.3) are flushed to 0: atol 1.2e-38.
 * - A float32 sum of n positive terms in 4–32 lanes has relative error <= (n/4 + 4)·u; we use (n + 4)·u.
 * - Every division or product adds one u.
 * Exact operations (max, mask, relu) must match bit for bit.
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
  SENTINEL,
  seeded,
  strided,
  U,
  uniform,
} from './helpers.js';

const ROWS = [1, 3, 8];
const COLS = [0, 1, 3, 4, 5, 7, 8, 9, 13, 17, 64, 65, 100];
/** exp results below FLT_MIN may be flushed to zero by the wasm exp. */
const FLUSH = 1.2e-38;

const js = getEngine('js');
const arena = js.arena;

function withArena(body: () => void): void {
  const mark = arena.mark();
  try {
    body();
  } finally {
    arena.release(mark);
  }
}

/** Scores with about 15% -Infinity entries, and row 1 (when present) fully masked. */
function scores(rand: () => number, rows: number, cols: number, scale = 8): Float32Array {
  const values = uniform(rand, rows * cols, scale);
  for (let i = 0; i < values.length; i++) if (rand() < 0.15) values[i] = Number.NEGATIVE_INFINITY;
  if (rows > 1) values.fill(Number.NEGATIVE_INFINITY, cols, 2 * cols);
  return values;
}

function rowSlice(values: Float32Array, cols: number, r: number): Float32Array {
  return values.subarray(r * cols, r * cols + cols);
}

function dense(data: Float32Array, rows: number, cols: number, ld: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * ld, r * ld + cols), r * cols);
  return out;
}

reportNativeSkip('row primitives');

for (const backend of compiledBackends()) {
  const wasm = getEngine(backend);

  describe(`${backend} softmaxRows`, () => {
    it('matches float64 softmax and the twin; masked rows give zeros and lse = -Infinity', () => {
      const rand = seeded(11);
      for (const rows of ROWS) {
        for (const cols of COLS) {
          for (const withLse of [true, false]) {
            withArena(() => {
              const ld = cols + 3;
              const values = scores(rand, rows, cols);
              const [sW, sJ] = placeTwice(wasm, strided(values, rows, cols, ld));
              const [lW, lJ] = placeTwice(wasm, new Float32Array(rows).fill(7));
              wasm.ops.softmaxRows(sW, ld, rows, cols, withLse ? lW : -1);
              js.ops.softmaxRows(sJ, ld, rows, cols, withLse ? lJ : -1);
              const expected = new Float64Array(rows * cols);
              const tol = new Float64Array(rows * cols);
              const lse = new Float64Array(rows);
              for (let r = 0; r < rows; r++) {
                const row = rowSlice(values, cols, r);
                const max = Math.max(Number.NEGATIVE_INFINITY, ...row);
                let sum = 0;
                for (const x of row) sum += Math.exp(x - max);
                lse[r] = max === Number.NEGATIVE_INFINITY ? max : max + Math.log(sum);
                for (let c = 0; c < cols; c++) {
                  const p = max === Number.NEGATIVE_INFINITY ? 0 : Math.exp(row[c]! - max) / sum;
                  expected[r * cols + c] = p;
                  tol[r * cols + c] = p * (Math.abs(row[c]! - max) + cols + 8) * U + FLUSH;
                }
              }
              const label = `softmaxRows ${rows}×${cols}`;
              const gotW = readBack(wasm, sW, rows * ld);
              expectClose(`${label} ${backend}`, dense(gotW, rows, cols, ld), expected, (i) => tol[i]!);
              expectClose(
                `${label} js`,
                dense(readBack(js, sJ, rows * ld), rows, cols, ld),
                expected,
                (i) => tol[i]!,
              );
              expectPaddingIntact(label, gotW, rows, cols, ld);
              if (withLse) {
                // lse = max + log(sum): absolute error = relative error of the sum, plus the add's rounding
                const lseTol = (i: number) => (cols + 8) * U + Math.abs(lse[i]!) * U;
                expectClose(`${label} lse ${backend}`, readBack(wasm, lW, rows), lse, lseTol);
                expectClose(`${label} lse js`, readBack(js, lJ, rows), lse, lseTol);
              } else {
                expect(Array.from(readBack(wasm, lW, rows))).toEqual(new Array(rows).fill(7));
              }
            });
          }
        }
      }
    });
  });

  describe(`${backend} maskBand`, () => {
    it('hides exactly the keys the twin hides (finite and infinite windows, kvLengths)', () => {
      const rand = seeded(12);
      const reaches = [0, 1, 3, Number.POSITIVE_INFINITY];
      for (const rows of ROWS) {
        for (const cols of COLS) {
          for (let trial = 0; trial < 6; trial++) {
            withArena(() => {
              const ld = cols + 2;
              const values = uniform(rand, rows * cols);
              const firstQueryPos = Math.floor(rand() * 40) - 10;
              const firstKey = Math.floor(rand() * 30);
              const left = reaches[Math.floor(rand() * 4)]!;
              const right = reaches[Math.floor(rand() * 4)]!;
              const validKeys = [0, firstKey + Math.floor(cols / 2), 1e6][Math.floor(rand() * 3)]!;
              const [sW, sJ] = placeTwice(wasm, strided(values, rows, cols, ld));
              wasm.ops.maskBand(sW, ld, rows, cols, firstQueryPos, firstKey, left, right, validKeys);
              js.ops.maskBand(sJ, ld, rows, cols, firstQueryPos, firstKey, left, right, validKeys);
              const expected = new Float64Array(rows * cols);
              for (let r = 0; r < rows; r++) {
                for (let c = 0; c < cols; c++) {
                  const key = firstKey + c;
                  const pos = firstQueryPos + r;
                  const visible = key < validKeys && key >= pos - left && key <= pos + right;
                  expected[r * cols + c] = visible ? values[r * cols + c]! : Number.NEGATIVE_INFINITY;
                }
              }
              const label = `maskBand ${rows}×${cols} pos=${firstQueryPos} key=${firstKey} [${left}, ${right}] valid=${validKeys}`;
              const gotW = readBack(wasm, sW, rows * ld);
              expectClose(label, dense(gotW, rows, cols, ld), expected, () => 0);
              expectClose(
                `${label} js`,
                dense(readBack(js, sJ, rows * ld), rows, cols, ld),
                expected,
                () => 0,
              );
              expectPaddingIntact(label, gotW, rows, cols, ld);
            });
          }
        }
      }
    });
  });

  describe(`${backend} onlineSoftmaxStep + finishRows`, () => {
    /**
     * Streams the scores through tiles as flash attention does (step, then acc += P·V with gemmNN),
     * finishes, and compares out and lse with float64 softmax(S)·V. Rows 1 and 2 (when present) are
     * masked entirely / in the first tile only, which exercises mNew = -Infinity and corr = 0.
     * Output tolerance: each weight is off by <= (|s - m| + 3)·u relative and the normalisation and
     * accumulation add (cols + dv + 8)·u, relative to Σ|p·v| / Σp <= max|v|.
     */
    it('streams tiles of every width to the float64 result, on both backends', () => {
      const rand = seeded(13);
      const dv = 5;
      for (const rows of ROWS) {
        for (const cols of COLS) {
          for (const tile of [cols, 7, 16]) {
            if (tile === 0) continue;
            for (const engine of [wasm, js]) {
              withArena(() => {
                const values = scores(rand, rows, cols, 6);
                if (rows > 2)
                  values.fill(Number.NEGATIVE_INFINITY, 2 * cols, 2 * cols + Math.min(tile, cols));
                const v = uniform(rand, cols * dv);
                const vOffset = arena.put(v);
                const ld = tile + 1;
                const s = arena.alloc(rows * ld);
                const rowMax = arena.put(new Float32Array(rows).fill(Number.NEGATIVE_INFINITY));
                const rowSum = arena.put(new Float32Array(rows));
                const accLd = dv + 2;
                const acc = arena.put(new Float32Array(rows * accLd));
                for (let start = 0; start < cols; start += tile) {
                  const width = Math.min(tile, cols - start);
                  const heap = arena.heap;
                  for (let r = 0; r < rows; r++) {
                    heap.set(values.subarray(r * cols + start, r * cols + start + width), s + r * ld);
                  }
                  engine.ops.onlineSoftmaxStep(s, ld, rows, width, rowMax, rowSum, acc, accLd, dv);
                  engine.ops.gemmNN(rows, dv, width, s, ld, vOffset + start * dv, dv, acc, accLd, 1, 1);
                }
                const out = arena.alloc(rows * dv);
                const lse = arena.alloc(rows);
                engine.ops.finishRows(acc, accLd, rows, dv, rowMax, rowSum, out, dv, lse);

                const expected = new Float64Array(rows * dv);
                const expectedLse = new Float64Array(rows);
                const tol = new Float64Array(rows * dv);
                for (let r = 0; r < rows; r++) {
                  const row = rowSlice(values, cols, r);
                  const max = Math.max(Number.NEGATIVE_INFINITY, ...row);
                  if (max === Number.NEGATIVE_INFINITY) {
                    expectedLse[r] = max;
                    continue;
                  }
                  let sum = 0;
                  let spread = 0;
                  for (const x of row) {
                    sum += Math.exp(x - max);
                    if (x !== Number.NEGATIVE_INFINITY) spread = Math.max(spread, max - x);
                  }
                  expectedLse[r] = max + Math.log(sum);
                  for (let c = 0; c < dv; c++) {
                    let dot = 0;
                    for (let j = 0; j < cols; j++) dot += (Math.exp(row[j]! - max) / sum) * v[j * dv + c]!;
                    expected[r * dv + c] = dot;
                    tol[r * dv + c] = 2 * (spread + cols + dv + 12) * U + FLUSH;
                  }
                }
                const label = `online ${engine.backend} ${rows}×${cols} tile ${tile}`;
                expectClose(label, readBack(engine, out, rows * dv), expected, (i) => tol[i]!);
                expectClose(
                  `${label} lse`,
                  readBack(engine, lse, rows),
                  expectedLse,
                  (i) => (cols + 8) * U + Math.abs(expectedLse[i]!) * U,
                );
              });
            }
          }
        }
      }
    });

    it('one step matches the twin: same max, close sums, acc rescaled, s = exp(s - m)', () => {
      const rand = seeded(14);
      for (const rows of ROWS) {
        for (const cols of COLS) {
          withArena(() => {
            const dv = 9;
            const ld = cols + 1;
            const values = scores(rand, rows, cols, 4);
            const oldMax = Float32Array.from({ length: rows }, (_, r) =>
              r === 0 ? Number.NEGATIVE_INFINITY : rand() * 4,
            );
            const oldSum = Float32Array.from({ length: rows }, (_, r) => (r === 0 ? 0 : 1 + rand()));
            const accValues = uniform(rand, rows * dv);
            const [sW, sJ] = placeTwice(wasm, strided(values, rows, cols, ld));
            const [mW, mJ] = placeTwice(wasm, oldMax);
            const [lW, lJ] = placeTwice(wasm, oldSum);
            const [aW, aJ] = placeTwice(wasm, accValues);
            wasm.ops.onlineSoftmaxStep(sW, ld, rows, cols, mW, lW, aW, dv, dv);
            js.ops.onlineSoftmaxStep(sJ, ld, rows, cols, mJ, lJ, aJ, dv, dv);
            const label = `step ${rows}×${cols}`;
            expect(Array.from(readBack(wasm, mW, rows)), `${label} rowMax`).toEqual(
              Array.from(readBack(js, mJ, rows)),
            );
            const sumJ = readBack(js, lJ, rows);
            expectClose(
              `${label} rowSum`,
              readBack(wasm, lW, rows),
              sumJ,
              (i) => sumJ[i]! * (cols + 20) * 2 * U,
            );
            const accJ = readBack(js, aJ, rows * dv);
            expectClose(
              `${label} acc`,
              readBack(wasm, aW, rows * dv),
              accJ,
              (i) => Math.abs(accJ[i]!) * 40 * U,
            );
            const sJValues = dense(readBack(js, sJ, rows * ld), rows, cols, ld);
            const gotS = readBack(wasm, sW, rows * ld);
            expectClose(
              `${label} s`,
              dense(gotS, rows, cols, ld),
              sJValues,
              (i) => sJValues[i]! * 40 * U + FLUSH,
            );
            expectPaddingIntact(label, gotS, rows, cols, ld);
          });
        }
      }
    });

    it('finishRows divides by the sum (out may alias acc), zero sums give zeros and lse -Infinity', () => {
      const rand = seeded(15);
      for (const rows of ROWS) {
        for (const dv of COLS) {
          for (const aliased of [false, true]) {
            withArena(() => {
              const ld = dv + 2;
              const accValues = uniform(rand, rows * dv, 3);
              const sums = Float32Array.from({ length: rows }, (_, r) => (r === 1 ? 0 : 0.5 + rand() * 3));
              const maxes = uniform(rand, rows, 10);
              const [aW, aJ] = placeTwice(wasm, strided(accValues, rows, dv, ld));
              const m = arena.put(maxes);
              const l = arena.put(sums);
              const [oW, oJ] = aliased
                ? [aW, aJ]
                : placeTwice(wasm, new Float32Array(rows * ld).fill(SENTINEL));
              const [eW, eJ] = placeTwice(wasm, new Float32Array(rows));
              wasm.ops.finishRows(aW, ld, rows, dv, m, l, oW, ld, eW);
              js.ops.finishRows(aJ, ld, rows, dv, m, l, oJ, ld, eJ);
              const expected = new Float64Array(rows * dv);
              const expectedLse = new Float64Array(rows);
              for (let r = 0; r < rows; r++) {
                expectedLse[r] = sums[r] === 0 ? Number.NEGATIVE_INFINITY : maxes[r]! + Math.log(sums[r]!);
                for (let c = 0; c < dv; c++)
                  expected[r * dv + c] = sums[r] === 0 ? 0 : accValues[r * dv + c]! / sums[r]!;
              }
              const label = `finishRows ${rows}×${dv} aliased=${aliased}`;
              const gotW = readBack(wasm, oW, rows * ld);
              // one rounding for 1/sum, one for the product
              expectClose(label, dense(gotW, rows, dv, ld), expected, (i) => Math.abs(expected[i]!) * 2 * U);
              expectClose(
                `${label} js`,
                dense(readBack(js, oJ, rows * ld), rows, dv, ld),
                expected,
                (i) => Math.abs(expected[i]!) * 2 * U,
              );
              expectClose(
                `${label} lse`,
                readBack(wasm, eW, rows),
                expectedLse,
                (i) => Math.abs(expectedLse[i]!) * 2 * U,
              );
              expectClose(
                `${label} lse js`,
                readBack(js, eJ, rows),
                expectedLse,
                (i) => Math.abs(expectedLse[i]!) * 2 * U,
              );
              expectPaddingIntact(label, gotW, rows, dv, ld);
            });
          }
        }
      }
    });
  });

  describe(`${backend} feature maps and reductions`, () => {
    const specials = [
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      -0,
      0,
      -100,
      -87.5,
      88,
      Number.NaN,
      1e-40,
    ];

    it('notFinite: 1 exactly when a NaN or an infinity is among the n floats, at every length and position', () => {
      const rand = seeded(17);
      for (const n of [...COLS, 257]) {
        for (const special of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          for (const at of n === 0 ? [] : [0, n >> 1, n - 1]) {
            withArena(() => {
              const values = uniform(rand, n, 3e38); // huge but finite: must not count
              values[at] = special;
              const [w, j] = placeTwice(wasm, values);
              expect(wasm.ops.notFinite(w, n), `wasm n=${n} ${special} at ${at}`).toBe(1);
              expect(js.ops.notFinite(j, n), `js n=${n} ${special} at ${at}`).toBe(1);
              // the float just past the range is not read
              expect(wasm.ops.notFinite(w, at)).toBe(0);
            });
          }
        }
        withArena(() => {
          const values = uniform(rand, n, 3e38);
          const [w, j] = placeTwice(wasm, values);
          expect(wasm.ops.notFinite(w, n), `wasm n=${n} finite`).toBe(0);
          expect(js.ops.notFinite(j, n), `js n=${n} finite`).toBe(0);
        });
      }
    });

    it('eluPlusOne and relu over every length, with special values', () => {
      const rand = seeded(16);
      for (const n of [...COLS, 257]) {
        withArena(() => {
          const values = uniform(rand, n, 6);
          for (let i = 0; i < Math.min(n, specials.length); i++) values[(i * 7) % n] = specials[i]!;
          const [eW, eJ] = placeTwice(wasm, values);
          const [rW, rJ] = placeTwice(wasm, values);
          wasm.ops.eluPlusOne(eW, n);
          js.ops.eluPlusOne(eJ, n);
          wasm.ops.relu(rW, n);
          js.ops.relu(rJ, n);
          const elu = Float64Array.from(values, (x) => (x > 0 ? x + 1 : Math.exp(x)));
          const relu = Float64Array.from(values, (x) => (Number.isNaN(x) ? Number.NaN : Math.max(x, 0)));
          // x + 1 rounds once; exp is within 2 ulp, or flushed to 0 below FLT_MIN
          const eluTol = (i: number) => Math.abs(elu[i]!) * 3 * U + FLUSH;
          expectClose(`eluPlusOne n=${n}`, readBack(wasm, eW, n), elu, eluTol);
          expectClose(`eluPlusOne js n=${n}`, readBack(js, eJ, n), elu, eluTol);
          const reluW = readBack(wasm, rW, n);
          expectClose(`relu n=${n}`, reluW, relu, () => 0);
          expectClose(`relu js n=${n}`, readBack(js, rJ, n), relu, () => 0);
          // relu maps -0 to +0 and keeps NaN, like the twin
          for (let i = 0; i < n; i++) {
            if (Number.isNaN(values[i]!)) expect(Number.isNaN(reluW[i])).toBe(true);
            else if (!(values[i]! > 0)) expect(Object.is(reluW[i], 0)).toBe(true);
          }
        });
      }
    });

    it('rowSquaredNorms and rowMax', () => {
      const rand = seeded(17);
      for (const rows of ROWS) {
        for (const cols of COLS) {
          withArena(() => {
            const ld = cols + 5;
            const values = uniform(rand, rows * cols, 3);
            if (rows > 1) values.fill(Number.NEGATIVE_INFINITY, cols, 2 * cols);
            const x = arena.put(strided(values, rows, cols, ld));
            const [nW, nJ] = placeTwice(wasm, new Float32Array(rows));
            const [mW, mJ] = placeTwice(wasm, new Float32Array(rows));
            const scale = 0.125;
            // norms of the masked row would be +Infinity: use a finite copy for them
            const finite = arena.put(
              strided(
                values.map((v) => (Number.isFinite(v) ? v : 1)),
                rows,
                cols,
                ld,
              ),
            );
            wasm.ops.rowSquaredNorms(finite, ld, rows, cols, nW, scale);
            js.ops.rowSquaredNorms(finite, ld, rows, cols, nJ, scale);
            wasm.ops.rowMax(x, ld, rows, cols, mW);
            js.ops.rowMax(x, ld, rows, cols, mJ);
            const norms = new Float64Array(rows);
            const maxes = new Float64Array(rows);
            for (let r = 0; r < rows; r++) {
              const row = rowSlice(values, cols, r);
              norms[r] = scale * row.reduce((sum, v) => sum + (Number.isFinite(v) ? v * v : 1), 0);
              maxes[r] = Math.max(Number.NEGATIVE_INFINITY, ...row);
            }
            // a sum of cols squares: (cols + 4)·u relative
            const normTol = (i: number) => norms[i]! * (cols + 4) * U;
            expectClose(`rowSquaredNorms ${rows}×${cols}`, readBack(wasm, nW, rows), norms, normTol);
            expectClose(`rowSquaredNorms js ${rows}×${cols}`, readBack(js, nJ, rows), norms, normTol);
            expectClose(`rowMax ${rows}×${cols}`, readBack(wasm, mW, rows), maxes, () => 0);
            expectClose(`rowMax js ${rows}×${cols}`, readBack(js, mJ, rows), maxes, () => 0);
          });
        }
      }
    });

    it('expShiftRows with and without a per-row shift', () => {
      const rand = seeded(18);
      for (const rows of ROWS) {
        for (const cols of COLS) {
          for (const perRow of [true, false]) {
            withArena(() => {
              const ld = cols + 1;
              const values = uniform(rand, rows * cols, 5);
              const shifts = uniform(rand, rows, 5);
              const shift = rand() * 4 - 2;
              const factor = 0.3 + rand();
              const [xW, xJ] = placeTwice(wasm, strided(values, rows, cols, ld));
              const rowShift = arena.put(shifts);
              wasm.ops.expShiftRows(xW, ld, rows, cols, perRow ? rowShift : -1, shift, factor);
              js.ops.expShiftRows(xJ, ld, rows, cols, perRow ? rowShift : -1, shift, factor);
              const expected = new Float64Array(rows * cols);
              const tol = new Float64Array(rows * cols);
              for (let r = 0; r < rows; r++) {
                const total = shift + (perRow ? shifts[r]! : 0);
                for (let c = 0; c < cols; c++) {
                  const x = values[r * cols + c]!;
                  const e = factor * Math.exp(x - total);
                  expected[r * cols + c] = e;
                  // float32 total (|total|·u), float32 x - total (|x - total|·u), exp 2 ulp, factor 1 u
                  tol[r * cols + c] = e * (Math.abs(total) + Math.abs(x - total) + 4) * 2 * U;
                }
              }
              const label = `expShiftRows ${rows}×${cols} perRow=${perRow}`;
              const gotW = readBack(wasm, xW, rows * ld);
              expectClose(label, dense(gotW, rows, cols, ld), expected, (i) => tol[i]!);
              expectClose(
                `${label} js`,
                dense(readBack(js, xJ, rows * ld), rows, cols, ld),
                expected,
                (i) => tol[i]!,
              );
              expectPaddingIntact(label, gotW, rows, cols, ld);
            });
          }
        }
      }
    });

    it('columnSums (beta 0 never reads out) and divideRows', () => {
      const rand = seeded(19);
      for (const rows of [...ROWS, 0, 40]) {
        for (const cols of COLS) {
          for (const beta of [0, 1, 0.5]) {
            withArena(() => {
              const ld = cols + 3;
              const values = uniform(rand, rows * cols, 2);
              const outValues = beta === 0 ? new Float32Array(cols).fill(Number.NaN) : uniform(rand, cols);
              const x = arena.put(strided(values, rows, cols, ld));
              const [oW, oJ] = placeTwice(wasm, outValues);
              wasm.ops.columnSums(x, ld, rows, cols, oW, beta);
              js.ops.columnSums(x, ld, rows, cols, oJ, beta);
              const expected = new Float64Array(cols);
              const tol = new Float64Array(cols);
              for (let c = 0; c < cols; c++) {
                let sum = 0;
                let magnitude = 0;
                for (let r = 0; r < rows; r++) {
                  sum += values[r * cols + c]!;
                  magnitude += Math.abs(values[r * cols + c]!);
                }
                const old = beta === 0 ? 0 : beta * outValues[c]!;
                expected[c] = old + sum;
                tol[c] = (rows + 3) * U * (magnitude + Math.abs(old));
              }
              const label = `columnSums ${rows}×${cols} beta=${beta}`;
              expectClose(label, readBack(wasm, oW, cols), expected, (i) => tol[i]!);
              expectClose(`${label} js`, readBack(js, oJ, cols), expected, (i) => tol[i]!);
            });
          }
          if (rows === 0) continue;
          withArena(() => {
            const ld = cols + 2;
            const values = uniform(rand, rows * cols, 2);
            const den = Float32Array.from({ length: rows }, (_, r) => (r === 0 ? 0 : 0.1 + rand() * 5));
            const eps = 1e-3;
            const [xW, xJ] = placeTwice(wasm, strided(values, rows, cols, ld));
            const d = arena.put(den);
            wasm.ops.divideRows(xW, ld, rows, cols, d, eps);
            js.ops.divideRows(xJ, ld, rows, cols, d, eps);
            const expected = Float64Array.from(
              values,
              (v, i) => v / (den[Math.floor(i / Math.max(cols, 1))]! + eps),
            );
            const label = `divideRows ${rows}×${cols}`;
            const gotW = readBack(wasm, xW, rows * ld);
            // 1/(den + eps) rounds once to float32, the product once
            expectClose(label, dense(gotW, rows, cols, ld), expected, (i) => Math.abs(expected[i]!) * 2 * U);
            expectClose(
              `${label} js`,
              dense(readBack(js, xJ, rows * ld), rows, cols, ld),
              expected,
              (i) => Math.abs(expected[i]!) * 2 * U,
            );
            expectPaddingIntact(label, gotW, rows, cols, ld);
          });
        }
      }
    });
  });
}
