/**
 * distanceFromSoftmax compares with softmax attention on the same mask: with identical keys every
 * map's weights are equal, so linear attention IS softmax attention (the mean of the visible
 * values) and the distance must vanish for every mask; with distinct keys it is positive.
 * (relu needs φ(q)·φ(k) > 0 for that: keys are made positive and each query's first entry too.)
 */
import { randn } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { distanceFromSoftmax, distancesFromSoftmax, FEATURE_MAPS } from '../index.js';

describe('distance from softmax attention', () => {
  const shape = [2, 2, 24, 6];
  const q = randn(shape, 70);
  const v = randn(shape, 72);
  const sameKeys = randn(shape, 71);
  // every key of a head equal to that head's first key, made positive
  for (let head = 0; head < 4; head++) {
    const firstKey = sameKeys.data.slice(head * 24 * 6, (head * 24 + 1) * 6);
    for (let j = 0; j < 24; j++) {
      for (let c = 0; c < 6; c++) sameKeys.data[(head * 24 + j) * 6 + c] = Math.abs(firstKey[c]!) + 0.1;
      q.data[(head * 24 + j) * 6] = Math.abs(q.data[(head * 24 + j) * 6]!) + 0.1;
    }
  }

  for (const options of [
    {},
    { causal: true },
    { kvLengths: [24, 3] },
    { causal: true, kvLengths: [10, 0] },
  ]) {
    it(`identical keys → 0 for every map, ${JSON.stringify(options)}`, () => {
      const all = distancesFromSoftmax(q, sameKeys, v, { ...options, features: 32 });
      for (const featureMap of FEATURE_MAPS) {
        expect(all[featureMap].featureMap).toBe(featureMap);
        // float32 path vs float64 softmax of the same mean: a few ulps of |v| <= 4.5
        expect(all[featureMap].maxAbs, featureMap).toBeLessThan(1e-5);
      }
    });
  }

  it('distinct keys → a positive distance, and the FAVOR+ entry is the favor run', () => {
    const k = randn(shape, 73);
    const all = distancesFromSoftmax(q, k, v, { features: 32, seed: 3 });
    for (const featureMap of FEATURE_MAPS) expect(all[featureMap].rms).toBeGreaterThan(1e-3);
    const favor = distanceFromSoftmax(q, k, v, { featureMap: 'favor', features: 32, seed: 3 });
    expect(all.favor.rms).toBe(favor.rms);
    expect(all.favor.stats.rms).toBe(favor.rms);
  });
});
