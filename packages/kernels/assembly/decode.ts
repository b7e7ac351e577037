// decodeAttend (kernel-ops.ts has the contract; js-ops.ts the readable twin): a few query rows of one
// kv head against the positions [from, to) of a paged cache, read from their pages in place and
// decoded inside the dot products (float32, float16 bits, or int8 times the row's scale, each value
// exactly as compact.ts's dequantRows gives it), in one online-softmax pass.
//
// Why in place: the tiled path copies or expands every tile into scratch, packs gemm panels from it
// and runs P·V as a second gemm; at one token the rows are one GQA group (4 for Llama 3), too few to
// pay for that, and it reached about 10 % of the streaming bandwidth (benchmarks/results/decode.json).
//
// Structure (packages/native/src/kernels.cc decodeRows, adapted to 128-bit vectors): rows are taken
// SWEEP_ROWS at a time (more rows sweep the keys again); a sweep walks blocks of BLOCK positions cut
// at absolute multiples of BLOCK (the block grid is the contract's, so the bits never depend on the
// page size). Per block: the key and value addresses and scales are resolved once and every line
// of the block's rows is fetched in one burst (resolveRows); scores are computed 4 rows × 2 keys at
// a time (8 accumulators, each key row decoded once for the 4 rows; one row alone: 4 keys at a
// time), every (row, key) with one f32x4 accumulator over the features, and 4 keys' accumulators
// summed across lanes together by a transposing shuffle tree, then times f32(scale); a non-finite
// score is recomputed in float64 and saturated as gemmNT's; positions a row does not see become
// −Infinity; the online-softmax step is rows.ts's onlineSoftmaxStep on the block's scores; acc +=
// p · v with 4 rows × 8 columns of accumulators in registers (one row: 16 columns), a row adding
// only the keys it sees. finishRows' rule ends each row. The order of every floating-point operation
// of a (row, key) score and of a row's accumulator does not depend on how rows are grouped, so a
// row's bits are the same alone, in a group, or next to a NaN row. float16 blocks holding no
// ±Infinity or NaN (checked while fetching them) take a 4-instruction decode instead of the full
// bit rule; both give the same values.
//
// Time O(rows · span · (dk + dv)); memory: this instance's scratch (scratch.ts's decode layout), nothing else.
import { hostExp, hostLog } from './host';
import { expShiftedSum, fill, hasNaN, maxOf, scale as scaleRun } from './rows';
import { DECODE_BLOCK, DECODE_SWEEP_ROWS, scratch } from './scratch';

// @ts-ignore: decorator
@inline const BLOCK: i32 = DECODE_BLOCK;
// @ts-ignore: decorator
@inline const SWEEP_ROWS: i32 = DECODE_SWEEP_ROWS;
// @ts-ignore: decorator
@inline const FLOAT16: i32 = 1;
// @ts-ignore: decorator
@inline const FLT_MAX: f32 = 3.4028234663852886e38;

// Scratch layout (bytes from `scratch`, DECODE_SCRATCH_BYTES of scratch.ts): scores [SWEEP_ROWS][BLOCK]
// f32, then per key of the block its key row address, value row address, key scale and value
// scale, then per row of the sweep its running max, running sum, first and last visible position.
// @ts-ignore: decorator
@inline const SCORES: usize = 0;
// @ts-ignore: decorator
@inline const K_ROWS: usize = SCORES + <usize>(SWEEP_ROWS * BLOCK * 4);
// @ts-ignore: decorator
@inline const V_ROWS: usize = K_ROWS + <usize>(BLOCK * 4);
// @ts-ignore: decorator
@inline const K_SCALES: usize = V_ROWS + <usize>(BLOCK * 4);
// @ts-ignore: decorator
@inline const V_SCALES: usize = K_SCALES + <usize>(BLOCK * 4);
// @ts-ignore: decorator
@inline const ROW_MAX: usize = V_SCALES + <usize>(BLOCK * 4);
// @ts-ignore: decorator
@inline const ROW_SUM: usize = ROW_MAX + <usize>(SWEEP_ROWS * 4);
// @ts-ignore: decorator
@inline const ROW_LO: usize = ROW_SUM + <usize>(SWEEP_ROWS * 4);
// @ts-ignore: decorator
@inline const ROW_HI: usize = ROW_LO + <usize>(SWEEP_ROWS * 4);

