import { causal } from '@attnkit/causal';
import {
  type AttentionOptions,
  type AttentionVariant,
  errorStats,
  formatErrorStats,
  randn,
  type Tensor,
  type Tolerance,
} from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { flash } from '@attnkit/flash';
import { slidingWindow } from '@attnkit/sliding-window';
import { describe, expect, it } from 'vitest';
import {
  initMultiHeadWeights,
  type MultiHeadWeights,
  multiHeadAttention,
  referenceMultiHeadAttention,
} from '../index.js';

/**
 * Tolerance of the float32 layer against the float64 composition, per element
 * |y - y64| <= atol + rtol·|y64|.
 * Why: the layer rounds to float32 (u = 2^-24 ≈ 6e-8) through four stages: the input projections
 * (dot products of length dModel = 32), attention (scores of length dk, softmax, a weighted sum over
 * at most 23 keys) and the output projection (length Hq·dv ≤ 72). A float32-accumulated dot product
 * of length n is off by at most n·u times the sum of its |terms| (γ_n, Higham §3.1): with x ~ N(0, 1)
 * and Xavier weights that sum is about 4 for a projection, so ≤ 32·u·4 ≈ 8e-6 per projected element in
 * the worst case, and the stages compound to ~1e-5 on outputs |y| ≲ 3. Seen over 400 seeded calls
 * (seeds 0–39, five of these shapes, dense and flash): 1.6e-6 on the wasm backend (float32 GEMM
 * accumulators) and 3.2e-7 on the js backend (its twins accumulate dot products in float64).
 * atol 1e-5 is the worst-case bound, 6× above what wasm showed; a layout, mask or head-mapping mistake
 * moves outputs by O(0.1).
 */
const TOLERANCE: Tolerance = { atol: 1e-5, rtol: 1e-4 };

interface LayerCase {
  name: string;
  batch: number;
  length: number;
  contextLength?: number;
  dModel: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  valueDim: number;
  bias: boolean;
  causal: boolean;
  kvLengths?: number[];
}

const CASES: LayerCase[] = [
  {
    name: 'self, no bias',
    batch: 2,
    length: 13,
    dModel: 32,
    heads: 4,
    kvHeads: 4,
    headDim: 8,
    valueDim: 8,
    bias: false,
    causal: false,
  },
  {
    name: 'self, biases',
    batch: 2,
    length: 13,
    dModel: 32,
    heads: 4,
    kvHeads: 4,
    headDim: 8,
    valueDim: 8,
    bias: true,
    causal: false,
  },
  {
    name: 'self, causal, biases',
    batch: 1,
    length: 17,
    dModel: 32,
    heads: 4,
    kvHeads: 4,
    headDim: 8,
    valueDim: 8,
    bias: true,
    causal: true,
  },
  {
    name: 'cross (L 7, Lk 19), biases',
    batch: 2,
    length: 7,
    contextLength: 19,
    dModel: 32,
    heads: 4,
    kvHeads: 4,
    headDim: 8,
    valueDim: 8,
    bias: true,
    causal: false,
  },
  {
    name: 'cross, no bias, Lk < L',
    batch: 1,
    length: 11,
    contextLength: 5,
    dModel: 32,
    heads: 2,
    kvHeads: 2,
    headDim: 16,
    valueDim: 16,
    bias: false,
    causal: false,
  },
  {
    name: 'cross, causal (bottom-right aligned, Lk > L)',
    batch: 2,
    length: 6,
    contextLength: 15,
    dModel: 32,
    heads: 4,
    kvHeads: 2,
    headDim: 8,
    valueDim: 8,
    bias: true,
    causal: true,
  },
  {
    name: 'GQA 6/2, dv != dk, causal',
    batch: 2,
    length: 15,
    dModel: 32,
    heads: 6,
    kvHeads: 2,
    headDim: 8,
    valueDim: 12,
    bias: true,
    causal: true,
  },
  {
    name: 'GQA 6/3, no bias',
    batch: 1,
    length: 9,
    dModel: 32,
    heads: 6,
    kvHeads: 3,
    headDim: 4,
    valueDim: 4,
    bias: false,
    causal: false,
  },
  {
    name: 'MQA 4/1, causal',
    batch: 2,
    length: 23,
    dModel: 32,
    heads: 4,
    kvHeads: 1,
    headDim: 8,
    valueDim: 8,
    bias: true,
    causal: true,
  },
  {
    name: 'MQA 4/1, cross, no bias',
    batch: 1,
    length: 5,
    contextLength: 12,
    dModel: 32,
    heads: 4,
    kvHeads: 1,
    headDim: 8,
    valueDim: 8,
    bias: false,
    causal: false,
  },
  {
    name: 'one head, one token',
    batch: 1,
    length: 1,
    dModel: 32,
    heads: 1,
    kvHeads: 1,
    headDim: 32,
    valueDim: 32,
    bias: true,
    causal: true,
  },
  {
    name: 'padding (kvLengths 9 and 0)',
    batch: 2,
    length: 9,
    dModel: 32,
    heads: 4,
    kvHeads: 2,
    headDim: 8,
    valueDim: 8,
    bias: true,
    causal: false,
    kvLengths: [9, 0],
  },
];

