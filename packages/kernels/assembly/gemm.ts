// Tile GEMMs: C[m×n] = alpha · op(A) · op(B) + beta · C for the three layouts attention needs
// (NT: scores = Q·Kᵀ; NN: O += P·V; TN: S += φ(K)ᵀ·V).
//
// Algorithm: k is cut in blocks of KC = 256; for each block and each 8-column panel of C, the
// matching KC × 8 slice of B is packed contiguously (transposed for NT) into this instance's
// scratch, then a 4 × 8 register-blocked micro-kernel walks down the rows: 8 f32x4 accumulators,
// per k step two vector loads of the panel and four splat loads of A, 8 mul + 8 add.
// Row-major A (NT, NN) is read in place (four row streams). Transposed A (TN) is packed too, in
// 32-row × 96-deep blocks of 4-row strips: read in place its rows lie lda apart, which with a
// large power-of-two lda aliases in L1 and misses the TLB (30 → 45-47 GFLOP/s at 1024×64×1024;
// packing row-major A as well cost NT/NN 3–5%, so they do not). The smaller TN blocks keep the
// whole scratch near 15 KiB, cache-friendlier (256×64 blocks measured the same within noise).
// Tails: short row groups repeat the last row (NT/NN) or are zero-padded (TN), column tails are
// zero-padded in the panel; their results are discarded by the store, which then writes lane by
// lane. beta == 0 overwrites C without reading it (later k blocks accumulate with beta = 1).
// gemmNT's score semantics (saturate, docs/design.md "Limits and non-finite values"): a row of 8
// results is checked for ±Infinity / NaN before it is stored; only such a row takes a scalar slow
// path that recomputes its non-finite entries in float64 and saturates ±Infinity to ±FLT_MAX, so a
// score is always finite or NaN and −Infinity keeps meaning "masked". With k > KC the recompute
// covers one k block, the earlier blocks entering as the (saturated) float32 value C holds.
// Time O(m·n·k); extra memory: the instance scratch (at most 15.1 KiB).
import { KC, KC_TN, MC_TN, SPILL_OFFSET, scratch, TN_PANEL_BYTES } from './scratch';