// One call's arguments (module globals: per instance, set by the export, read by the sweeps).
let qAt: usize = 0;
let qLengthArg: i32 = 1;
let dkArg: i32 = 0;
let dvArg: i32 = 0;
let scaleArg: f64 = 0;
let tableAt: usize = 0;
let tableStartArg: i32 = 0;
let pageSizeArg: i32 = 1;
let keyByteArg: usize = 0;
let valueByteArg: usize = 0;
let keyScalesArg: i32 = -1;
let valueScalesArg: i32 = -1;
let fromArg: i32 = 0;
let toArg: i32 = 0;
let firstQueryPosArg: f64 = 0;
let leftArg: f64 = 0;
let outAt: usize = 0;
let lseArg: i32 = -1;
/** Where resolveRows' fetches leave their words (a load whose result is kept is never dropped). */
let touched: u32 = 0;

// @ts-ignore: decorator
@inline
function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

// @ts-ignore: decorator
@inline
function imax(a: i32, b: i32): i32 {
  return a > b ? a : b;
}

/**
 * Four stored elements at p as float32, times the row's scale. T names the format: f32 float32, u16
 * float16 bits, i16 float16 bits of a block without ±Infinity, NaN or scales (a shorter decode),
 * i8 int8.
 */
// @ts-ignore: decorator
@inline
function loadStored<T>(p: usize, scaleV: v128): v128 {
  if (sizeof<T>() == 4) return v128.load(p);
  if (sizeof<T>() == 2 && isSigned<T>()) {
    // T = i16: float16 halves known finite, unscaled. Sign-extended, shifted by 13 and masked, the
    // sign lands on bit 31 and exponent and mantissa on bits 27..13; times 2^112 that is the half's
    // value exactly (subnormals included), as the rule below gives it.
    const x = i32x4.shl(i32x4.extend_low_i16x8_s(v128.load64_zero(p)), 13);
    return f32x4.mul(v128.and(x, i32x4.splat(0x8fffe000)), f32x4.splat(reinterpret<f32>(<u32>0x77800000)));
  }
  if (sizeof<T>() == 2) {
    // compact.ts's bit rule: shifted into a float32 and re-biased by 2^112, exponent 31 → 255
    const x = i32x4.extend_low_i16x8_u(v128.load64_zero(p));
    const shifted = i32x4.shl(v128.and(x, i32x4.splat(0x7fff)), 13);
    const special = i32x4.eq(v128.and(x, i32x4.splat(0x7c00)), i32x4.splat(0x7c00));
    const scaled = f32x4.mul(shifted, f32x4.splat(reinterpret<f32>(<u32>0x77800000)));
    const magnitude = v128.bitselect(v128.or(shifted, i32x4.splat(0x7f800000)), scaled, special);
    const value = v128.or(magnitude, i32x4.shl(v128.and(x, i32x4.splat(0x8000)), 16));
    return f32x4.mul(value, scaleV);
  }
  const x = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p)));
  return f32x4.mul(f32x4.convert_i32x4_s(x), scaleV);
}

/** One stored element at p, as loadStored's lanes (the tails and the float64 recompute). */
// @ts-ignore: decorator
@inline
function storedAt<T>(p: usize, scale: f32): f32 {
  if (sizeof<T>() == 4) return load<f32>(p);
  if (sizeof<T>() == 2) {
    const h = <u32>load<u16>(p);
    const shifted = (h & 0x7fff) << 13;
    const magnitude: f32 =
      (h & 0x7c00) == 0x7c00
        ? reinterpret<f32>(shifted | 0x7f800000)
        : reinterpret<f32>(shifted) * reinterpret<f32>(<u32>0x77800000);
    return reinterpret<f32>(reinterpret<u32>(magnitude) | ((h & 0x8000) << 16)) * scale;
  }
  return <f32>load<i8>(p) * scale;
}

/**
 * Lane t = the sum of the lanes of dt (t < 4): pairs of keys first ((l0 + l2), (l1 + l3) of each),
 * then each key's two halves. Every key's lanes are added in the same order, wherever it sits.
 */
// @ts-ignore: decorator
@inline
function pairSum(a: v128, b: v128): v128 {
  return f32x4.add(
    v128.shuffle<f32>(a, b, 0, 1, 4, 5),
    v128.shuffle<f32>(a, b, 2, 3, 6, 7),
  );
}

// @ts-ignore: decorator
@inline
function quadSum(ab: v128, cd: v128): v128 {
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 2, 4, 6), v128.shuffle<f32>(ab, cd, 1, 3, 5, 7));
}

/** Key j's row address and scale (resolved per block into scratch). */
// @ts-ignore: decorator
@inline
function keyRow(j: i32): usize {
  return <usize>load<u32>(scratch + K_ROWS + (<usize>j << 2));
}

