/**
 * Feature maps φ on rows that sit in the engine's arena (row stride headDim in, `features` out).
 *
 * - 'elu':   φ(x) = elu(x) + 1, elementwise on x as given (Katharopoulos et al. 2020). m = d.
 * - 'relu':  φ(x) = max(x, 0), elementwise on x as given. m = d.
 *   Query rows of both (queryFeatures) whose largest feature exceeds 2^32 are multiplied by the
 *   power of two that brings it into [2^31, 2^32): exact in float32, and a per-row factor cancels
 *   between numerator φ(q)·S and denominator φ(q)·z, so finite inputs stay finite (q, k ≈ 1e19
 *   made φ(q)·φ(k) ≈ 1e38·d overflow: NaN, where the output is a mean of value rows). Limits,
 *   docs/design.md "Limits and non-finite values": the guard eps then weighs 2^e times more in that
 *   row (out = num / (den + eps·2^e)), negligible unless the scaled den is below ~1e3·eps, i.e. the
 *   keys have next to no weight on the query's large features; and the key side is not scaled, so
 *   n·m·max φ(k)·max|v| must stay below 2^96 (S, z and φ(q)·S representable).
 * - 'favor': φ(x)_l = exp(w_l·x' − |x'|²/2 − stabiliser) / √m with x' = x·√scale (x / d^¼ for the
 *   default scale), W the projection of favor-projection.ts, so that E[φ(q)·φ(k)] = exp(scale·q·k)
 *   up to the stabilisers, which are constants that cancel between numerator and denominator:
 *   - queries: per row, the max over l of the whole exponent w_l·x' − |x'|²/2, so the row's largest
 *     feature is exactly 1/√m and |x'|²/2 drops out (it is part of the per-row constant);
 *   - keys: one value per head, the max over the keys seen so far and all l of w_l·x' − |x'|²/2,
 *     kept as a running max (head-group.ts), so no key is measured against a later one.
 *   The Performer code subtracts max(w·x') only and keeps −|x'|²/2, which can push every feature of
 *   a long key below float32's range; subtracting the max of the whole exponent bounds the exponents
 *   by 0 and makes the largest key feature exactly 1/√m, so a head can never underflow to all zeros.
 *   A negative scale is honoured with x'_q = q·√|s| and x'_k = −k·√|s| (then x'_q·x'_k = s·q·k).
 * Time: elu/relu O(rows·d); FAVOR+ O(rows·m·d) (one gemmNT). Extra memory: none (callers' scratch).
 */
import type { Engine } from '@attnkit/kernels';
import type { FeatureMap } from './options.js';

/** Where a call's feature map reads its constants (numbers and arena offsets only). */
export interface FeatureMapPlan {
  readonly featureMap: FeatureMap;
  readonly headDim: number;
  /** m: features per row (= headDim for elu / relu). */
  readonly features: number;
  /** Arena offset of W [m × d] (FAVOR+), −1 otherwise. */
  readonly projection: number;
  /** x'_q = q · querySqrtScale. */
  readonly querySqrtScale: number;
  /** x'_k = k · keySqrtScale (negative when scale is). */
  readonly keySqrtScale: number;
  /** |x'|²/2 = halfScale · |x|². */
  readonly halfScale: number;
  /** 1/√m. */
  readonly featureFactor: number;
  /**
   * elu / relu: whether query rows may hold a feature above ROW_LIMIT and must be bounded
   * (boundQueryRows). True unless the caller has checked the queries (queriesNeedBound).
   */
  readonly boundQueries: boolean;
}

/**
 * The plan for a call: `projection` is the arena offset where the caller placed W (FAVOR+) or −1.
 * `scale` is the softmax scale FAVOR+ estimates; elu / relu ignore it (they refuse a user scale).
 */
export function featureMapPlan(
  featureMap: FeatureMap,
  headDim: number,
  features: number,
  scale: number,
  projection: number,
  boundQueries = true,
): FeatureMapPlan {
  const root = Math.sqrt(Math.abs(scale));
  return {
    featureMap,
    headDim,
    features,
    projection,
    querySqrtScale: root,
    keySqrtScale: scale < 0 ? -root : root,
    halfScale: Math.abs(scale) / 2,
    featureFactor: 1 / Math.sqrt(features),
    boundQueries,
  };
}

/**
 * Whether any of the `count` query floats at `x` can give an elu / relu feature above ROW_LIMIT:
 * both maps are at most max(x, 0) + 1, so one max over all of them (one call per head group instead
 * of one bound per chunk) settles it. `scratch` holds one float.
 */
