// Row primitives: band mask, softmax, the flash online-softmax step, finishing, feature maps and
// linear attention's reductions. Each walks its rows with f32x4 over 4-wide chunks and a scalar
// tail (cols need not be a multiple of 4); exponentials use the vector exp in exp.ts.
// Time O(rows · cols) each; no extra memory. Offsets and strides are in floats.
import { sexp, sexpNonPositive, vexp, vexpNonPositive } from './exp';
import { hostExp, hostLog } from './host';

// @ts-ignore: decorator
@inline
function ptr(offsetFloats: i32): usize {
  return (<usize>offsetFloats) << 2;
}

// @ts-ignore: decorator
@inline
function hmax(v: v128): f32 {
  const a = Mathf.max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1));
  const b = Mathf.max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3));
  return Mathf.max(a, b);
}

// @ts-ignore: decorator
@inline
function hsum(v: v128): f64 {
  return (
    <f64>f32x4.extract_lane(v, 0) +
    <f64>f32x4.extract_lane(v, 1) +
    (<f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3))
  );
}

/** Fills count floats at p with value. */
export function fill(p: usize, count: i32, value: f32): void {
  const v = f32x4.splat(value);
  let c = 0;
  for (; c + 4 <= count; c += 4) {
    v128.store(p, v);
    p += 16;
  }
  for (; c < count; c++) {
    store<f32>(p, value);
    p += 4;
  }
}

/** Multiplies count floats at p by factor. */
export function scale(p: usize, count: i32, factor: f32): void {
  const v = f32x4.splat(factor);
  let c = 0;
  for (; c + 4 <= count; c += 4) {
    v128.store(p, f32x4.mul(v128.load(p), v));
    p += 16;
  }
  for (; c < count; c++) {
    store<f32>(p, load<f32>(p) * factor);
    p += 4;
  }
}

/** Max over count floats at p (-Infinity when count == 0; NaN entries are ignored like the twin's `>`). */
export function maxOf(p: usize, count: i32): f32 {
  let m0 = f32x4.splat(-Infinity);
  let m1 = m0;
  let c = 0;
  for (; c + 8 <= count; c += 8) {
    // pmax(m, x) = m < x ? x : m
    m0 = f32x4.pmax(m0, v128.load(p));
    m1 = f32x4.pmax(m1, v128.load(p, 16));
    p += 32;
  }
  if (c + 4 <= count) {
    m0 = f32x4.pmax(m0, v128.load(p));
    p += 16;
    c += 4;
  }
  let m = hmax(f32x4.pmax(m0, m1));
  for (; c < count; c++) {
    const x = load<f32>(p);
    if (x > m) m = x;
    p += 4;
  }
  return m;
}

/** True when some of the count floats at p is NaN (x != x). Only run on rows whose max is -Infinity. */
export function hasNaN(p: usize, count: i32): bool {
  let c = 0;
  for (; c + 4 <= count; c += 4) {
    const v = v128.load(p);
    if (v128.any_true(f32x4.ne(v, v))) return true;
    p += 16;
  }
  for (; c < count; c++) {
    const x = load<f32>(p);
    if (x != x) return true;
    p += 4;
  }
  return false;
}

/** p[c] = exp(p[c] - max) in place; returns the sum. All arguments are <= 0 after the subtraction. */
export function expShiftedSum(p: usize, count: i32, max: f32): f64 {
  const vm = f32x4.splat(max);
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let c = 0;
  for (; c + 8 <= count; c += 8) {
    const e0 = vexpNonPositive(f32x4.sub(v128.load(p), vm));
    const e1 = vexpNonPositive(f32x4.sub(v128.load(p, 16), vm));
    v128.store(p, e0);
    v128.store(p, e1, 16);
    s0 = f32x4.add(s0, e0);
    s1 = f32x4.add(s1, e1);
    p += 32;
  }
  if (c + 4 <= count) {
    const e0 = vexpNonPositive(f32x4.sub(v128.load(p), vm));
    v128.store(p, e0);
    s0 = f32x4.add(s0, e0);
    p += 16;
    c += 4;
  }
  let sum = hsum(f32x4.add(s0, s1));
  for (; c < count; c++) {
    const e = sexpNonPositive(load<f32>(p) - max);
    store<f32>(p, e);
    sum += e;
    p += 4;
  }
  return sum;
}