// @ts-ignore: decorator
@inline
function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** panel[p][c] = B[j0 + c][p0 + p] (B row-major [n × k], rows are the panel's columns), zero-padded to 8. */
function packTransposed(b: usize, ldbBytes: usize, nv: i32, kc: i32): void {
  let out = scratch;
  if (nv == 8) {
    let r0 = b;
    let p = 0;
    for (; p + 4 <= kc; p += 4) {
      const b0 = v128.load(r0);
      const b1 = v128.load(r0 + ldbBytes);
      const b2 = v128.load(r0 + 2 * ldbBytes);
      const b3 = v128.load(r0 + 3 * ldbBytes);
      const b4 = v128.load(r0 + 4 * ldbBytes);
      const b5 = v128.load(r0 + 5 * ldbBytes);
      const b6 = v128.load(r0 + 6 * ldbBytes);
      const b7 = v128.load(r0 + 7 * ldbBytes);
      // two 4×4 transposes: rows j0..j0+3 → lanes 0..3, rows j0+4..j0+7 → lanes 4..7
      const t0 = v128.shuffle<f32>(b0, b1, 0, 4, 1, 5);
      const t1 = v128.shuffle<f32>(b0, b1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(b2, b3, 0, 4, 1, 5);
      const t3 = v128.shuffle<f32>(b2, b3, 2, 6, 3, 7);
      const u0 = v128.shuffle<f32>(b4, b5, 0, 4, 1, 5);
      const u1 = v128.shuffle<f32>(b4, b5, 2, 6, 3, 7);
      const u2 = v128.shuffle<f32>(b6, b7, 0, 4, 1, 5);
      const u3 = v128.shuffle<f32>(b6, b7, 2, 6, 3, 7);
      v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(out, v128.shuffle<f32>(u0, u2, 0, 1, 4, 5), 16);
      v128.store(out, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
      v128.store(out, v128.shuffle<f32>(u0, u2, 2, 3, 6, 7), 48);
      v128.store(out, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
      v128.store(out, v128.shuffle<f32>(u1, u3, 0, 1, 4, 5), 80);
      v128.store(out, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
      v128.store(out, v128.shuffle<f32>(u1, u3, 2, 3, 6, 7), 112);
      out += 128;
      r0 += 16;
    }
    for (; p < kc; p++) {
      for (let c = 0; c < 8; c++) store<f32>(out + (<usize>c << 2), load<f32>(r0 + <usize>c * ldbBytes));
      out += 32;
      r0 += 4;
    }
    return;
  }
  for (let p = 0; p < kc; p++) {
    const src = b + (<usize>p << 2);
    let c = 0;
    for (; c < nv; c++) store<f32>(out + (<usize>c << 2), load<f32>(src + <usize>c * ldbBytes));
    for (; c < 8; c++) store<f32>(out + (<usize>c << 2), 0);
    out += 32;
  }
}

/** panel[p][c] = B[p0 + p][j0 + c] (B row-major [k × n]), zero-padded to 8. */
function packRows(b: usize, ldbBytes: usize, nv: i32, kc: i32): void {
  let out = scratch;
  let src = b;
  if (nv == 8) {
    for (let p = 0; p < kc; p++) {
      v128.store(out, v128.load(src));
      v128.store(out, v128.load(src, 16), 16);
      out += 32;
      src += ldbBytes;
    }
    return;
  }
  for (let p = 0; p < kc; p++) {
    let c = 0;
    for (; c < nv; c++) store<f32>(out + (<usize>c << 2), load<f32>(src + (<usize>c << 2)));
    for (; c < 8; c++) store<f32>(out + (<usize>c << 2), 0);
    out += 32;
    src += ldbBytes;
  }
}

/**
 * Packs rows [0, rows) × k steps [0, kc) of a TRANSPOSED A (element (i, p) at a + i·4 + p·aColStep)
 * into strips of 4 rows: strip s holds, for each k step, the 4 values A[4s..4s+3][p] side by side,
 * so the micro-kernel reads one contiguous stream instead of kc rows lda apart (with a
 * power-of-two lda those alias in L1 and miss the TLB). Rows past `rows` are zero.
 */
function packTransposedA(a: usize, aColStep: usize, rows: i32, kc: i32): void {
  let out = scratch + TN_PANEL_BYTES;
  for (let i = 0; i < rows; i += 4) {
    const valid = min(4, rows - i);
    let src = a + (<usize>i << 2);
    if (valid == 4) {
      for (let p = 0; p < kc; p++) {
        v128.store(out, v128.load(src));
        src += aColStep;
        out += 16;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < 4; r++) store<f32>(out + (<usize>r << 2), r < valid ? load<f32>(src + (<usize>r << 2)) : 0);
        src += aColStep;
        out += 16;
      }
    }
  }
}

/** The largest finite float32: where score products saturate. */
// @ts-ignore: decorator
@inline const FLT_MAX: f32 = 3.4028234663852886e38;

/** ±Infinity → ±FLT_MAX; NaN and finite values unchanged. */
// @ts-ignore: decorator
@inline
function saturated(x: f32): f32 {
  return x > FLT_MAX ? FLT_MAX : x < -FLT_MAX ? -FLT_MAX : x;
}

/**
 * The slow path of a saturating store (only reached when a result is ±Infinity or NaN): column j
 * of the tile recomputed in float64 from the block's A row (k-th element at aRow + k·aStep) and
 * the packed B panel, as alpha·Σ a·b + beta·old. Products of float32 values are exact in float64
 * and k·FLT_MAX² cannot overflow it, so finite inputs give the finite value (rounded, then
 * saturated): an intermediate +∞ − ∞ of the float32 sum never survives. Same order of terms as the
 * js twin, so both backends store the same value here (for k <= KC).
 */
function recomputed(aRow: usize, aStep: usize, kc: i32, j: i32, alpha: f64, beta: f64, old: f32): f32 {
  let dot: f64 = 0;
  let pa = aRow;
  let pb = scratch + (<usize>j << 2);
  for (let p = 0; p < kc; p++) {
    dot += <f64>load<f32>(pa) * <f64>load<f32>(pb);
    pa += aStep;
    pb += 32;
  }
  const t = beta == 0 ? alpha * dot : alpha * dot + beta * <f64>old;
  return saturated(<f32>t);
}

/** Stores the first nv lanes of r0|r1 at c, recomputing (see `recomputed`) those that are not finite. */
function storeRecomputed(
  c: usize,
  r0: v128,
  r1: v128,
  nv: i32,
  aRow: usize,
  aStep: usize,
  kc: i32,
  alpha: f64,
  beta: f64,
): void {
  const spill = scratch + SPILL_OFFSET;
  v128.store(spill, r0);
  v128.store(spill, r1, 16);
  for (let j = 0; j < nv; j++) {
    const o = c + (<usize>j << 2);
    let x = load<f32>(spill + (<usize>j << 2));
    // x − x is 0 for finite x, NaN for ±Infinity and NaN
    if (x - x != 0) x = recomputed(aRow, aStep, kc, j, alpha, beta, load<f32>(o));
    store<f32>(o, x);
  }
}

/**
 * Stores one row of a tile: C[0..nv) = alpha·v + beta·C. With `saturate` (gemmNT's score
 * semantics) a row holding any non-finite result takes the slow path instead; the check is two
 * subtractions, an or and a test per row of 8 (about 1 % of a 64-deep tile's work).
 */
// @ts-ignore: decorator
@inline
function storeRow(
  c: usize,
  v0: v128,
  v1: v128,
  nv: i32,
  alpha: f32,
  beta: f32,
  saturate: bool,
  aRow: usize,
  aStep: usize,
  kc: i32,
  alpha64: f64,
  beta64: f64,
): void {
  const va = f32x4.splat(alpha);
  let r0: v128;
  let r1: v128;
  if (nv == 8) {
    if (beta == 0) {
      r0 = f32x4.mul(v0, va);
      r1 = f32x4.mul(v1, va);
    } else {
      const vb = f32x4.splat(beta);
      r0 = f32x4.add(f32x4.mul(v0, va), f32x4.mul(v128.load(c), vb));
      r1 = f32x4.add(f32x4.mul(v1, va), f32x4.mul(v128.load(c, 16), vb));
    }
    if (saturate && v128.any_true(v128.or(f32x4.sub(r0, r0), f32x4.sub(r1, r1)))) {
      storeRecomputed(c, r0, r1, 8, aRow, aStep, kc, alpha64, beta64);
      return;
    }
    v128.store(c, r0);
    v128.store(c, r1, 16);
    return;
  }
  const spill = scratch + SPILL_OFFSET;
  v128.store(spill, v0);
  v128.store(spill, v1, 16);
  for (let j = 0; j < nv; j++) {
    const o = c + (<usize>j << 2);
    const t = load<f32>(spill + (<usize>j << 2)) * alpha;
    const x = beta == 0 ? t : t + beta * load<f32>(o);
    store<f32>(o, saturate && x - x != 0 ? recomputed(aRow, aStep, kc, j, alpha64, beta64, load<f32>(o)) : x);
  }
}

/**
 * One 4×8 tile of C over kc steps reading A in place: row r's k-th element is at ar + k·4
 * (row-major A; the four rows are separate streams).
 */
// @ts-ignore: decorator
@inline
function microKernel4x8Rows(
  kc: i32,
  a0: usize,
  a1: usize,
  a2: usize,
  a3: usize,
  c: usize,
  ldcBytes: usize,
  rows: i32,
  nv: i32,
  alpha: f32,
  beta: f32,
  saturate: bool,
  alpha64: f64,
  beta64: f64,
): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let pb = scratch;
  // the rows' starts, for the saturating store's slow path
  const row0 = a0;
  const row1 = a1;
  const row2 = a2;
  const row3 = a3;
  const end = a0 + (<usize>kc << 2);
  while (a0 < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let av = v128.load32_splat(a0);
    c00 = f32x4.add(c00, f32x4.mul(av, b0));
    c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(a1);
    c10 = f32x4.add(c10, f32x4.mul(av, b0));
    c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(a2);
    c20 = f32x4.add(c20, f32x4.mul(av, b0));
    c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(a3);
    c30 = f32x4.add(c30, f32x4.mul(av, b0));
    c31 = f32x4.add(c31, f32x4.mul(av, b1));
    a0 += 4;
    a1 += 4;
    a2 += 4;
    a3 += 4;
    pb += 32;
  }
  storeRow(c, c00, c01, nv, alpha, beta, saturate, row0, 4, kc, alpha64, beta64);
  if (rows > 1) storeRow(c + ldcBytes, c10, c11, nv, alpha, beta, saturate, row1, 4, kc, alpha64, beta64);
  if (rows > 2) storeRow(c + 2 * ldcBytes, c20, c21, nv, alpha, beta, saturate, row2, 4, kc, alpha64, beta64);
  if (rows > 3) storeRow(c + 3 * ldcBytes, c30, c31, nv, alpha, beta, saturate, row3, 4, kc, alpha64, beta64);
}

/**
 * One 4×8 tile of C over kc steps from a packed A strip (4 floats per k step) and the packed
 * B panel (8 floats per k step).
 */
// @ts-ignore: decorator
@inline
function microKernel4x8Packed(
  kc: i32,
  strip: usize,
  c: usize,
  ldcBytes: usize,
  rows: i32,
  nv: i32,
  alpha: f32,
  beta: f32,
): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let pb = scratch;
  let pa = strip;
  const end = strip + (<usize>kc << 4);
  while (pa < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let av = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(av, b0));
    c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(av, b0));
    c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(av, b0));
    c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(av, b0));
    c31 = f32x4.add(c31, f32x4.mul(av, b1));
    pa += 16;
    pb += 32;
  }
  // gemmTN keeps plain IEEE results: never saturates (the row arguments are unused)
  storeRow(c, c00, c01, nv, alpha, beta, false, strip, 16, kc, 0, 0);
  if (rows > 1) storeRow(c + ldcBytes, c10, c11, nv, alpha, beta, false, strip + 4, 16, kc, 0, 0);
  if (rows > 2) storeRow(c + 2 * ldcBytes, c20, c21, nv, alpha, beta, false, strip + 8, 16, kc, 0, 0);
  if (rows > 3) storeRow(c + 3 * ldcBytes, c30, c31, nv, alpha, beta, false, strip + 12, 16, kc, 0, 0);
}