// @ts-ignore: decorator
@inline
function keyScale(j: i32): f32 {
  return load<f32>(scratch + K_SCALES + (<usize>j << 2));
}

// @ts-ignore: decorator
@inline
function valueRow(j: i32): usize {
  return <usize>load<u32>(scratch + V_ROWS + (<usize>j << 2));
}

// @ts-ignore: decorator
@inline
function valueScale(j: i32): f32 {
  return load<f32>(scratch + V_SCALES + (<usize>j << 2));
}

/** Row r's scores (of the current sweep). */
// @ts-ignore: decorator
@inline
function scoresOf(r: i32): usize {
  return scratch + SCORES + ((<usize>(r * BLOCK)) << 2);
}

/** Σ over the features [dkVec, dk) of q · k (float32, in order): the tail of a score. */
// @ts-ignore: decorator
@inline
function tailDot<T>(q: usize, k: usize, from: i32, dk: i32, scale: f32): f32 {
  let tail: f32 = 0;
  for (let c = from; c < dk; c++) {
    tail += load<f32>(q + (<usize>c << 2)) * storedAt<T>(k + <usize>c * sizeof<T>(), scale);
  }
  return tail;
}

/** The dk-tail sums of keys j0 .. j0 + 3 (repeats of the last of m keys beyond m) for one row. */
// @ts-ignore: decorator
@inline
function tails<T>(q: usize, j0: i32, m: i32, dkVec: i32, dk: i32): v128 {
  let t = f32x4.splat(0);
  if (dkVec == dk) return t;
  t = f32x4.replace_lane(t, 0, tailDot<T>(q, keyRow(j0), dkVec, dk, keyScale(j0)));
  if (m > 1) t = f32x4.replace_lane(t, 1, tailDot<T>(q, keyRow(j0 + 1), dkVec, dk, keyScale(j0 + 1)));
  if (m > 2) t = f32x4.replace_lane(t, 2, tailDot<T>(q, keyRow(j0 + 2), dkVec, dk, keyScale(j0 + 2)));
  if (m > 3) t = f32x4.replace_lane(t, 3, tailDot<T>(q, keyRow(j0 + 3), dkVec, dk, keyScale(j0 + 3)));
  return t;
}

/**
 * Scores of keys [0, n) of the block for the 4 rows at q0 .. q3 (rows of a short group repeat their
 * last row; `rows` of them are stored): two keys at a time, 8 accumulators, each key row decoded
 * once for the 4 rows.
 */
function scores4<T>(r: i32, rows: i32, q0: usize, q1: usize, q2: usize, q3: usize, n: i32, alpha: f32): void {
  const dk = dkArg;
  const dkVec = dk & ~3;
  const step = <usize>(4 * sizeof<T>());
  const alphaV = f32x4.splat(alpha);
  for (let j0 = 0; j0 < n; j0 += 4) {
    const m = imin(n - j0, 4);
    // keys beyond the block's end repeat its last key: lanes computed, never stored past n
    const ja = j0;
    const jb = j0 + imin(1, m - 1);
    const jc = j0 + imin(2, m - 1);
    const jd = j0 + imin(3, m - 1);
    let ab0 = f32x4.splat(0);
    let ab1 = ab0;
    let ab2 = ab0;
    let ab3 = ab0;
    for (let half = 0; half < 2; half++) {
      const ka = half == 0 ? ja : jc;
      const kb = half == 0 ? jb : jd;
      let pa = keyRow(ka);
      let pb = keyRow(kb);
      const sa = f32x4.splat(keyScale(ka));
      const sb = f32x4.splat(keyScale(kb));
      let a0 = f32x4.splat(0);
      let a1 = a0;
      let a2 = a0;
      let a3 = a0;
      let b0 = a0;
      let b1 = a0;
      let b2 = a0;
      let b3 = a0;
      let c: usize = 0;
      const end = (<usize>dkVec) << 2;
      for (; c < end; c += 16) {
        const ka4 = loadStored<T>(pa, sa);
        const kb4 = loadStored<T>(pb, sb);
        pa += step;
        pb += step;
        let x = v128.load(q0 + c);
        a0 = f32x4.add(a0, f32x4.mul(x, ka4));
        b0 = f32x4.add(b0, f32x4.mul(x, kb4));
        x = v128.load(q1 + c);
        a1 = f32x4.add(a1, f32x4.mul(x, ka4));
        b1 = f32x4.add(b1, f32x4.mul(x, kb4));
        x = v128.load(q2 + c);
        a2 = f32x4.add(a2, f32x4.mul(x, ka4));
        b2 = f32x4.add(b2, f32x4.mul(x, kb4));
        x = v128.load(q3 + c);
        a3 = f32x4.add(a3, f32x4.mul(x, ka4));
        b3 = f32x4.add(b3, f32x4.mul(x, kb4));
      }
      if (half == 0) {
        ab0 = pairSum(a0, b0);
        ab1 = pairSum(a1, b1);
        ab2 = pairSum(a2, b2);
        ab3 = pairSum(a3, b3);
      } else {
        storeScores<T>(r, j0, m, quadSum(ab0, pairSum(a0, b0)), q0, dkVec, dk, alphaV);
        if (rows > 1) storeScores<T>(r + 1, j0, m, quadSum(ab1, pairSum(a1, b1)), q1, dkVec, dk, alphaV);
        if (rows > 2) storeScores<T>(r + 2, j0, m, quadSum(ab2, pairSum(a2, b2)), q2, dkVec, dk, alphaV);
        if (rows > 3) storeScores<T>(r + 3, j0, m, quadSum(ab3, pairSum(a3, b3)), q3, dkVec, dk, alphaV);
      }
    }
  }
}

