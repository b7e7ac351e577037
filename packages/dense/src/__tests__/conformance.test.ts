/**
 * Dense through the shared conformance kit, on every backend (js, wasm, native).
 *
 * Tolerances (per element, vs the float64 oracle; outputs are convex combinations of v ~ N(0, 1),
 * so |out| <= max|v| ≈ 5 in these cases):
 * - backend 'js': the plain-TS kernels accumulate dot products, sums and P·V in float64 and round
 *   to float32 only when storing scores, weights and outputs, so the error is a few float32
 *   roundings of values up to ~5: 2^-24 · 5 ≈ 3e-7 each. atol 2e-6 allows ~6 of them (measured
 *   worst over the kit: 4.1e-7).
 * - compiled backends (wasm; native, 4 to 16 lanes): float32 (f32x4) accumulation over up to Dk = 128
 *   and Lk = 1025 terms adds about sqrt(n)·2^-24·|term sum| on top: up to ~32 · 6e-8 · 5 ≈ 1e-5
 *   for the longest sums, so atol 1e-5 (measured worst over the kit: 1.6e-6, on the scale-3 case).
 * Both are also held to the 2×-float32-dense rule inside the kit.
 */
import { type ConformanceConfig, describeVariant, MASK_FEATURES } from '@attnkit/core/testing';
import { nativeUnavailableReason, startThreads, stopThreads } from '@attnkit/kernels';
import { measureArenaBytes } from '@attnkit/kernels/runtime';
import { describe, it } from 'vitest';

// Thread determinism and workspace honesty run on the built package: pool workers import the built
// work modules by URL (turbo's test task builds first).
const pool = { threads: { start: startThreads, stop: stopThreads }, measureArenaBytes };
// Every mask, score modifier, bias and sinks (docs/design.md, Masks: who runs what).
const masks = { maskSupport: MASK_FEATURES };

import { dense } from '../../dist/index.js';

/**
 * The compiled backends with one tolerance: wasm, and native (packages/native, same float32
 * arithmetic in wider vectors) where its addon loaded; where it did not, a skipped suite names why.
 */
const NATIVE_UNAVAILABLE = nativeUnavailableReason();
function describeCompiled(config: ConformanceConfig): void {
  describeVariant(dense, { ...config, options: { ...config.options, backend: 'wasm' } });
  const native = { ...config, options: { ...config.options, backend: 'native' } };
  if (NATIVE_UNAVAILABLE === undefined) {
    describeVariant(dense, native);
  } else {
    describe.skip(`dense conformance ${JSON.stringify(native.options)} — native is unavailable: ${NATIVE_UNAVAILABLE}`, () => {
      it('skipped', () => {});
    });
  }
}

describeVariant(dense, { tolerance: { atol: 2e-6, rtol: 0 }, ...masks, options: { backend: 'js' }, ...pool });
describeCompiled({ tolerance: { atol: 1e-5, rtol: 0 }, ...masks, ...pool });
