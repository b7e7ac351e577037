/** Shared test helpers: seeded inputs and an "agrees to tolerance" assertion with a useful message. */
import { randn, type Tensor, type Tolerance } from '@attnkit/core';

/**
 * Linear attention vs its float64 quadratic form. out is a convex combination of value rows
 * (weights φ(q)·φ(k)/(den + eps) >= 0 summing to at most 1), so |out| <= max|v| ≈ 4.5 for N(0, 1)
 * values at these sizes, and every float32 error is relative to that size:
 * - φ in float32: a few ulps for elu / relu; FAVOR+'s exponent w·x' − |x'|²/2 has an absolute error
 *   of about 2^-24·(|w·x'| + |x'|²/2) ≲ 2e-6 for N(0, 1) inputs, i.e. a 2e-6 relative feature error;
 * - sums of up to 1025 non-negative weights / weighted values, accumulated in float32 by the SIMD
 *   backend: typically √N·2^-24 ≈ 2e-6 relative, at worst N·2^-24 ≈ 6e-5.
 * So atol 2e-5 (≈ 4.5 × 4e-6) with rtol 1e-4 leaves a 5–10× margin over the typical float32 error
 * while a real bug (one key too many or too few, a wrong stabiliser, a wrong mask) moves outputs by
 * 1e-2 or more. Measured worst over the kit: js backend 9.5e-7, wasm backend 5.5e-6 (FAVOR+, d = 128).
 */
export const LINEAR_TOLERANCE: Tolerance = { atol: 2e-5, rtol: 1e-4 };

export function inputs(
  shapes: { q: number[]; k: number[]; v: number[] },
  seed: number,
  std = 1,
): { q: Tensor; k: Tensor; v: Tensor } {
  return {
    q: randn(shapes.q, seed * 3, std),
    k: randn(shapes.k, seed * 3 + 1, std),
    v: randn(shapes.v, seed * 3 + 2),
  };
}

/** The shared tolerance check (core/testing), under the name these tests use. */
export { expectWithin as expectClose } from '@attnkit/core/testing';

/** Concatenates [B, H, L_i, D] tensors along the sequence axis. */
export function concatSequence(parts: Tensor[]): Tensor {
  const [b, h, , d] = parts[0]!.shape as [number, number, number, number];
  const total = parts.reduce((sum, p) => sum + p.shape[2]!, 0);
  const data = new Float32Array(b * h * total * d);
  let start = 0;
  for (const part of parts) {
    const length = part.shape[2]!;
    for (let head = 0; head < b * h; head++) {
      data.set(part.data.subarray(head * length * d, (head + 1) * length * d), (head * total + start) * d);
    }
    start += length;
  }
  return { data, shape: [b, h, total, d] };
}

/** Rows [from, to) of the sequence axis of a [B, H, L, D] tensor. */
export function sliceSequence(t: Tensor, from: number, to: number): Tensor {
  const [b, h, length, d] = t.shape as [number, number, number, number];
  const data = new Float32Array(b * h * (to - from) * d);
  for (let head = 0; head < b * h; head++) {
    data.set(t.data.subarray((head * length + from) * d, (head * length + to) * d), head * (to - from) * d);
  }
  return { data, shape: [b, h, to - from, d] };
}