/** C = beta · C for k == 0 (alpha · 0 = 0), never reading C when beta == 0. */
function scaleOnly(m: i32, n: i32, c: usize, ldcBytes: usize, beta: f32, saturate: bool): void {
  for (let i = 0; i < m; i++) {
    const row = c + <usize>i * ldcBytes;
    for (let j = 0; j < n; j++) {
      const o = row + (<usize>j << 2);
      const x: f32 = beta == 0 ? 0 : beta * load<f32>(o);
      store<f32>(o, saturate ? saturated(x) : x);
    }
  }
}

/** Packs the k block [p0, p0 + kc) of B's columns [j0, j0 + nv) into the panel. */
// @ts-ignore: decorator
@inline
function packB(transposedB: bool, b: usize, ldbBytes: usize, j0: i32, nv: i32, p0: i32, kc: i32): void {
  if (transposedB) packTransposed(b + <usize>j0 * ldbBytes + (<usize>p0 << 2), ldbBytes, nv, kc);
  else packRows(b + <usize>p0 * ldbBytes + (<usize>j0 << 2), ldbBytes, nv, kc);
}

/**
 * Row-major A (NT, NN): A is read in place, four row streams per micro-kernel; each B panel is
 * packed once per k block and swept down all rows.
 */
function gemmRowMajorA(
  transposedB: bool,
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  ldaBytes: usize,
  b: usize,
  ldbBytes: usize,
  c: usize,
  ldcBytes: usize,
  alpha64: f64,
  beta64: f64,
  saturate: bool,
): void {
  const lastRow = m - 1;
  const alpha = <f32>alpha64;
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    // later k blocks add to what the earlier ones stored
    const blockBeta64: f64 = p0 == 0 ? beta64 : 1;
    const blockBeta = <f32>blockBeta64;
    const aBlock = a + (<usize>p0 << 2);
    for (let j0 = 0; j0 < n; j0 += 8) {
      const nv = min(8, n - j0);
      packB(transposedB, b, ldbBytes, j0, nv, p0, kc);
      const cPanel = c + (<usize>j0 << 2);
      for (let i = 0; i < m; i += 4) {
        // row tails repeat the last row; its results are not stored
        const a0 = aBlock + <usize>i * ldaBytes;
        const a1 = aBlock + <usize>min(i + 1, lastRow) * ldaBytes;
        const a2 = aBlock + <usize>min(i + 2, lastRow) * ldaBytes;
        const a3 = aBlock + <usize>min(i + 3, lastRow) * ldaBytes;
        microKernel4x8Rows(
          kc,
          a0,
          a1,
          a2,
          a3,
          cPanel + <usize>i * ldcBytes,
          ldcBytes,
          min(4, m - i),
          nv,
          alpha,
          blockBeta,
          saturate,
          alpha64,
          blockBeta64,
        );
      }
    }
  }
}