export function maskBand(
  s: i32,
  lds: i32,
  rows: i32,
  cols: i32,
  firstQueryPos: f64,
  firstKey: f64,
  left: f64,
  right: f64,
  validKeys: f64,
): void {
  const neg: f32 = -Infinity;
  const colsF = <f64>cols;
  for (let r = 0; r < rows; r++) {
    const pos = firstQueryPos + <f64>r;
    // visible columns: [pos - left, min(pos + right + 1, validKeys)) - firstKey, clamped to [0, cols]
    let lo = Math.min(Math.max(pos - left - firstKey, 0), colsF);
    let hi = Math.min(Math.max(Math.min(pos + right + 1, validKeys) - firstKey, 0), colsF);
    if (hi < lo) hi = lo;
    const row = ptr(s) + (<usize>r * <usize>lds << 2);
    const loI = <i32>lo;
    const hiI = <i32>hi;
    fill(row, loI, neg);
    fill(row + (<usize>hiI << 2), cols - hiI, neg);
  }
}

// NaN (docs/design.md "Limits and non-finite values"): maxOf skips NaN (pmax), which is harmless
// when the max is finite (exp(NaN − max) is NaN, so the sum, every probability and lse are NaN)
// but would make a row whose only visible scores are NaN look empty; such a row is recognised in
// the rare max == −Infinity branch and given max = NaN, which turns the whole row NaN the same way.
export function softmaxRows(s: i32, lds: i32, rows: i32, cols: i32, lse: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = ptr(s) + (<usize>r * <usize>lds << 2);
    let max = maxOf(row, cols);
    if (max == -Infinity) {
      if (hasNaN(row, cols)) {
        max = NaN;
      } else {
        // a row that sees no key: zeros and lse = -Infinity, never NaN
        fill(row, cols, 0);
        if (lse >= 0) store<f32>(ptr(lse) + (<usize>r << 2), -Infinity);
        continue;
      }
    }
    const sum = expShiftedSum(row, cols, max);
    scale(row, cols, <f32>(1.0 / sum));
    if (lse >= 0) store<f32>(ptr(lse) + (<usize>r << 2), <f32>(<f64>max + hostLog(sum)));
  }
}

export function onlineSoftmaxStep(
  s: i32,
  lds: i32,
  rows: i32,
  cols: i32,
  rowMax: i32,
  rowSum: i32,
  acc: i32,
  ldacc: i32,
  dv: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const row = ptr(s) + (<usize>r * <usize>lds << 2);
    const maxAt = ptr(rowMax) + (<usize>r << 2);
    const sumAt = ptr(rowSum) + (<usize>r << 2);
    const oldMax = load<f32>(maxAt);
    const tileMax = maxOf(row, cols);
    // a NaN oldMax stays NaN (the comparison is false)
    let newMax = tileMax > oldMax ? tileMax : oldMax;
    if (newMax == -Infinity) {
      if (!hasNaN(row, cols)) {
        fill(row, cols, 0);
        continue;
      }
      // the tile's only visible scores are NaN: rowMax, rowSum and acc all become NaN below
      newMax = NaN;
    }
    const sum = expShiftedSum(row, cols, newMax);
    // oldMax == -Infinity: nothing accumulated yet, corr = 0
    const corr = hostExp(<f64>oldMax - <f64>newMax);
    store<f32>(sumAt, <f32>(<f64>load<f32>(sumAt) * corr + sum));
    if (corr != 1) scale(ptr(acc) + (<usize>r * <usize>ldacc << 2), dv, <f32>corr);
    store<f32>(maxAt, newMax);
  }
}