/** scores4 for one row: four keys at a time (4 accumulators, the same operations per key). */
function scores1<T>(r: i32, q0: usize, n: i32, alpha: f32): void {
  const dk = dkArg;
  const dkVec = dk & ~3;
  const step = <usize>(4 * sizeof<T>());
  const alphaV = f32x4.splat(alpha);
  for (let j0 = 0; j0 < n; j0 += 4) {
    const m = imin(n - j0, 4);
    const ja = j0;
    const jb = j0 + imin(1, m - 1);
    const jc = j0 + imin(2, m - 1);
    const jd = j0 + imin(3, m - 1);
    let pa = keyRow(ja);
    let pb = keyRow(jb);
    let pc = keyRow(jc);
    let pd = keyRow(jd);
    const sa = f32x4.splat(keyScale(ja));
    const sb = f32x4.splat(keyScale(jb));
    const sc = f32x4.splat(keyScale(jc));
    const sd = f32x4.splat(keyScale(jd));
    let a = f32x4.splat(0);
    let b = a;
    let cc = a;
    let d = a;
    let c: usize = 0;
    const end = (<usize>dkVec) << 2;
    for (; c < end; c += 16) {
      const x = v128.load(q0 + c);
      a = f32x4.add(a, f32x4.mul(x, loadStored<T>(pa, sa)));
      b = f32x4.add(b, f32x4.mul(x, loadStored<T>(pb, sb)));
      cc = f32x4.add(cc, f32x4.mul(x, loadStored<T>(pc, sc)));
      d = f32x4.add(d, f32x4.mul(x, loadStored<T>(pd, sd)));
      pa += step;
      pb += step;
      pc += step;
      pd += step;
    }
    storeScores<T>(r, j0, m, quadSum(pairSum(a, b), pairSum(cc, d)), q0, dkVec, dk, alphaV);
  }
}

/** Row r's scores of keys j0 .. j0 + 3: the lane sums plus the dk tail, times f32(scale). */
// @ts-ignore: decorator
@inline
function storeScores<T>(r: i32, j0: i32, m: i32, sums: v128, q: usize, dkVec: i32, dk: i32, alphaV: v128): void {
  // the scores row has room for whole groups of 4 (BLOCK is a multiple of 4): lanes past n are junk, never read
  v128.store(scoresOf(r) + (<usize>j0 << 2), f32x4.mul(f32x4.add(sums, tails<T>(q, j0, m, dkVec, dk)), alphaV));
}

/**
 * A non-finite score of the row recomputed in float64 (exact products, a sum that cannot overflow)
 * and saturated, as gemmNT's slow path: every score is then finite or NaN (rare: one vector test per
 * 4 keys finds none).
 */
function saturateRow<T>(r: i32, q: usize, n: i32): void {
  const row = scoresOf(r);
  let bad = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const x = v128.load(row + (<usize>j << 2));
    bad = f32x4.add(bad, f32x4.sub(x, x));
  }
  let tailBad: f32 = 0;
  for (; j < n; j++) {
    const x = load<f32>(row + (<usize>j << 2));
    tailBad += x - x;
  }
  if (!v128.any_true(f32x4.ne(bad, f32x4.splat(0))) && tailBad == 0) return;
  const dk = dkArg;
  for (j = 0; j < n; j++) {
    const at = row + (<usize>j << 2);
    const x = load<f32>(at);
    if (x - x == 0) continue;
    const k = keyRow(j);
    const s = keyScale(j);
    let exact: f64 = 0;
    for (let c = 0; c < dk; c++) {
      exact += <f64>load<f32>(q + (<usize>c << 2)) * <f64>storedAt<T>(k + <usize>c * sizeof<T>(), s);
    }
    const y = <f32>(scaleArg * exact);
    store<f32>(at, y > FLT_MAX ? FLT_MAX : y < -FLT_MAX ? -FLT_MAX : y);
  }
}