/** Transposed A (TN): MC_TN × KC_TN blocks of A are packed into 4-row strips, then every B panel sweeps them. */
function gemmTransposedA(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  ldaBytes: usize,
  b: usize,
  ldbBytes: usize,
  c: usize,
  ldcBytes: usize,
  alpha: f32,
  beta: f32,
): void {
  for (let p0 = 0; p0 < k; p0 += KC_TN) {
    const kc = min(KC_TN, k - p0);
    const blockBeta: f32 = p0 == 0 ? beta : 1;
    const aBlock = a + <usize>p0 * ldaBytes;
    for (let i0 = 0; i0 < m; i0 += MC_TN) {
      const mc = min(MC_TN, m - i0);
      packTransposedA(aBlock + (<usize>i0 << 2), ldaBytes, mc, kc);
      const cBlock = c + <usize>i0 * ldcBytes;
      for (let j0 = 0; j0 < n; j0 += 8) {
        const nv = min(8, n - j0);
        packB(false, b, ldbBytes, j0, nv, p0, kc);
        const cPanel = cBlock + (<usize>j0 << 2);
        let strip = scratch + TN_PANEL_BYTES;
        for (let i = 0; i < mc; i += 4) {
          microKernel4x8Packed(kc, strip, cPanel + <usize>i * ldcBytes, ldcBytes, min(4, mc - i), nv, alpha, blockBeta);
          strip += <usize>kc << 4;
        }
      }
    }
  }
}