export function finishRows(
  acc: i32,
  ldacc: i32,
  rows: i32,
  dv: i32,
  rowMax: i32,
  rowSum: i32,
  out: i32,
  ldout: i32,
  lse: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const sum = <f64>load<f32>(ptr(rowSum) + (<usize>r << 2));
    let src = ptr(acc) + (<usize>r * <usize>ldacc << 2);
    let dst = ptr(out) + (<usize>r * <usize>ldout << 2);
    if (sum == 0) {
      fill(dst, dv, 0);
      if (lse >= 0) store<f32>(ptr(lse) + (<usize>r << 2), -Infinity);
      continue;
    }
    const inv = <f32>(1.0 / sum);
    const vi = f32x4.splat(inv);
    let c = 0;
    for (; c + 4 <= dv; c += 4) {
      v128.store(dst, f32x4.mul(v128.load(src), vi));
      src += 16;
      dst += 16;
    }
    for (; c < dv; c++) {
      store<f32>(dst, load<f32>(src) * inv);
      src += 4;
      dst += 4;
    }
    if (lse >= 0) {
      const m = <f64>load<f32>(ptr(rowMax) + (<usize>r << 2));
      store<f32>(ptr(lse) + (<usize>r << 2), <f32>(m + hostLog(sum)));
    }
  }
}

export function eluPlusOne(x: i32, n: i32): void {
  let p = ptr(x);
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p);
    const positive = f32x4.gt(v, zero);
    // exp only sees the non-positive side (positive lanes are replaced by v + 1)
    const e = vexpNonPositive(f32x4.pmin(v, zero));
    v128.store(p, v128.bitselect(f32x4.add(v, one), e, positive));
    p += 16;
  }
  for (; i < n; i++) {
    const v = load<f32>(p);
    store<f32>(p, v > 0 ? v + 1 : sexpNonPositive(v));
    p += 4;
  }
}

/**
 * 1 when x[0, n) holds a NaN or an infinity, else 0. x · 0 is NaN exactly for those, and a NaN
 * survives the running sum, so the loop has no branch: one mul and one add per four floats.
 */
export function notFinite(x: i32, n: i32): i32 {
  let p = ptr(x);
  const zero = f32x4.splat(0);
  let acc0 = zero;
  let acc1 = zero;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(p), zero));
    acc1 = f32x4.add(acc1, f32x4.mul(v128.load(p, 16), zero));
    p += 32;
  }
  for (; i + 4 <= n; i += 4) {
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(p), zero));
    p += 16;
  }
  let tail: f32 = 0;
  for (; i < n; i++) {
    tail += load<f32>(p) * 0;
    p += 4;
  }
  const acc = f32x4.add(acc0, acc1);
  return v128.any_true(f32x4.ne(acc, acc)) || tail != tail ? 1 : 0;
}

export function relu(x: i32, n: i32): void {
  let p = ptr(x);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p);
    // -0 and negatives become +0; NaN stays NaN (it propagates, docs/design.md), like the twin
    const keep = v128.or(f32x4.gt(v, zero), f32x4.ne(v, v));
    v128.store(p, v128.and(v, keep));
    p += 16;
  }
  for (; i < n; i++) {
    const x = load<f32>(p);
    if (!(x > 0) && x == x) store<f32>(p, 0);
    p += 4;
  }
}

export function rowSquaredNorms(x: i32, ldx: i32, rows: i32, cols: i32, out: i32, scaleBy: f32): void {
  for (let r = 0; r < rows; r++) {
    let p = ptr(x) + (<usize>r * <usize>ldx << 2);
    let s0 = f32x4.splat(0);
    let s1 = s0;
    let c = 0;
    for (; c + 8 <= cols; c += 8) {
      const v0 = v128.load(p);
      const v1 = v128.load(p, 16);
      s0 = f32x4.add(s0, f32x4.mul(v0, v0));
      s1 = f32x4.add(s1, f32x4.mul(v1, v1));
      p += 32;
    }
    if (c + 4 <= cols) {
      const v0 = v128.load(p);
      s0 = f32x4.add(s0, f32x4.mul(v0, v0));
      p += 16;
      c += 4;
    }
    let sum = hsum(f32x4.add(s0, s1));
    for (; c < cols; c++) {
      const v = <f64>load<f32>(p);
      sum += v * v;
      p += 4;
    }
    store<f32>(ptr(out) + (<usize>r << 2), <f32>(<f64>scaleBy * sum));
  }
}