export function queriesNeedBound(engine: Engine, x: number, count: number, scratch: number): boolean {
  if (count === 0) return false;
  engine.ops.rowMax(x, count, 1, count, scratch);
  const max = engine.arena.heap[scratch]!;
  return !(max <= ROW_LIMIT - 1); // NaN too: bounding leaves it as it is
}

/** φ of `rows` query rows at `x` into `phi` [rows × m]; `rowStat` is scratch for `rows` floats. */
export function queryFeatures(
  engine: Engine,
  plan: FeatureMapPlan,
  x: number,
  rows: number,
  phi: number,
  rowStat: number,
): void {
  const { ops } = engine;
  const d = plan.headDim;
  const m = plan.features;
  if (plan.featureMap === 'favor') {
    // a projection, not a score: plain float32 (no saturation)
    ops.gemmNT(rows, m, d, x, d, plan.projection, d, phi, m, plan.querySqrtScale, 0, false);
    // the per-row max of w·x' is the per-row max of the whole exponent minus |x'|²/2
    ops.rowMax(phi, m, rows, m, rowStat);
    ops.expShiftRows(phi, m, rows, m, rowStat, 0, plan.featureFactor);
    return;
  }
  elementwiseFeatures(engine, plan.featureMap, x, rows * d, phi);
  if (plan.boundQueries) boundQueryRows(engine, phi, rows, m, rowStat);
}

/** Rows whose largest feature is above this are scaled down (see the file comment). */
const ROW_LIMIT = 2 ** 32;

/**
 * Multiplies each row of phi [rows × m] whose max exceeds ROW_LIMIT by 2^-e, e the power of two
 * that brings the max into [2^31, 2^32); `rowStat` is scratch for `rows` floats. A row with an
 * infinite feature is left alone (infinite inputs are outside "finite stays finite").
 * Time O(rows·m) (rowMax, and divideRows only when some row needs it); no memory.
 */
function boundQueryRows(engine: Engine, phi: number, rows: number, m: number, rowStat: number): void {
  const { ops } = engine;
  ops.rowMax(phi, m, rows, m, rowStat);
  const heap = engine.arena.heap;
  let scaled = false;
  for (let r = 0; r < rows; r++) {
    const max = heap[rowStat + r]!;
    if (max > ROW_LIMIT && max < Number.POSITIVE_INFINITY) {
      let e = Math.floor(Math.log2(max));
      if (2 ** e > max) e--; // log2 may round up across a power of two
      heap[rowStat + r] = 2 ** (e - 31);
      scaled = true;
    } else {
      heap[rowStat + r] = 1;
    }
  }
  // x / (2^(e − 31) + 0): the reciprocal and the product are exact powers of two
  if (scaled) ops.divideRows(phi, m, rows, m, rowStat, 0);
}

/** φ of n contiguous values at x into phi (elu / relu: elementwise, so rows need no stride). */
export function elementwiseFeatures(
  engine: Engine,
  featureMap: FeatureMap,
  x: number,
  n: number,
  phi: number,
): void {
  engine.arena.heap.copyWithin(phi, x, x + n);
  if (featureMap === 'elu') engine.ops.eluPlusOne(phi, n);
  else engine.ops.relu(phi, n);
}

/**
 * FAVOR+ key exponents before the shift: phi[j][l] = w_l·x'_j, diag[j] = |x'_j|²/2 for `rows` rows.
 * Returns the head's stabiliser candidate max_j (max_l phi[j][l] − diag[j]) (−Infinity for 0 rows).
 */
export function favorKeyLogits(
  engine: Engine,
  plan: FeatureMapPlan,
  x: number,
  rows: number,
  phi: number,
  rowStat: number,
  diag: number,
): number {
  const { ops } = engine;
  const d = plan.headDim;
  const m = plan.features;
  if (rows === 0) return Number.NEGATIVE_INFINITY;
  ops.gemmNT(rows, m, d, x, d, plan.projection, d, phi, m, plan.keySqrtScale, 0, false);
  ops.rowMax(phi, m, rows, m, rowStat);
  ops.rowSquaredNorms(x, d, rows, d, diag, plan.halfScale);
  const heap = engine.arena.heap;
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < rows; j++) {
    const exponent = heap[rowStat + j]! - heap[diag + j]!;
    if (exponent > max) max = exponent;
  }
  return max;
}

/** FAVOR+ keys, second half: phi[j][l] = exp(phi[j][l] − diag[j] − stabiliser) / √m. */
export function favorKeyExp(
  engine: Engine,
  plan: FeatureMapPlan,
  phi: number,
  rows: number,
  diag: number,
  stabiliser: number,
): void {
  if (rows === 0) return;
  engine.ops.expShiftRows(phi, plan.features, rows, plan.features, diag, stabiliser, plan.featureFactor);
}