/** acc rows r .. r + 3 (at o0 .. o3) += p · v over keys [0, n): 8 columns × 4 rows in registers. */
function values4<T>(r: i32, o0: usize, o1: usize, o2: usize, o3: usize, n: i32): void {
  const dv = dvArg;
  const p0 = scoresOf(r);
  const p1 = scoresOf(r + 1);
  const p2 = scoresOf(r + 2);
  const p3 = scoresOf(r + 3);
  const step = <usize>(4 * sizeof<T>());
  let c = 0;
  for (; c + 8 <= dv; c += 8) {
    const at = <usize>c << 2;
    let x0 = v128.load(o0 + at);
    let y0 = v128.load(o0 + at, 16);
    let x1 = v128.load(o1 + at);
    let y1 = v128.load(o1 + at, 16);
    let x2 = v128.load(o2 + at);
    let y2 = v128.load(o2 + at, 16);
    let x3 = v128.load(o3 + at);
    let y3 = v128.load(o3 + at, 16);
    const element = <usize>c * sizeof<T>();
    for (let j = 0; j < n; j++) {
      const s = f32x4.splat(valueScale(j));
      const pv = valueRow(j) + element;
      const v0 = loadStored<T>(pv, s);
      const v1 = loadStored<T>(pv + step, s);
      const jb = <usize>j << 2;
      let p = v128.load32_splat(p0 + jb);
      x0 = f32x4.add(x0, f32x4.mul(p, v0));
      y0 = f32x4.add(y0, f32x4.mul(p, v1));
      p = v128.load32_splat(p1 + jb);
      x1 = f32x4.add(x1, f32x4.mul(p, v0));
      y1 = f32x4.add(y1, f32x4.mul(p, v1));
      p = v128.load32_splat(p2 + jb);
      x2 = f32x4.add(x2, f32x4.mul(p, v0));
      y2 = f32x4.add(y2, f32x4.mul(p, v1));
      p = v128.load32_splat(p3 + jb);
      x3 = f32x4.add(x3, f32x4.mul(p, v0));
      y3 = f32x4.add(y3, f32x4.mul(p, v1));
    }
    v128.store(o0 + at, x0);
    v128.store(o0 + at, y0, 16);
    v128.store(o1 + at, x1);
    v128.store(o1 + at, y1, 16);
    v128.store(o2 + at, x2);
    v128.store(o2 + at, y2, 16);
    v128.store(o3 + at, x3);
    v128.store(o3 + at, y3, 16);
  }
  if (c < dv) {
    values1<T>(r, o0, 0, n, c);
    values1<T>(r + 1, o1, 0, n, c);
    values1<T>(r + 2, o2, 0, n, c);
    values1<T>(r + 3, o3, 0, n, c);
  }
}

/**
 * acc row r (at o) += p · v over keys [j0, j1), columns [c0, dv): 16 columns at a time, then 4,
 * then one; the same operations per element as values4.
 */
function values1<T>(r: i32, o: usize, j0: i32, j1: i32, c0: i32): void {
  const dv = dvArg;
  const pr = scoresOf(r);
  const step = <usize>(4 * sizeof<T>());
  let c = c0;
  for (; c + 16 <= dv; c += 16) {
    const at = <usize>c << 2;
    let x0 = v128.load(o + at);
    let x1 = v128.load(o + at, 16);
    let x2 = v128.load(o + at, 32);
    let x3 = v128.load(o + at, 48);
    const element = <usize>c * sizeof<T>();
    for (let j = j0; j < j1; j++) {
      const s = f32x4.splat(valueScale(j));
      const pv = valueRow(j) + element;
      const p = v128.load32_splat(pr + (<usize>j << 2));
      x0 = f32x4.add(x0, f32x4.mul(p, loadStored<T>(pv, s)));
      x1 = f32x4.add(x1, f32x4.mul(p, loadStored<T>(pv + step, s)));
      x2 = f32x4.add(x2, f32x4.mul(p, loadStored<T>(pv + 2 * step, s)));
      x3 = f32x4.add(x3, f32x4.mul(p, loadStored<T>(pv + 3 * step, s)));
    }
    v128.store(o + at, x0);
    v128.store(o + at, x1, 16);
    v128.store(o + at, x2, 32);
    v128.store(o + at, x3, 48);
  }
  for (; c + 4 <= dv; c += 4) {
    const at = <usize>c << 2;
    let x0 = v128.load(o + at);
    const element = <usize>c * sizeof<T>();
    for (let j = j0; j < j1; j++) {
      const p = v128.load32_splat(pr + (<usize>j << 2));
      x0 = f32x4.add(x0, f32x4.mul(p, loadStored<T>(valueRow(j) + element, f32x4.splat(valueScale(j)))));
    }
    v128.store(o + at, x0);
  }
  for (; c < dv; c++) {
    const at = o + (<usize>c << 2);
    let x = load<f32>(at);
    const element = <usize>c * sizeof<T>();
    for (let j = j0; j < j1; j++) {
      x += load<f32>(pr + (<usize>j << 2)) * storedAt<T>(valueRow(j) + element, valueScale(j));
    }
    store<f32>(at, x);
  }
}

