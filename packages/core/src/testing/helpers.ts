/**
 * Small test helpers every package's tests share (so no package keeps its own copy): seeded
 * attention inputs, a tolerance check that prints the error statistics, and catching the
 * AttentionInputError a call must throw.
 */
import { expect } from 'vitest';
import { errorStats, formatErrorStats, type Tolerance } from '../accuracy.js';
import { AttentionInputError } from '../errors.js';
import { naiveFloat32Attention } from '../naive.js';
import { referenceAttention } from '../oracle.js';
import { randn } from '../tensor.js';
import type { AttentionOptions, Tensor } from '../types.js';
import { twoXRule } from './rules.js';

/**
 * The tolerance of a materialising variant (scores, softmax, P·V) against the float64 oracle on
 * N(0, 1) inputs: logits are O(√Dk · scale) = O(1), each float32 score is rounded once (≈ 6e-8
 * relative), and outputs are O(1) weighted means of N(0, 1) values, so 2e-6 absolute (≈ 30 float32
 * ulps at 1) plus 1e-5 relative covers the rounding with a wide margin while still catching any wrong
 * mask or a missed key.
 */
export const MATERIALISED_TOLERANCE: Tolerance = { atol: 2e-6, rtol: 1e-5 };

/**
 * The tolerance of a KV-cache decode step against the full pass over the same keys: the same float32
 * dot products, maxima and sums, only summed in another order (which masked, exactly-zero columns
 * share a block, ring order, SIMD lanes). For at most 64 terms that is ≤ 64 · 2^-24 ≈ 4e-6 relative,
 * so 1e-5 absolute and relative is a tight, honest bound.
 */
export const DECODE_TOLERANCE: Tolerance = { atol: 1e-5, rtol: 1e-5 };

/** q [b, hq, lq, dk], k [b, hkv, lk, dk], v [b, hkv, lk, dv], N(0, 1) from seeds seed, seed + 1, seed + 2. */
export function attentionInputs(
  b: number,
  hq: number,
  hkv: number,
  lq: number,
  lk: number,
  dk: number,
  dv = dk,
  seed = 7,
): { q: Tensor; k: Tensor; v: Tensor } {
  return {
    q: randn([b, hq, lq, dk], seed),
    k: randn([b, hkv, lk, dk], seed + 1),
    v: randn([b, hkv, lk, dv], seed + 2),
  };
}

/** Every element within atol + rtol·|expected|; the failure message carries the error statistics. */
export function expectWithin(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
  what = 'values',
): void {
  const stats = errorStats(actual, expected, tolerance);
  expect(
    stats.failing,
    `${what}: ${formatErrorStats(stats)} (atol ${tolerance.atol}, rtol ${tolerance.rtol})`,
  ).toBe(0);
}

/**
 * A decode result against the float64 oracle of the same call: within DECODE_TOLERANCE and within
 * the 2× rule (twice the plain float32 path's error, docs/design.md).
 */
export function expectDecodeOracle(
  out: Float32Array,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
  what: string,
): void {
  const reference = referenceAttention(q, k, v, options);
  expectWithin(out, reference.out, DECODE_TOLERANCE, what);
  const rule = twoXRule(naiveFloat32Attention(q, k, v, options), reference.out);
  const error = errorStats(out, reference.out).maxAbs;
  expect(error, `${what}: max error ${error} vs the 2× rule's bound ${rule.bound}`).toBeLessThanOrEqual(
    rule.bound,
  );
}

/** The AttentionInputError `call` throws (the test fails when it throws nothing or something else). */
export function thrownInputError(call: () => unknown): AttentionInputError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(AttentionInputError);
    return error as AttentionInputError;
  }
  throw new Error('expected an AttentionInputError, nothing was thrown');
}