function makeInputs(c: LayerCase, seed: number): { x: Tensor; context?: Tensor; weights: MultiHeadWeights } {
  const x = randn([c.batch, c.length, c.dModel], seed);
  const weights = initMultiHeadWeights({
    dModel: c.dModel,
    heads: c.heads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
    valueDim: c.valueDim,
    bias: c.bias,
    biasInit: 'uniform',
    seed: seed + 100,
  });
  if (c.contextLength === undefined) return { x, weights };
  return { x, weights, context: randn([c.batch, c.contextLength, c.dModel], seed + 200) };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = TOLERANCE): void {
  const stats = errorStats(actual, expected, tolerance);
  expect(stats.failing, formatErrorStats(stats)).toBe(0);
}

// The default backend (wasm where SIMD validates) and the js twins: the projections follow the variant's engine.
const VARIANTS: readonly { label: string; variant: AttentionVariant; options: Record<string, unknown> }[] = [
  { label: 'dense', variant: dense, options: {} },
  { label: 'dense (js backend)', variant: dense, options: { backend: 'js' } },
  { label: 'flash (default blocks)', variant: flash, options: {} },
  { label: 'flash (blockQ 4, blockK 8)', variant: flash, options: { blockQ: 4, blockK: 8 } },
  { label: 'flash (js backend)', variant: flash, options: { backend: 'js' } },
];