/**
 * C[m×n] = alpha · A[m×k] · B[n×k]ᵀ + beta · C. Offsets and strides in floats. alpha and beta
 * arrive as float64: the fast path uses them rounded to float32, the saturating slow path as given
 * (a scale above FLT_MAX still gives finite scores). saturate: results that are ±Infinity become
 * ±FLT_MAX, non-finite results are recomputed in float64 first (see `recomputed`).
 */
export function gemmNT(
  m: i32,
  n: i32,
  k: i32,
  a: i32,
  lda: i32,
  b: i32,
  ldb: i32,
  c: i32,
  ldc: i32,
  alpha: f64,
  beta: f64,
  saturate: bool,
): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scaleOnly(m, n, (<usize>c) << 2, (<usize>ldc) << 2, <f32>beta, saturate);
  gemmRowMajorA(true, m, n, k, (<usize>a) << 2, (<usize>lda) << 2, (<usize>b) << 2, (<usize>ldb) << 2, (<usize>c) << 2, (<usize>ldc) << 2, alpha, beta, saturate);
}

/** C[m×n] = alpha · A[m×k] · B[k×n] + beta · C. */
export function gemmNN(m: i32, n: i32, k: i32, a: i32, lda: i32, b: i32, ldb: i32, c: i32, ldc: i32, alpha: f32, beta: f32): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scaleOnly(m, n, (<usize>c) << 2, (<usize>ldc) << 2, beta, false);
  gemmRowMajorA(false, m, n, k, (<usize>a) << 2, (<usize>lda) << 2, (<usize>b) << 2, (<usize>ldb) << 2, (<usize>c) << 2, (<usize>ldc) << 2, alpha, beta, false);
}

/** C[m×n] = alpha · A[k×m]ᵀ · B[k×n] + beta · C. */
export function gemmTN(m: i32, n: i32, k: i32, a: i32, lda: i32, b: i32, ldb: i32, c: i32, ldc: i32, alpha: f32, beta: f32): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scaleOnly(m, n, (<usize>c) << 2, (<usize>ldc) << 2, beta, false);
  gemmTransposedA(m, n, k, (<usize>a) << 2, (<usize>lda) << 2, (<usize>b) << 2, (<usize>ldb) << 2, (<usize>c) << 2, (<usize>ldc) << 2, alpha, beta);
}
