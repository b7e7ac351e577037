import { createKVCache } from '@attnkit/causal';
import { errorStats, formatErrorStats, randn, type Tensor, type Tolerance } from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { createRollingKVCache, slidingWindow } from '@attnkit/sliding-window';
import { describe, expect, it } from 'vitest';
import {
  createMultiHeadDecoder,
  initMultiHeadWeights,
  multiHeadAttention,
  referenceMultiHeadAttention,
} from '../index.js';

/**
 * Decoding and the full pass compute the same float32 sums in different orders and blockings (the
 * cache attends blocks of the prefix, dense one row of all keys; the wasm GEMM treats a 1-row and a
 * 21-row operand differently), so their difference obeys the same worst-case bound as the layer
 * against float64 (~1e-5, see layer.test.ts) and in practice is far smaller: 4.8e-7 at most over 90
 * seeded sequences on wasm, exactly 0 on js. 5e-6 is 10× what we saw and still 10⁴× below what a
 * wrong position, mask or head mapping produces. Against the float64 layer the layer tests'
 * tolerance (atol 1e-5, rtol 1e-4, justified there) applies.
 */
const STEP_VS_FULL: Tolerance = { atol: 5e-6, rtol: 5e-5 };
const VS_FLOAT64: Tolerance = { atol: 1e-5, rtol: 1e-4 };

/** Rows [from, to) of x [B, L, d] as a [B, to - from, d] tensor. */
function slice(x: Tensor, from: number, to: number): Tensor {
  const [batch, length, width] = x.shape as [number, number, number];
  const data = new Float32Array(batch * (to - from) * width);
  for (let b = 0; b < batch; b++) {
    data.set(
      x.data.subarray((b * length + from) * width, (b * length + to) * width),
      b * (to - from) * width,
    );
  }
  return { data, shape: [batch, to - from, width] };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance): void {
  const stats = errorStats(actual, expected, tolerance);
  expect(stats.failing, formatErrorStats(stats)).toBe(0);
}

describe('createMultiHeadDecoder (KV cache from @attnkit/causal)', () => {
  for (const { name, batch, heads, kvHeads, headDim, valueDim, bias } of [
    { name: 'multi-head, biases', batch: 1, heads: 4, kvHeads: 4, headDim: 8, valueDim: 8, bias: true },
    {
      name: 'GQA 6/2, dv != dk, batch 2',
      batch: 2,
      heads: 6,
      kvHeads: 2,
      headDim: 8,
      valueDim: 4,
      bias: true,
    },
    { name: 'MQA 4/1, no bias', batch: 2, heads: 4, kvHeads: 1, headDim: 8, valueDim: 8, bias: false },
  ]) {
    it(`token by token equals the full causal pass (${name})`, () => {
      const dModel = 32;
      const length = 21;
      const weights = initMultiHeadWeights({
        dModel,
        heads,
        kvHeads,
        headDim,
        valueDim,
        bias,
        biasInit: 'uniform',
        seed: 5,
      });
      const x = randn([batch, length, dModel], 6);
      const full = multiHeadAttention(x, weights, { heads, kvHeads, causal: true, variant: dense });
      // capacity 4 < length: the cache must grow (by doubling) while decoding
      const decoder = createMultiHeadDecoder(weights, { heads, kvHeads, batch, capacity: 4, createKVCache });
      const stepped = new Float32Array(full.data.length);
      for (let t = 0; t < length; t++) {
        const y = decoder.step(slice(x, t, t + 1));
        expect(y.shape).toEqual([batch, 1, dModel]);
        for (let b = 0; b < batch; b++)
          stepped.set(y.data.subarray(b * dModel, (b + 1) * dModel), (b * length + t) * dModel);
      }
      expect(decoder.length).toBe(length);
      expectClose(stepped, full.data, STEP_VS_FULL);
      expectClose(
        stepped,
        referenceMultiHeadAttention(x, weights, { heads, kvHeads, causal: true }),
        VS_FLOAT64,
      );
    });
  }

  it('a prefill of several tokens, then single steps, then reset for a new sequence', () => {
    const dModel = 32;
    const heads = 4;
    const kvHeads = 2;
    const weights = initMultiHeadWeights({
      dModel,
      heads,
      kvHeads,
      headDim: 8,
      bias: true,
      biasInit: 'uniform',
      seed: 7,
    });
    const x = randn([1, 12, dModel], 8);
    const full = multiHeadAttention(x, weights, { heads, kvHeads, causal: true, variant: dense });
    const decoder = createMultiHeadDecoder(weights, { heads, kvHeads }); // default cache: causal's createKVCache
    const prefill = decoder.step(slice(x, 0, 7)); // 7 new positions at once: causal among themselves
    expectClose(prefill.data, full.data.subarray(0, 7 * dModel), STEP_VS_FULL);
    for (let t = 7; t < 12; t++) {
      expectClose(
        decoder.step(slice(x, t, t + 1)).data,
        full.data.subarray(t * dModel, (t + 1) * dModel),
        STEP_VS_FULL,
      );
    }
    decoder.reset();
    expect(decoder.length).toBe(0);
    expectClose(decoder.step(slice(x, 0, 1)).data, full.data.subarray(0, dModel), STEP_VS_FULL);
  });

  it("takes any cache with append/attend: sliding-window's rolling cache decodes a local causal window", () => {
    const dModel = 32;
    const heads = 4;
    const kvHeads = 2;
    const window = 5;
    const length = 17;
    const weights = initMultiHeadWeights({
      dModel,
      heads,
      kvHeads,
      headDim: 8,
      bias: true,
      biasInit: 'uniform',
      seed: 9,
    });
    const x = randn([1, length, dModel], 10);
    const full = multiHeadAttention(x, weights, {
      heads,
      kvHeads,
      causal: true,
      variant: slidingWindow,
      variantOptions: { window: [window, 0] },
    });
    const decoder = createMultiHeadDecoder(weights, {
      heads,
      kvHeads,
      // the ring keeps window + 1 positions, whatever capacity the decoder suggests
      createKVCache: ({ capacity: _capacity, ...spec }) => createRollingKVCache({ ...spec, window }),
    });
    for (let t = 0; t < length; t++) {
      expectClose(
        decoder.step(slice(x, t, t + 1)).data,
        full.data.subarray(t * dModel, (t + 1) * dModel),
        STEP_VS_FULL,
      );
    }
    expectClose(
      full.data,
      referenceMultiHeadAttention(x, weights, { heads, kvHeads, causal: true, window: [window, 0] }),
      VS_FLOAT64,
    );
  });
});
