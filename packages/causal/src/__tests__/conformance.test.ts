/**
 * Core's conformance kit (docs/design.md, Accuracy) on the causal variant: it runs every causal case of the table
 * (non-causal ones must be refused: the variant keeps the shared meaning of options.causal).
 * Tolerances vs the float64 oracle (inputs N(0, 1), so |out| <= max|v| ≈ 5):
 * - backend 'js': the plain-TS kernels accumulate dot products, sums and P·V in float64 and round to
 *   float32 only when storing scores, weights and outputs: a few roundings of values up to ~5,
 *   2^-24 · 5 ≈ 3e-7 each; atol 2e-6 allows ~6 of them.
 * - compiled backends (wasm; native, whose float32 lanes are 4 to 16 wide): f32x4 accumulation over up to Dk = 128 and
 *   Lk = 1025 terms adds about sqrt(n) · 2^-24 · |term sum| ≈ 32 · 6e-8 · 5 ≈ 1e-5, so 2e-5.
 * Odd block sizes (7, and 1) put tile edges everywhere. The kit also applies the 2×-float32-dense
 * rule, determinism, out/lse handling and every malformed-input class.
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

import { causal } from '../../dist/index.js';

/**
 * The compiled backends with one tolerance: wasm, and native (packages/native, same float32
 * arithmetic in wider vectors) where its addon loaded; where it did not, a skipped suite names why.
 */
const NATIVE_UNAVAILABLE = nativeUnavailableReason();
function describeCompiled(config: ConformanceConfig): void {
  describeVariant(causal, { ...config, options: { ...config.options, backend: 'wasm' } });
  const native = { ...config, options: { ...config.options, backend: 'native' } };
  if (NATIVE_UNAVAILABLE === undefined) {
    describeVariant(causal, native);
  } else {
    describe.skip(`causal conformance ${JSON.stringify(native.options)} — native is unavailable: ${NATIVE_UNAVAILABLE}`, () => {
      it('skipped', () => {});
    });
  }
}

describeVariant(causal, {
  tolerance: { atol: 2e-6, rtol: 0 },
  ...masks,
  options: { backend: 'js' },
  ...pool,
});
describeVariant(causal, {
  tolerance: { atol: 2e-6, rtol: 0 },
  ...masks,
  options: { backend: 'js', blockQ: 7 },
});
describeCompiled({ tolerance: { atol: 2e-5, rtol: 0 }, ...masks, ...pool });
describeCompiled({ tolerance: { atol: 2e-5, rtol: 0 }, ...masks, options: { blockQ: 1 } });
