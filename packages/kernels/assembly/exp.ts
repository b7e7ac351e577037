// Vectorised exp for f32x4 (Cephes expf scheme), shared by every row primitive.
//
// Algorithm: x = n·ln2 + r with n = round(x·log2 e) (magic-bias rounding, no float→int
// conversion) and r reduced in two steps (ln2 = C1 + C2, C1 exact in 9 bits so n·C1 is exact),
// |r| <= ln2/2; e^r ≈ 1 + r + r²·P(r) with Cephes' degree-5 P; 2^n is built in the exponent bits.
// Cost: about 20 SIMD instructions per 4 lanes; no memory.
//
// Accuracy against float64 (src/__tests__/wasm-exp.test.ts asserts <= 1.5 ulp): measured max
// 0.99 ulp, relative error 8.2e-8, over 16 M points of [-87, 88]; the same for the x <= 0 variant.
// Edge cases: exp(-Infinity) = 0 exactly; results below FLT_MIN·1.04 (x < -87.3) are 0 (general
// variant) or 0 / a denormal (x <= 0 variant, below -87.68 always 0); x > 88.7228 → +Infinity;
// NaN → NaN.

// @ts-ignore: decorator
@inline const LOG2E: f32 = 1.44269504088896341;
// @ts-ignore: decorator
@inline const LN2_HI: f32 = 0.693359375;
// @ts-ignore: decorator
@inline const LN2_LO: f32 = -2.12194440e-4;
// 1.5·2^23: adding it rounds to an integer kept in the low mantissa bits.
// @ts-ignore: decorator
@inline const MAGIC: f32 = 12582912.0;
// @ts-ignore: decorator
@inline const MAGIC_BITS: i32 = 0x4b400000;
// 1.5·2^23 + 127: the same rounding, leaving n + 127 (the biased exponent) in the low bits.
// nf = x·log2e + MAGIC_BIASED, so nf - MAGIC_BIASED = round(x·log2e) still, exactly.
// @ts-ignore: decorator
@inline const MAGIC_BIASED: f32 = 12583039.0;
// Lower clamp of the x <= 0 variant: n = round(-88·log2 e) = -127, the zero exponent field.
// @ts-ignore: decorator
@inline const NON_POSITIVE_CLAMP: f32 = -88.0;
// e^-87.3 ≈ 1.22e-38 is still normal; below it we return 0 instead of a denormal.
// @ts-ignore: decorator
@inline const UNDERFLOW_X: f32 = -87.3;
// Above ln(FLT_MAX) the result is +Infinity; 89 keeps n <= 128 for the two-factor scaling.
// @ts-ignore: decorator
@inline const OVERFLOW_CLAMP: f32 = 89.0;
// @ts-ignore: decorator
@inline const P0: f32 = 1.9875691500e-4;
// @ts-ignore: decorator
@inline const P1: f32 = 1.3981999507e-3;
// @ts-ignore: decorator
@inline const P2: f32 = 8.3334519073e-3;
// @ts-ignore: decorator
@inline const P3: f32 = 4.1665795894e-2;
// @ts-ignore: decorator
@inline const P4: f32 = 1.6666665459e-1;
// @ts-ignore: decorator
@inline const P5: f32 = 5.0000001201e-1;

/** e^r for the reduced argument, |r| <= ln2/2. */
// @ts-ignore: decorator
@inline
function expReduced(r: v128): v128 {
  let y = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P4));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P5));
  const r2 = f32x4.mul(r, r);
  return f32x4.add(f32x4.add(f32x4.mul(y, r2), r), f32x4.splat(1.0));
}

/**
 * exp for arguments known to be <= 0 (softmax after max subtraction, elu's negative side):
 * n lies in [-127, 0], so one exponent factor suffices, and the exponent bias 127 rides in the
 * magic constant: the rounded sum's low bits are already n + 127. Clamping x at -88 makes
 * n = -127 for everything below about -87.68, whose exponent field 0 builds the factor 0.0:
 * exp(-Infinity) = 0 exactly without a compare and mask. Between -87.68 and -87.34 the result is
 * a correctly scaled denormal.
 */
// @ts-ignore: decorator
@inline
export function vexpNonPositive(x: v128): v128 {
  // pmax keeps NaN (x < lo is false for NaN) and maps -Infinity to the clamp.
  const xc = f32x4.pmax(x, f32x4.splat(NON_POSITIVE_CLAMP));
  let nf = f32x4.add(f32x4.mul(xc, f32x4.splat(LOG2E)), f32x4.splat(MAGIC_BIASED));
  // subtracting the UNbiased magic's bits leaves n + 127
  const biased = i32x4.sub(nf, i32x4.splat(MAGIC_BITS));
  nf = f32x4.sub(nf, f32x4.splat(MAGIC_BIASED));
  let r = f32x4.sub(xc, f32x4.mul(nf, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(nf, f32x4.splat(LN2_LO)));
  return f32x4.mul(expReduced(r), i32x4.shl(biased, 23));
}

/** exp for any argument: 2^n is applied as 2^(n>>1)·2^(n - n>>1) so n = 128 still overflows to +Infinity correctly. */
// @ts-ignore: decorator
@inline
export function vexp(x: v128): v128 {
  const underflow = f32x4.lt(x, f32x4.splat(UNDERFLOW_X));
  let xc = f32x4.pmax(x, f32x4.splat(UNDERFLOW_X));
  xc = f32x4.pmin(xc, f32x4.splat(OVERFLOW_CLAMP));
  let nf = f32x4.add(f32x4.mul(xc, f32x4.splat(LOG2E)), f32x4.splat(MAGIC));
  const n = i32x4.sub(nf, i32x4.splat(MAGIC_BITS));
  nf = f32x4.sub(nf, f32x4.splat(MAGIC));
  let r = f32x4.sub(xc, f32x4.mul(nf, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(nf, f32x4.splat(LN2_LO)));
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  const scale1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const scale2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(f32x4.mul(expReduced(r), scale1), scale2), underflow);
}

/** Scalar exp through the same vector code (tails and single values stay bit-identical to the vector path). */
// @ts-ignore: decorator
@inline
export function sexp(x: f32): f32 {
  return f32x4.extract_lane(vexp(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline
export function sexpNonPositive(x: f32): f32 {
  return f32x4.extract_lane(vexpNonPositive(f32x4.splat(x)), 0);
}

/** Exported for the accuracy test: out[i] = exp(x[i]) over n floats (offsets in floats). */
export function expArray(x: i32, n: i32, out: i32): void {
  let px = (<usize>x) << 2;
  let po = (<usize>out) << 2;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    v128.store(po, vexp(v128.load(px)));
    px += 16;
    po += 16;
  }
  for (; i < n; i++) {
    store<f32>(po, sexp(load<f32>(px)));
    px += 4;
    po += 4;
  }
}

/** Exported for the accuracy test: out[i] = exp(x[i]) through the x <= 0 variant. */
export function expNonPositiveArray(x: i32, n: i32, out: i32): void {
  let px = (<usize>x) << 2;
  let po = (<usize>out) << 2;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    v128.store(po, vexpNonPositive(v128.load(px)));
    px += 16;
    po += 16;
  }
  for (; i < n; i++) {
    store<f32>(po, sexpNonPositive(load<f32>(px)));
    px += 4;
    po += 4;
  }
}
