/**
 * The acceptance rules of the conformance kit (docs/design.md, Accuracy) as plain functions, so a
 * test that builds its own cases (the harness's fuzz test) holds variants to exactly the kit's rules
 * instead of a copy of them: the 2× rule with its floor, the default lse tolerance, and bitwise
 * comparison. No vitest here: callers assert on the results.
 */
import { errorStats, type Tolerance } from '../accuracy.js';

/**
 * The floor of the 2× rule, relative to the largest |ref|: 8 float32 ulps. It only matters when the
 * naive path happens to be (almost) exact, e.g. a single visible key, where a correct method may
 * still differ by a few roundings (x / sum vs x · (1 / sum), f32x4 partial sums).
 */
export const TWO_X_RULE_FLOOR_ULPS = 8 * 2 ** -24;

/** The largest finite |x| (0 when there is none): the scale of the 2× rule's floor. */
export function maxAbsFinite(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const x = Math.abs(values[i]!);
    if (x > max && Number.isFinite(x)) max = x;
  }
  return max;
}

export interface TwoXRule {
  /** The naive float32 path's largest absolute error against the reference. */
  naiveMaxAbs: number;
  /** 2 × naiveMaxAbs + TWO_X_RULE_FLOOR_ULPS · max|ref|: the most an exact variant may be off. */
  bound: number;
}

/**
 * The 2× rule's bound for one input: `naive` is naiveFloat32Attention's output on it, `reference`
 * the float64 oracle's. An exact variant passes when its largest absolute error is at most `bound`.
 */
export function twoXRule(naive: ArrayLike<number>, reference: ArrayLike<number>): TwoXRule {
  const naiveMaxAbs = errorStats(naive, reference).maxAbs;
  return { naiveMaxAbs, bound: 2 * naiveMaxAbs + TWO_X_RULE_FLOOR_ULPS * maxAbsFinite(reference) };
}

/**
 * The lse tolerance when a test declares none: the output's atol, and rtol at least 2^-20, since lse
 * is stored in float32 and can be as large as the scores (±1e4 in the large-logit cases), so a few
 * float32 ulps of its own magnitude are the least any float32 method can promise.
 */
export function defaultLseTolerance(tolerance: Tolerance): Tolerance {
  return { atol: tolerance.atol, rtol: Math.max(tolerance.rtol, 2 ** -20) };
}

/** Index of the first element whose bits differ (so 0 vs −0 differ; NaN payloads aside), or −1. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}