export function rowMax(x: i32, ldx: i32, rows: i32, cols: i32, out: i32): void {
  for (let r = 0; r < rows; r++) {
    store<f32>(ptr(out) + (<usize>r << 2), maxOf(ptr(x) + (<usize>r * <usize>ldx << 2), cols));
  }
}

export function expShiftRows(
  x: i32,
  ldx: i32,
  rows: i32,
  cols: i32,
  rowShift: i32,
  shift: f64,
  factor: f32,
): void {
  const vf = f32x4.splat(factor);
  for (let r = 0; r < rows; r++) {
    const total = <f32>(shift + (rowShift >= 0 ? <f64>load<f32>(ptr(rowShift) + (<usize>r << 2)) : 0));
    const vt = f32x4.splat(total);
    let p = ptr(x) + (<usize>r * <usize>ldx << 2);
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128.store(p, f32x4.mul(vf, vexp(f32x4.sub(v128.load(p), vt))));
      p += 16;
    }
    for (; c < cols; c++) {
      store<f32>(p, factor * sexp(load<f32>(p) - total));
      p += 4;
    }
  }
}

export function columnSums(x: i32, ldx: i32, rows: i32, cols: i32, out: i32, beta: f32): void {
  const ldxBytes = (<usize>ldx) << 2;
  const vb = f32x4.splat(beta);
  let c = 0;
  // 16 columns at a time: four independent accumulators down the rows
  for (; c + 16 <= cols; c += 16) {
    let s0 = f32x4.splat(0);
    let s1 = s0;
    let s2 = s0;
    let s3 = s0;
    let p = ptr(x) + (<usize>c << 2);
    for (let r = 0; r < rows; r++) {
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32));
      s3 = f32x4.add(s3, v128.load(p, 48));
      p += ldxBytes;
    }
    const o = ptr(out) + (<usize>c << 2);
    if (beta == 0) {
      v128.store(o, s0);
      v128.store(o, s1, 16);
      v128.store(o, s2, 32);
      v128.store(o, s3, 48);
    } else {
      v128.store(o, f32x4.add(f32x4.mul(vb, v128.load(o)), s0));
      v128.store(o, f32x4.add(f32x4.mul(vb, v128.load(o, 16)), s1), 16);
      v128.store(o, f32x4.add(f32x4.mul(vb, v128.load(o, 32)), s2), 32);
      v128.store(o, f32x4.add(f32x4.mul(vb, v128.load(o, 48)), s3), 48);
    }
  }
  for (; c + 4 <= cols; c += 4) {
    let s0 = f32x4.splat(0);
    let p = ptr(x) + (<usize>c << 2);
    for (let r = 0; r < rows; r++) {
      s0 = f32x4.add(s0, v128.load(p));
      p += ldxBytes;
    }
    const o = ptr(out) + (<usize>c << 2);
    v128.store(o, beta == 0 ? s0 : f32x4.add(f32x4.mul(vb, v128.load(o)), s0));
  }
  for (; c < cols; c++) {
    let sum: f32 = 0;
    let p = ptr(x) + (<usize>c << 2);
    for (let r = 0; r < rows; r++) {
      sum += load<f32>(p);
      p += ldxBytes;
    }
    const o = ptr(out) + (<usize>c << 2);
    store<f32>(o, beta == 0 ? sum : beta * load<f32>(o) + sum);
  }
}

export function divideRows(x: i32, ldx: i32, rows: i32, cols: i32, den: i32, eps: f64): void {
  for (let r = 0; r < rows; r++) {
    const inv = <f32>(1.0 / (<f64>load<f32>(ptr(den) + (<usize>r << 2)) + eps));
    scale(ptr(x) + (<usize>r * <usize>ldx << 2), cols, inv);
  }
}
