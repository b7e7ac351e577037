/**
 * Error statistics between a result and a reference, shared by tests and the harness.
 * Equal values (including equal infinities, e.g. lse = −Infinity of an empty row) have zero
 * error; a NaN on either side, or unequal infinities, have infinite error and always fail.
 * Time O(n); memory O(1).
 */
import { AttentionInputError } from './errors.js';

/** Per element, |actual − expected| <= atol + rtol·|expected| passes. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface ErrorStats {
  count: number;
  maxAbs: number;
  maxRel: number;
  rms: number;
  /** Index of the largest absolute error (−1 when count is 0). */
  worstIndex: number;
  worstActual: number;
  worstExpected: number;
  /** Elements with |a − e| > atol + rtol·|e|; NaN counts as failing. */
  failing: number;
}

export function errorStats(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance = { atol: 0, rtol: 0 },
): ErrorStats {
  if (actual.length !== expected.length) {
    throw new AttentionInputError(
      'actual',
      `${expected.length} values (as expected)`,
      `${actual.length} values`,
      'Compare arrays of the same length.',
    );
  }
  const count = actual.length;
  let maxAbs = 0;
  let maxRel = 0;
  let sumSquares = 0;
  let worstIndex = count > 0 ? 0 : -1;
  let failing = 0;
  for (let i = 0; i < count; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    // a === e covers equal infinities; anything else non-finite (NaN, ∞ vs finite) is infinitely wrong.
    const abs =
      a === e ? 0 : Number.isFinite(a) && Number.isFinite(e) ? Math.abs(a - e) : Number.POSITIVE_INFINITY;
    const rel = abs === 0 ? 0 : e === 0 ? Number.POSITIVE_INFINITY : abs / Math.abs(e);
    if (abs > maxAbs) {
      maxAbs = abs;
      worstIndex = i;
    }
    if (rel > maxRel) maxRel = rel;
    sumSquares += abs * abs;
    if (abs !== 0 && !(abs <= tolerance.atol + tolerance.rtol * Math.abs(e))) failing++;
  }
  const safeWorst = Math.max(worstIndex, 0);
  return {
    count,
    maxAbs,
    maxRel,
    rms: count > 0 ? Math.sqrt(sumSquares / count) : 0,
    worstIndex,
    worstActual: count > 0 ? actual[safeWorst]! : Number.NaN,
    worstExpected: count > 0 ? expected[safeWorst]! : Number.NaN,
    failing,
  };
}

function short(x: number): string {
  if (!Number.isFinite(x) || x === 0) return String(x);
  return Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6 ? x.toExponential(3) : Number(x.toPrecision(6)).toString();
}

/** "3 of 4096 failing; worst at 17: got 0.51, expected 0.5 (abs 0.01, max rel 0.02, rms 1e-3)" */
export function formatErrorStats(stats: ErrorStats): string {
  return (
    `${stats.failing} of ${stats.count} failing; worst at ${stats.worstIndex}: ` +
    `got ${short(stats.worstActual)}, expected ${short(stats.worstExpected)} ` +
    `(abs ${short(stats.maxAbs)}, max rel ${short(stats.maxRel)}, rms ${short(stats.rms)})`
  );
}