/**
 * resolveRowsOnly, then a word of every 64-byte line of the block's rows loaded, all at once: wasm
 * has no prefetch instruction, and a burst of independent loads keeps many misses in flight where
 * the dot products would wait on them one row (the scores) or one column chunk of 64 rows (p · v, a
 * pattern hardware prefetchers follow poorly) at a time. Measured (one token, 32K positions,
 * float32, Hq 32 / Hkv 8, d 128, a loaded 2-core machine): 37 → 25 ms of CPU; fetching the next
 * block instead, in a burst or interleaved with the dot products, was no faster (interleaved: slower).
 */
function resolveRows<T>(b0: i32, b1: i32): void {
  resolveRowsOnly<T>(b0, b1);
  const kRowBytes = <usize>dkArg * sizeof<T>();
  const vRowBytes = <usize>dvArg * sizeof<T>();
  let sink: u32 = 0;
  for (let j = 0; j < b1 - b0; j++) {
    const k = keyRow(j);
    for (let line: usize = 0; line < kRowBytes; line += 64) sink |= load<u32>(k + line);
    const v = valueRow(j);
    for (let line: usize = 0; line < vRowBytes; line += 64) sink |= load<u32>(v + line);
  }
  touched = sink;
}

/** Key and value row addresses and scales of positions [b0, b1): one division, then slot by slot. */
function resolveRowsOnly<T>(b0: i32, b1: i32): void {
  const P = pageSizeArg;
  const eb = <usize>sizeof<T>();
  const kRowBytes = <usize>dkArg * eb;
  const vRowBytes = <usize>dvArg * eb;
  let entry = (b0 - tableStartArg) / P;
  let slot = b0 - tableStartArg - entry * P;
  let page = load<u32>(tableAt + (<usize>entry << 2));
  for (let j = 0; j < b1 - b0; j++) {
    if (slot == P) {
      slot = 0;
      entry++;
      page = load<u32>(tableAt + (<usize>entry << 2));
    }
    const base = (<usize>page) << 2;
    const at = <usize>j << 2;
    store<u32>(scratch + K_ROWS + at, <u32>(base + keyByteArg + <usize>slot * kRowBytes));
    store<u32>(scratch + V_ROWS + at, <u32>(base + valueByteArg + <usize>slot * vRowBytes));
    store<f32>(
      scratch + K_SCALES + at,
      keyScalesArg < 0 ? 1 : load<f32>(base + ((<usize>(keyScalesArg + slot)) << 2)),
    );
    store<f32>(
      scratch + V_SCALES + at,
      valueScalesArg < 0 ? 1 : load<f32>(base + ((<usize>(valueScalesArg + slot)) << 2)),
    );
    slot++;
  }
}

/**
 * resolveRows for float16 rows, whose bytes are all read here (the burst of resolveRows): true
 * when a half of the block's key or value rows is ±Infinity or NaN (exponent bits all ones).
 */
function resolveHalves(b0: i32, b1: i32): bool {
  resolveRowsOnly<u16>(b0, b1);
  const dk = dkArg;
  const dv = dvArg;
  const exponent = i16x8.splat(0x7c00);
  let special = i16x8.splat(0);
  let tail: u32 = 0;
  for (let j = 0; j < b1 - b0; j++) {
    for (let part = 0; part < 2; part++) {
      const row = part == 0 ? keyRow(j) : valueRow(j);
      const depth = part == 0 ? dk : dv;
      let c = 0;
      for (; c + 8 <= depth; c += 8) {
        special = v128.or(special, i16x8.eq(v128.and(v128.load(row + (<usize>c << 1)), exponent), exponent));
      }
      for (; c < depth; c++) {
        if ((<u32>load<u16>(row + (<usize>c << 1)) & 0x7c00) == 0x7c00) tail = 1;
      }
    }
  }
  return v128.any_true(special) || tail != 0;
}

