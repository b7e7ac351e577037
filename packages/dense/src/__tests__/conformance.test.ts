/**
 * Dense through the shared conformance kit, on both backends.
 *
 * Tolerances (per element, vs the float64 oracle; outputs are convex combinations of v ~ N(0, 1),
 * so |out| <= max|v| ≈ 5 in these cases):
 * - backend 'js': the plain-TS kernels accumulate dot products, sums and P·V in float64 and round
 *   to float32 only when storing scores, weights and outputs, so the error is a few float32
 *   roundings of values up to ~5: 2^-24 · 5 ≈ 3e-7 each. atol 2e-6 allows ~6 of them (measured
 *   worst over the kit: 4.1e-7).
 * - default backend (wasm where SIMD validates): float32 (f32x4) accumulation over up to Dk = 128
 *   and Lk = 1025 terms adds about sqrt(n)·2^-24·|term sum| on top: up to ~32 · 6e-8 · 5 ≈ 1e-5
 *   for the longest sums, so atol 1e-5 (measured worst over the kit: 1.6e-6, on the scale-3 case).
 * Both are also held to the 2×-float32-dense rule inside the kit.
 */
import { describeVariant } from '@attnkit/core/testing';
import { startThreads, stopThreads } from '@attnkit/kernels';
import { measureArenaBytes } from '@attnkit/kernels/runtime';

// Thread determinism and workspace honesty run on the built package: pool workers import the built
// work modules by URL (turbo's test task builds first).
const pool = { threads: { start: startThreads, stop: stopThreads }, measureArenaBytes };

import { dense } from '../../dist/index.js';

describeVariant(dense, { tolerance: { atol: 2e-6, rtol: 0 }, options: { backend: 'js' }, ...pool });
describeVariant(dense, { tolerance: { atol: 1e-5, rtol: 0 }, ...pool });