describe('multiHeadAttention against the float64 layer', () => {
  for (const [index, c] of CASES.entries()) {
    for (const { label, variant, options } of VARIANTS) {
      it(`${c.name} — ${label}`, () => {
        const { x, context, weights } = makeInputs(c, 10 + index);
        const variantOptions: Record<string, unknown> = { ...options };
        if (c.kvLengths) variantOptions.kvLengths = c.kvLengths;
        const y = multiHeadAttention(x, weights, {
          heads: c.heads,
          kvHeads: c.kvHeads,
          causal: c.causal,
          variant,
          variantOptions,
          ...(context ? { context } : {}),
        });
        expect(y.shape).toEqual([c.batch, c.length, c.dModel]);
        const expected = referenceMultiHeadAttention(x, weights, {
          heads: c.heads,
          kvHeads: c.kvHeads,
          causal: c.causal,
          ...(context ? { context } : {}),
          ...(c.kvLengths ? { kvLengths: c.kvLengths } : {}),
        });
        expectClose(y.data, expected);
      });
    }
  }

  it('defaults to flash (same result as passing it)', () => {
    const c = CASES[6]!;
    const { x, weights } = makeInputs(c, 42);
    const options = { heads: c.heads, kvHeads: c.kvHeads, causal: true };
    const byDefault = multiHeadAttention(x, weights, options);
    const explicit = multiHeadAttention(x, weights, { ...options, variant: flash });
    expect(byDefault.data).toEqual(explicit.data);
  });

  it('a padded batch entry (kvLengths 0) sees no key: its attention is zero, so y is the output bias', () => {
    const c = CASES[11]!;
    const { x, weights } = makeInputs(c, 43);
    const y = multiHeadAttention(x, weights, {
      heads: c.heads,
      kvHeads: c.kvHeads,
      variant: dense,
      variantOptions: { kvLengths: [9, 0] },
    });
    const rowWidth = c.dModel;
    for (let row = c.length; row < 2 * c.length; row++) {
      expect(Array.from(y.data.subarray(row * rowWidth, (row + 1) * rowWidth))).toEqual(
        Array.from(weights.bo!.data),
      );
    }
  });

  it('passes a variant its own options: causal variant and a sliding window match the float64 layer', () => {
    const c = CASES[6]!;
    const { x, weights } = makeInputs(c, 44);
    const shape = { heads: c.heads, kvHeads: c.kvHeads };
    expectClose(
      multiHeadAttention(x, weights, { ...shape, causal: true, variant: causal as AttentionVariant }).data,
      referenceMultiHeadAttention(x, weights, { ...shape, causal: true }),
    );
    const windowed = multiHeadAttention(x, weights, {
      ...shape,
      causal: true,
      variant: slidingWindow as AttentionVariant,
      variantOptions: { window: [3, 0] } as AttentionOptions,
    });
    expectClose(
      windowed.data,
      referenceMultiHeadAttention(x, weights, { ...shape, causal: true, window: [3, 0] }),
    );
    // and the window changes the answer (the option reached the variant)
    const full = referenceMultiHeadAttention(x, weights, { ...shape, causal: true });
    expect(errorStats(windowed.data, full).maxAbs).toBeGreaterThan(1e-3);
  });

  it('passes scale through to the variant', () => {
    const c = CASES[1]!;
    const { x, weights } = makeInputs(c, 45);
    const y = multiHeadAttention(x, weights, {
      heads: c.heads,
      variant: dense,
      variantOptions: { scale: 0.9 },
    });
    expectClose(y.data, referenceMultiHeadAttention(x, weights, { heads: c.heads, scale: 0.9 }));
  });

  it('fills variantOptions.lse for the layer ([B, Hq, L])', () => {
    const c = CASES[2]!;
    const { x, weights } = makeInputs(c, 46);
    const lse = new Float32Array(c.batch * c.heads * c.length).fill(Number.NaN);
    multiHeadAttention(x, weights, { heads: c.heads, causal: true, variant: dense, variantOptions: { lse } });
    // every causal row sees at least one key, so every lse is written and finite
    expect(lse.every((value) => Number.isFinite(value))).toBe(true);
    // query i sees i + 1 keys: a log-sum-exp over more keys differs, so the rows are not one repeated value
    expect(new Set(lse).size).toBeGreaterThan(1);
  });

  it('is deterministic: the same call twice gives the same bits', () => {
    const c = CASES[8]!;
    const { x, weights } = makeInputs(c, 47);
    const options = { heads: c.heads, kvHeads: c.kvHeads, causal: true, variant: flash };
    expect(multiHeadAttention(x, weights, options).data).toEqual(
      multiHeadAttention(x, weights, options).data,
    );
  });

  it('passes threads to the variant: flash on two worker threads gives the same bits as on one', () => {
    const c = CASES[6]!;
    const { x, weights } = makeInputs(c, 48);
    const options = { heads: c.heads, kvHeads: c.kvHeads, causal: true, variant: flash };
    const one = multiHeadAttention(x, weights, options);
    const two = multiHeadAttention(x, weights, { ...options, variantOptions: { threads: 2 } });
    expect(two.data).toEqual(one.data);
  });

  it("hands the variant BHSD heads and exactly the caller's options (causal merged in)", () => {
    const c = CASES[5]!; // cross, causal, GQA 4/2
    const { x, context, weights } = makeInputs(c, 49);
    const seen: { shapes: (readonly number[])[]; options: unknown }[] = [];
    const recording: AttentionVariant = {
      ...flash,
      name: 'recording flash',
      forward(q, k, v, options) {
        seen.push({ shapes: [q.shape, k.shape, v.shape], options });
        return flash.forward(q, k, v, options);
      },
    };
    multiHeadAttention(x, weights, {
      heads: c.heads,
      kvHeads: c.kvHeads,
      causal: true,
      context: context!,
      variant: recording,
      variantOptions: { scale: 0.5, threads: 2, blockQ: 4 } as AttentionOptions,
    });
    expect(seen).toEqual([
      {
        shapes: [
          [c.batch, c.heads, c.length, c.headDim],
          [c.batch, c.kvHeads, c.contextLength, c.headDim],
          [c.batch, c.kvHeads, c.contextLength, c.valueDim],
        ],
        options: { scale: 0.5, threads: 2, blockQ: 4, causal: true },
      },
    ]);
  });
});