/** Rows [r0, r0 + R) (R <= SWEEP_ROWS) against the call's positions: decodeRows of native, for T's format. */
function sweep<T>(r0: i32, R: i32): void {
  const dv = dvArg;
  const from = fromArg;
  const to = toArg;
  let loAll = to;
  let hiAll = from - 1;
  let loMax = from;
  let hiMin = to - 1;
  for (let r = 0; r < R; r++) {
    store<f32>(scratch + ROW_MAX + (<usize>r << 2), -Infinity);
    store<f32>(scratch + ROW_SUM + (<usize>r << 2), 0);
    fill(outAt + ((<usize>((r0 + r) * dv)) << 2), dv, 0);
    // visible: pos − left <= key <= pos (left may be +∞), within [from, to)
    const pos = firstQueryPosArg + <f64>((r0 + r) % qLengthArg);
    const low = Math.max(pos - leftArg, <f64>from);
    const lo = low > <f64>to ? to : <i32>Math.ceil(low);
    const hi = <i32>Math.min(pos, <f64>(to - 1));
    store<i32>(scratch + ROW_LO + (<usize>r << 2), lo);
    store<i32>(scratch + ROW_HI + (<usize>r << 2), hi);
    loAll = imin(loAll, lo);
    hiAll = imax(hiAll, hi);
    loMax = imax(loMax, lo);
    hiMin = imin(hiMin, hi);
  }
  const start = imax(loAll, from);
  const end = imin(hiAll + 1, to);
  const plainHalves = keyScalesArg < 0 && valueScalesArg < 0;
  for (let b0 = start; b0 < end; ) {
    const b1 = imin((b0 / BLOCK + 1) * BLOCK, end);
    const whole = loMax <= b0 && hiMin >= b1 - 1;
    if (sizeof<T>() == 2) {
      // float16: blocks without ±Infinity or NaN halves (and without scales) take the short decode
      if (resolveHalves(b0, b1) || !plainHalves) block<u16>(r0, R, b0, b1, whole);
      else block<i16>(r0, R, b0, b1, whole);
    } else {
      resolveRows<T>(b0, b1);
      block<T>(r0, R, b0, b1, whole);
    }
    b0 = b1;
  }
  finish(r0, R);
}

/** Block [b0, b1) of rows [r0, r0 + R), its rows resolved: scores, the online-softmax step, acc += p · v. */
function block<T>(r0: i32, R: i32, b0: i32, b1: i32, whole: bool): void {
  const dk = dkArg;
  const dv = dvArg;
  const alpha = <f32>scaleArg;
  const n = b1 - b0;
  // scores: groups of 4 rows (2 or 3 repeat their last), a lone row by itself
  let r = 0;
  for (; r < R; r += 4) {
    const rows = imin(R - r, 4);
    const q0 = qAt + ((<usize>((r0 + r) * dk)) << 2);
    if (rows == 1) {
      scores1<T>(r, q0, n, alpha);
      break;
    }
    const q1 = q0 + ((<usize>dk) << 2);
    const q2 = rows > 2 ? q1 + ((<usize>dk) << 2) : q1;
    const q3 = rows > 3 ? q2 + ((<usize>dk) << 2) : q2;
    scores4<T>(r, rows, q0, q1, q2, q3, n, alpha);
  }
  for (r = 0; r < R; r++) {
    saturateRow<T>(r, qAt + ((<usize>((r0 + r) * dk)) << 2), n);
    softmaxStep(r, outAt + ((<usize>((r0 + r) * dv)) << 2), b0, b1);
  }
  // acc += p · v: every row sees the whole block (decoding), or each row its own part of it
  if (whole) {
    r = 0;
    for (; r + 4 <= R; r += 4) {
      const o0 = outAt + ((<usize>((r0 + r) * dv)) << 2);
      const o1 = o0 + ((<usize>dv) << 2);
      const o2 = o1 + ((<usize>dv) << 2);
      const o3 = o2 + ((<usize>dv) << 2);
      values4<T>(r, o0, o1, o2, o3, n);
    }
    for (; r < R; r++) values1<T>(r, outAt + ((<usize>((r0 + r) * dv)) << 2), 0, n, 0);
  } else {
    for (r = 0; r < R; r++) {
      const lo = imax(load<i32>(scratch + ROW_LO + (<usize>r << 2)), b0) - b0;
      const hi = imin(load<i32>(scratch + ROW_HI + (<usize>r << 2)), b1 - 1) - b0;
      if (lo <= hi) values1<T>(r, outAt + ((<usize>((r0 + r) * dv)) << 2), lo, hi + 1, 0);
    }
  }
}

