import { createKVCache, createPagedKVCache } from '@attnkit/causal';
import {
  AttentionInputError,
  errorStats,
  formatErrorStats,
  randn,
  rope,
  type Tensor,
  type Tolerance,
} from '@attnkit/core';
import { expectRefusalChangesNothing } from '@attnkit/core/testing';
import { dense } from '@attnkit/dense';
import { createRollingKVCache, slidingWindow } from '@attnkit/sliding-window';
import { describe, expect, it } from 'vitest';
import {
  createMultiHeadDecoder,
  type DecoderCacheSpec,
  initMultiHeadWeights,
  type MultiHeadDecoder,
  type MultiHeadDecoderOptions,
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

describe('a refused step changes nothing (same bits afterwards as a decoder that never saw it)', () => {
  const dModel = 16;
  const heads = 4;
  const kvHeads = 2;
  const weights = initMultiHeadWeights({ dModel, heads, kvHeads, headDim: 8, bias: true, seed: 11 });
  const x = randn([1, 12, dModel], 12);
  const before = (decoder: MultiHeadDecoder) => void decoder.step(slice(x, 0, 3));
  const after = (decoder: MultiHeadDecoder) => [
    decoder.step(slice(x, 3, 4)).data,
    decoder.step(slice(x, 4, 5)).data,
    decoder.step(slice(x, 5, 6)).data,
  ];
  const observe = (decoder: MultiHeadDecoder) => ({ length: decoder.length });
  const make = (options: Partial<MultiHeadDecoderOptions>) => () =>
    createMultiHeadDecoder(weights, { heads, kvHeads, ...options });

  it("the cache's attend refuses an option only a longer step gets wrong (out sized for one position)", () => {
    const out = { data: new Float32Array(heads * 8), shape: [1, heads, 1, 8] };
    expectRefusalChangesNothing({
      create: make({ attendOptions: { out } }),
      before: (decoder) => {
        for (let t = 0; t < 3; t++) decoder.step(slice(x, t, t + 1));
      },
      refuse: (decoder) => decoder.step(slice(x, 3, 5)),
      argument: 'options.attendOptions.out',
      after: (decoder) => after(decoder).map((y) => y.slice()),
      observe,
    });
  });

  it('the rolling cache refuses more positions than maxStepTokens: its ring is not overwritten', () => {
    const rolling = ({ capacity: _capacity, ...spec }: DecoderCacheSpec) =>
      createRollingKVCache({ ...spec, window: 3 });
    expectRefusalChangesNothing({
      create: make({ createKVCache: rolling }),
      before: (decoder) => {
        for (let t = 0; t < 3; t++) decoder.step(slice(x, t, t + 1));
      },
      refuse: (decoder) => decoder.step(slice(x, 3, 7)), // 4 new positions, the ring holds 4
      argument: 'xNew',
      after,
      observe,
    });
  });

  it("growth 'none' past the capacity, named as the caller's xNew", () => {
    const fixed = (spec: DecoderCacheSpec) => createKVCache({ ...spec, growth: 'none' });
    expectRefusalChangesNothing({
      create: make({ createKVCache: fixed, capacity: 6 }),
      before,
      refuse: (decoder) => decoder.step(slice(x, 3, 7)),
      argument: 'xNew',
      after,
      observe,
    });
  });

  it("growth refused by maxBytes, named as the caller's xNew", () => {
    // 4 positions: 4 · (a(2·4·8) + a(2·4·8)) = 512 bytes; growing to 8 would need 1024
    const limited = (spec: DecoderCacheSpec) => createKVCache({ ...spec, maxBytes: 600 });
    expectRefusalChangesNothing({
      create: make({ createKVCache: limited, capacity: 4 }),
      before,
      refuse: (decoder) => decoder.step(slice(x, 3, 5)),
      argument: 'xNew',
      after: (decoder) => [decoder.step(slice(x, 3, 4)).data],
      observe,
    });
  });

  it('a malformed xNew', () => {
    expectRefusalChangesNothing({
      create: make({}),
      before,
      refuse: (decoder) => decoder.step(randn([1, 1, dModel + 1], 3)),
      argument: 'xNew',
      after,
      observe,
    });
  });
});

describe('attendOptions the cache cannot honour are refused at creation, named as written (item 10)', () => {
  const weights = initMultiHeadWeights({ dModel: 16, heads: 4, kvHeads: 2, headDim: 8, seed: 13 });
  const errorOf = (
    attendOptions: Record<string, unknown>,
    options: Partial<MultiHeadDecoderOptions> = {},
  ) => {
    try {
      createMultiHeadDecoder(weights, { heads: 4, kvHeads: 2, attendOptions, ...options });
    } catch (error) {
      expect(error).toBeInstanceOf(AttentionInputError);
      return error as AttentionInputError;
    }
    throw new Error('expected createMultiHeadDecoder to refuse the attendOptions');
  };

  it('threads (the cache owns its engine)', () => {
    const error = errorOf({ threads: 2 });
    expect(error.argument).toBe('options.attendOptions.threads');
    expect(error.message).toBe(
      "options.attendOptions.threads: expected only options this function knows, received unknown option 'threads'. Remove it: an option that cannot be honoured is refused rather than ignored. (Raised by the decoder's KV cache.)",
    );
  });

  it('a typo, a bad value and causal: false', () => {
    expect(errorOf({ blockq: 2 }).argument).toBe('options.attendOptions.blockq');
    expect(errorOf({ blockQ: 0 }).argument).toBe('options.attendOptions.blockQ');
    expect(errorOf({ causal: false }).argument).toBe('options.attendOptions.causal');
  });

  it("another cache's option: window given to the rolling cache (its window is its own)", () => {
    const rolling = ({ capacity: _capacity, ...spec }: DecoderCacheSpec) =>
      createRollingKVCache({ ...spec, window: 3 });
    expect(errorOf({ window: [2, 0] }, { createKVCache: rolling }).argument).toBe(
      'options.attendOptions.window',
    );
  });

  it('options the cache can honour are accepted', () => {
    const decoder = createMultiHeadDecoder(weights, {
      heads: 4,
      kvHeads: 2,
      attendOptions: { scale: 0.25, window: [2, 0], blockQ: 2 },
    });
    expect(decoder.step(randn([1, 3, 16], 14)).shape).toEqual([1, 3, 16]);
  });
});

describe("the decoder names the cache's complaints where its caller put them", () => {
  const weights = initMultiHeadWeights({ dModel: 16, heads: 4, kvHeads: 2, headDim: 8, seed: 15 });

  it("a step the ring cannot take is xNew's fault, in the cache's words", () => {
    const decoder = createMultiHeadDecoder(weights, {
      heads: 4,
      kvHeads: 2,
      createKVCache: ({ capacity: _capacity, ...spec }) => createRollingKVCache({ ...spec, window: 3 }),
    });
    expect(() => decoder.step(randn([1, 2, 16], 16))).toThrow(
      "xNew: expected at most 1 queries per attend (the cache's maxStepTokens), received 2 queries (shape [1, 4, 2, 8]). The ring keeps window + maxStepTokens = 4 positions, so older keys are gone: create the cache with maxStepTokens >= 2, or use slidingWindowAttention for long chunks. (Raised by the decoder's KV cache, about q projected from xNew.)",
    );
    expect(decoder.length).toBe(0);
  });

  it('a factory whose caches have no step is refused at creation (it could not promise a clean refusal)', () => {
    const appendOnly = (spec: DecoderCacheSpec) => {
      const cache = createKVCache(spec);
      return {
        length: 0,
        append: cache.append.bind(cache),
        attend: cache.attend.bind(cache),
        reset: cache.reset.bind(cache),
      };
    };
    let caught: unknown;
    try {
      createMultiHeadDecoder(weights, { heads: 4, kvHeads: 2, createKVCache: appendOnly as never });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AttentionInputError);
    expect((caught as AttentionInputError).argument).toBe('options.createKVCache');
    expect((caught as Error).message).toContain('step(q, k, v, options)');
  });
});

describe("the decoder on causal's paged cache (a view of some of its sequences)", () => {
  const dModel = 32;
  const heads = 4;
  const kvHeads = 2;
  const weights = initMultiHeadWeights({
    dModel,
    heads,
    kvHeads,
    headDim: 8,
    valueDim: 6,
    bias: true,
    biasInit: 'uniform',
    seed: 21,
  });
  const length = 19;
  const x = randn([2, length, dModel], 22);
  const paged = (extra: Record<string, unknown> = {}) =>
    createPagedKVCache({ kvHeads, headDim: 8, valueDim: 6, pageSize: 3, ...extra });

  /** Prefill 5 positions, then one per step; returns every step's rows as [2, length, dModel]. */
  function decodeAll(decoder: MultiHeadDecoder): Float32Array {
    const out = new Float32Array(2 * length * dModel);
    const place = (y: Tensor, from: number, to: number) => {
      for (let b = 0; b < 2; b++) {
        out.set(
          y.data.subarray(b * (to - from) * dModel, (b + 1) * (to - from) * dModel),
          (b * length + from) * dModel,
        );
      }
    };
    place(decoder.step(slice(x, 0, 5)), 0, 5);
    for (let t = 5; t < length; t++) place(decoder.step(slice(x, t, t + 1)), t, t + 1);
    return out;
  }

  it('two sequences decoded through a view equal the full causal pass (and the float64 layer)', () => {
    const cache = paged();
    const ids = [cache.addSequence(), cache.addSequence()];
    const decoder = createMultiHeadDecoder(weights, {
      heads,
      kvHeads,
      batch: 2,
      createKVCache: () => cache.view(ids),
    });
    const stepped = decodeAll(decoder);
    expect(decoder.length).toBe(length);
    expect(cache.pagesInUse).toBe(2 * Math.ceil(length / 3));
    const full = multiHeadAttention(x, weights, { heads, kvHeads, causal: true, variant: dense });
    expectClose(stepped, full.data, STEP_VS_FULL);
    expectClose(
      stepped,
      referenceMultiHeadAttention(x, weights, { heads, kvHeads, causal: true }),
      VS_FLOAT64,
    );
  });

  it('with RoPE applied by the cache: equal to the full pass whose attention ropes q and k', () => {
    const options = { base: 100, style: 'interleaved' as const, rotaryDim: 4 };
    const cache = paged({ rope: options });
    const ids = [cache.addSequence(), cache.addSequence()];
    const decoder = createMultiHeadDecoder(weights, {
      heads,
      kvHeads,
      batch: 2,
      createKVCache: () => cache.view(ids),
    });
    const stepped = decodeAll(decoder);
    const withRope = {
      ...dense,
      forward: (q: Tensor, k: Tensor, v: Tensor, o?: object) =>
        dense.forward(rope(q, options), rope(k, options), v, o),
    };
    const full = multiHeadAttention(x, weights, { heads, kvHeads, causal: true, variant: withRope });
    expectClose(stepped, full.data, STEP_VS_FULL);
    // and RoPE changed the function: the plain layer is far from it
    const plain = multiHeadAttention(x, weights, { heads, kvHeads, causal: true, variant: dense });
    expect(errorStats(stepped, plain.data).maxAbs).toBeGreaterThan(1e-2);
  });

  it('a view of another batch is refused at creation, naming options.createKVCache', () => {
    const cache = paged();
    const ids = [cache.addSequence(), cache.addSequence()];
    let caught: unknown;
    try {
      createMultiHeadDecoder(weights, { heads, kvHeads, batch: 3, createKVCache: () => cache.view(ids) });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AttentionInputError);
    expect((caught as AttentionInputError).argument).toBe('options.createKVCache');
    expect((caught as Error).message).toContain('a cache of batch 2');
  });

  it("the paged cache's byte limit refuses a step, named as xNew, and changes nothing", () => {
    // 6 pages of 3 positions: 2 sequences × 9 positions fit, a tenth does not
    const pageBytes = 4 * (16 * Math.ceil((kvHeads * 3 * 8) / 16) + 16 * Math.ceil((kvHeads * 3 * 6) / 16));
    expectRefusalChangesNothing({
      create: () => {
        const cache = paged({ maxBytes: 6 * pageBytes });
        const ids = [cache.addSequence(), cache.addSequence()];
        return createMultiHeadDecoder(weights, {
          heads,
          kvHeads,
          batch: 2,
          createKVCache: () => cache.view(ids),
        });
      },
      before: (decoder) => decoder.step(slice(x, 0, 8)),
      refuse: (decoder) => decoder.step(slice(x, 8, 10)),
      argument: 'xNew',
      after: (decoder) => [decoder.step(slice(x, 8, 9)).data],
      observe: (decoder) => ({ length: decoder.length }),
    });
  });
});
