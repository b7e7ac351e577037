// Score-tile primitives of programmable masks and score modifiers (docs/design.md, Masks): the
// range part of a mask, an additive bias tile, ALiBi, logit softcapping. Semantics are exactly
// js-ops.ts's (maskRanges, addTile and addAlibi bit for bit; softcapScores within tanh.ts's
// bound). Each walks its rows with f32x4 over 4-wide chunks and a scalar tail.
// Time O(rows · cols) each; no extra memory. Offsets and strides are in floats.
import { vtanh } from './tanh';

// @ts-ignore: decorator
@inline const FLT_MAX: f32 = 3.4028234663852886e38;
/** Distances up to 2²⁴ are exact in float32, so slope · distance rounds once, like the twin's float64 product. */
// @ts-ignore: decorator
@inline const EXACT_DISTANCE: f64 = 16777216;

// @ts-ignore: decorator
@inline
function ptr(offsetFloats: i32): usize {
  return (<usize>offsetFloats) << 2;
}

// @ts-ignore: decorator
@inline
function rowAt(base: i32, r: i32, ld: i32): usize {
  return ptr(base) + ((<usize>r * <usize>ld) << 2);
}

/** Fills count floats at p with −Infinity. */
function hide(p: usize, count: i32): void {
  const v = f32x4.splat(-Infinity);
  let c = 0;
  for (; c + 4 <= count; c += 4) {
    v128.store(p, v);
    p += 16;
  }
  for (; c < count; c++) {
    store<f32>(p, -Infinity);
    p += 4;
  }
}

/**
 * a + b saturating (KernelOps.addTile): ±Infinity becomes ±FLT_MAX (pmax/pmin keep NaN) unless a
 * term is −Infinity, whose lanes keep the plain sum (−Infinity, or NaN from +∞ − ∞).
 */
// @ts-ignore: decorator
@inline
function saturatingAdd(a: v128, b: v128): v128 {
  const sum = f32x4.add(a, b);
  const clamped = f32x4.pmin(f32x4.pmax(sum, f32x4.splat(-FLT_MAX)), f32x4.splat(FLT_MAX));
  const hidden = v128.or(f32x4.eq(a, f32x4.splat(-Infinity)), f32x4.eq(b, f32x4.splat(-Infinity)));
  return v128.bitselect(sum, clamped, hidden);
}

// @ts-ignore: decorator
@inline
function saturatingAddScalar(a: f32, b: f32): f32 {
  const sum = a + b;
  if (sum == Infinity) return FLT_MAX;
  if (sum == -Infinity && a != -Infinity && b != -Infinity) return -FLT_MAX;
  return sum;
}

export function maskRanges(s: i32, lds: i32, rows: i32, cols: i32, firstKey: f64, ranges: i32): void {
  const colsF = <f64>cols;
  for (let r = 0; r < rows; r++) {
    const at = ptr(ranges) + ((<usize>r) << 3);
    // the twin's Math.min/max: a NaN bound masks nothing on its side (and a NaN start nothing at
    // all); a fractional bound hides the columns c < bound, hence the ceilings
    const lo = Math.min(Math.max(<f64>load<f32>(at) - firstKey, 0), colsF);
    const hi = Math.max(lo, Math.min(Math.max(<f64>load<f32>(at, 4) - firstKey, 0), colsF));
    const loI = lo == lo ? <i32>Math.ceil(lo) : 0;
    const hiI = hi == hi ? <i32>Math.ceil(hi) : cols;
    const row = rowAt(s, r, lds);
    hide(row, loI);
    hide(row + ((<usize>hiI) << 2), cols - hiI);
  }
}

export function addTile(s: i32, lds: i32, rows: i32, cols: i32, x: i32, ldx: i32): void {
  for (let r = 0; r < rows; r++) {
    let p = rowAt(s, r, lds);
    let q = rowAt(x, r, ldx);
    let c = 0;
    for (; c + 8 <= cols; c += 8) {
      v128.store(p, saturatingAdd(v128.load(p), v128.load(q)));
      v128.store(p, saturatingAdd(v128.load(p, 16), v128.load(q, 16)), 16);
      p += 32;
      q += 32;
    }
    if (c + 4 <= cols) {
      v128.store(p, saturatingAdd(v128.load(p), v128.load(q)));
      p += 16;
      q += 16;
      c += 4;
    }
    for (; c < cols; c++) {
      store<f32>(p, saturatingAddScalar(load<f32>(p), load<f32>(q)));
      p += 4;
      q += 4;
    }
  }
}

export function addAlibi(
  s: i32,
  lds: i32,
  rows: i32,
  cols: i32,
  slope: f64,
  firstQueryPos: f64,
  firstKey: f64,
): void {
  if (rows <= 0 || cols <= 0) return;
  const slope32 = <f32>slope;
  const vs = f32x4.splat(slope32);
  // With integer positions every distance is an integer, and the tile's corners bound them all.
  // Integer distances up to 2²⁴ are exact in float32 and slope32 · d (exact in float64) rounds once
  // either way, so the vector path is the twin's float64 product bit for bit; anything else (huge
  // or fractional positions) runs scalar.
  const nearest = firstKey - (firstQueryPos + <f64>(rows - 1));
  const farthest = firstKey + <f64>(cols - 1) - firstQueryPos;
  const vector =
    Math.floor(firstKey) == firstKey &&
    Math.floor(firstQueryPos) == firstQueryPos &&
    Math.abs(nearest) <= EXACT_DISTANCE &&
    Math.abs(farthest) <= EXACT_DISTANCE;
  const four = f32x4.splat(4);
  for (let r = 0; r < rows; r++) {
    const distance0 = firstKey - (firstQueryPos + <f64>r);
    let p = rowAt(s, r, lds);
    let c = 0;
    if (vector) {
      let d = f32x4.add(f32x4.splat(<f32>distance0), f32x4(0, 1, 2, 3));
      for (; c + 4 <= cols; c += 4) {
        v128.store(p, saturatingAdd(v128.load(p), f32x4.mul(vs, d)));
        d = f32x4.add(d, four);
        p += 16;
      }
    }
    for (; c < cols; c++) {
      const term = <f32>(<f64>slope32 * (distance0 + <f64>c));
      store<f32>(p, saturatingAddScalar(load<f32>(p), term));
      p += 4;
    }
  }
}

export function softcapScores(s: i32, lds: i32, rows: i32, cols: i32, cap: f64): void {
  const cap32 = <f32>cap;
  const vc = f32x4.splat(cap32);
  for (let r = 0; r < rows; r++) {
    let p = rowAt(s, r, lds);
    let c = 0;
    // x / cap is a true division (not a reciprocal product): the same float32 argument as the twin's
    for (; c + 4 <= cols; c += 4) {
      v128.store(p, f32x4.mul(vc, vtanh(f32x4.div(v128.load(p), vc))));
      p += 16;
    }
    for (; c < cols; c++) {
      const t = f32x4.extract_lane(vtanh(f32x4.splat(load<f32>(p) / cap32)), 0);
      store<f32>(p, cap32 * t);
      p += 4;
    }
  }
}