/**
 * Row r's scores of block [b0, b1): the positions it does not see become −Infinity, then rows.ts's
 * onlineSoftmaxStep on them (its accumulator at acc); the scores become the weights p.
 */
function softmaxStep(r: i32, acc: usize, b0: i32, b1: i32): void {
  const n = b1 - b0;
  const row = scoresOf(r);
  const lo = load<i32>(scratch + ROW_LO + (<usize>r << 2));
  const hi = load<i32>(scratch + ROW_HI + (<usize>r << 2));
  if (lo > b0 || hi < b1 - 1) {
    for (let j = 0; j < n; j++) {
      const position = b0 + j;
      if (position < lo || position > hi) store<f32>(row + (<usize>j << 2), -Infinity);
    }
  }
  const maxAt = scratch + ROW_MAX + (<usize>r << 2);
  const sumAt = scratch + ROW_SUM + (<usize>r << 2);
  const oldMax = load<f32>(maxAt);
  const tileMax = maxOf(row, n);
  let newMax = tileMax > oldMax ? tileMax : oldMax;
  if (newMax == -Infinity) {
    if (!hasNaN(row, n)) {
      fill(row, n, 0);
      return;
    }
    newMax = NaN;
  }
  const sum = expShiftedSum(row, n, newMax);
  // exp(0) = 1 and exp(−∞) = 0 exactly: the host's exp only when the max moved from a finite value
  const corr: f64 =
    oldMax == newMax ? 1 : oldMax == -Infinity && newMax == newMax ? 0 : hostExp(<f64>oldMax - <f64>newMax);
  store<f32>(sumAt, <f32>(<f64>load<f32>(sumAt) * corr + sum));
  if (corr != 1) scaleRun(acc, dvArg, <f32>corr);
  store<f32>(maxAt, newMax);
}

/** finishRows' rule on rows [r0, r0 + R). */
function finish(r0: i32, R: i32): void {
  const dv = dvArg;
  for (let r = 0; r < R; r++) {
    const sum = <f64>load<f32>(scratch + ROW_SUM + (<usize>r << 2));
    const acc = outAt + ((<usize>((r0 + r) * dv)) << 2);
    if (sum == 0) {
      fill(acc, dv, 0);
      if (lseArg >= 0) store<f32>(((<usize>(lseArg + r0 + r)) << 2), -Infinity);
      continue;
    }
    scaleRun(acc, dv, <f32>(1.0 / sum));
    if (lseArg >= 0) {
      const m = <f64>load<f32>(scratch + ROW_MAX + (<usize>r << 2));
      store<f32>((<usize>(lseArg + r0 + r)) << 2, <f32>(m + hostLog(sum)));
    }
  }
}

/**
 * decodeAttend with DecodeAttendArgs' fields as arguments, in its order (offsets in floats, keyByte
 * and valueByte in bytes, table in 4-byte units). src/engine/wasm-ops.ts binds it as decodeAttend.
 */
export function decodeAttendPaged(
  q: i32,
  rows: i32,
  qLength: i32,
  dk: i32,
  dv: i32,
  scale: f64,
  table: i32,
  tableStart: i32,
  pageSize: i32,
  keyByte: i32,
  valueByte: i32,
  keyScales: i32,
  valueScales: i32,
  format: i32,
  from: i32,
  to: i32,
  firstQueryPos: f64,
  left: f64,
  out: i32,
  lse: i32,
): void {
  qAt = (<usize>q) << 2;
  qLengthArg = qLength;
  dkArg = dk;
  dvArg = dv;
  scaleArg = scale;
  tableAt = (<usize>table) << 2;
  tableStartArg = tableStart;
  pageSizeArg = pageSize;
  keyByteArg = <usize>keyByte;
  valueByteArg = <usize>valueByte;
  keyScalesArg = keyScales;
  valueScalesArg = valueScales;
  fromArg = from;
  toArg = to;
  firstQueryPosArg = firstQueryPos;
  leftArg = left;
  outAt = (<usize>out) << 2;
  lseArg = lse;
  for (let r0 = 0; r0 < rows; r0 += SWEEP_ROWS) {
    const R = imin(rows - r0, SWEEP_ROWS);
    if (format == 0) sweep<f32>(r0, R);
    else if (format == FLOAT16) sweep<u16>(r0, R);
    else sweep<i8>(r0, R);
  }
}
