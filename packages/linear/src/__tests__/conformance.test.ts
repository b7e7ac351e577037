/**
 * The shared conformance kit, run against linear attention's own float64 quadratic form
 * (exact: false, no lse: linear attention has no softmax normaliser). One run per feature map;
 * FAVOR+ with 32 features (the machinery is the same for any m, and the O(Lq·Lk·m) oracle stays
 * fast) and once with the default 256. Tolerance: see LINEAR_TOLERANCE.
 */
import { describeVariant } from '@attnkit/core/testing';
import { startThreads, stopThreads } from '@attnkit/kernels';
import { measureArenaBytes } from '@attnkit/kernels/runtime';

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
} as const;

describeVariant(linear, { ...config, ...pool });
describeVariant(linear, { ...config, options: { featureMap: 'relu' } });
describeVariant(linear, { ...config, options: { featureMap: 'favor', features: 32, seed: 7 } });
describeVariant(linear, { ...config, options: { featureMap: 'favor' } });
describeVariant(linear, { ...config, options: { backend: 'js', chunkSize: 5 }, ...pool });
