/**
 * The shared conformance kit, run against linear attention's own float64 quadratic form
 * (exact: false, no lse: linear attention has no softmax normaliser), with the kit's document-mask
 * cases (the one mask feature linear runs) and its refusal check for every other feature. One run per feature map;
 * FAVOR+ with 32 features (the machinery is the same for any m, and the O(Lq·Lk·m) oracle stays
 * fast) and once with the default 256. Tolerance: see LINEAR_TOLERANCE.
 */
import { type ConformanceConfig, describeVariant } from '@attnkit/core/testing';
import { nativeUnavailableReason, startThreads, stopThreads } from '@attnkit/kernels';
import { measureArenaBytes } from '@attnkit/kernels/runtime';
import { describe, it } from 'vitest';

// Thread determinism and workspace honesty run on the built package: pool workers import the built
// work modules by URL (turbo's test task builds first).
const pool = { threads: { start: startThreads, stop: stopThreads }, measureArenaBytes };

import { linear, referenceLinearAttention } from '../../dist/index.js';
import { LINEAR_TOLERANCE } from './helpers.js';

const config = {
  tolerance: LINEAR_TOLERANCE,
  exact: false,
  lse: false,
  oracle: referenceLinearAttention,
  // documents only: every other mask term, modifier, bias and sinks must be refused naming its option
  maskSupport: ['document'],
} as const;

/**
 * The compiled backends with one tolerance: wasm, and native (packages/native, same float32
 * arithmetic in wider vectors) where its addon loaded; where it did not, a skipped suite names why.
 */
const NATIVE_UNAVAILABLE = nativeUnavailableReason();
function describeCompiled(config: ConformanceConfig): void {
  describeVariant(linear, { ...config, options: { ...config.options, backend: 'wasm' } });
  const native = { ...config, options: { ...config.options, backend: 'native' } };
  if (NATIVE_UNAVAILABLE === undefined) {
    describeVariant(linear, native);
  } else {
    describe.skip(`linear conformance ${JSON.stringify(native.options)} — native is unavailable: ${NATIVE_UNAVAILABLE}`, () => {
      it('skipped', () => {});
    });
  }
}

describeCompiled({ ...config, ...pool });
describeCompiled({ ...config, options: { featureMap: 'relu' } });
describeCompiled({ ...config, options: { featureMap: 'favor', features: 32, seed: 7 } });
describeCompiled({ ...config, options: { featureMap: 'favor' } });
describeVariant(linear, { ...config, options: { backend: 'js', chunkSize: 5 }, ...pool });
