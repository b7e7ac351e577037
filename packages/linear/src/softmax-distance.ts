/**
 * How far linear attention is from softmax attention on given inputs: a reported metric (docs/design.md, Accuracy),
 * not a pass/fail check. Compares linearAttention's float32 output with core's float64 softmax
 * oracle (referenceAttention) on the same mask; the softmax side uses options.scale for FAVOR+
 * (the scale it estimates) and the default 1/√d for elu / relu (which take no scale).
 * Time: one linearAttention call plus one O(B·Hq·Lq·Lk·(d + dv)) oracle call.
 */
import { type ErrorStats, errorStats, referenceAttention, type Tensor } from '@attnkit/core';
import { linearAttention } from './linear-attention.js';
import { FEATURE_MAPS, type FeatureMap, type LinearOptions } from './options.js';

export interface SoftmaxDistance {
  readonly featureMap: FeatureMap;
  /** max_i |linear_i − softmax_i|. */
  readonly maxAbs: number;
  /** √(mean (linear_i − softmax_i)²). */
  readonly rms: number;
  /** core's full error statistics (worst index, values, …). */
  readonly stats: ErrorStats;
}

/** Distance of linearAttention(q, k, v, options) (featureMap from options) from softmax attention. */
export function distanceFromSoftmax(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: LinearOptions = {},
): SoftmaxDistance {
  const out = linearAttention(q, k, v, options);
  const { causal, window, kvLengths, scale } = options;
  const softmax = referenceAttention(q, k, v, { causal, window, kvLengths, scale });
  const stats = errorStats(out.data, softmax.out);
  return { featureMap: options.featureMap ?? 'elu', maxAbs: stats.maxAbs, rms: stats.rms, stats };
}

/**
 * The distance for every feature map on the same inputs and mask. `options` holds the mask and the
 * FAVOR+ knobs (features, seed, scale), which are passed to the 'favor' run only.
 */
export function distancesFromSoftmax(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: Omit<LinearOptions, 'featureMap'> = {},
): Record<FeatureMap, SoftmaxDistance> {
  const { features, seed, scale, ...common } = options;
  const result = {} as Record<FeatureMap, SoftmaxDistance>;
  for (const featureMap of FEATURE_MAPS) {
    const own: LinearOptions =
      featureMap === 'favor' ? { ...common, featureMap, features, seed, scale } : { ...common, featureMap };
    result[featureMap] = distanceFromSoftmax(q, k, v, own);
  }
  return result;
}
