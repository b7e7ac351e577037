/**
 * Seeded weight initialisation (Glorot & Bengio 2010, "Xavier"): keeps the variance of activations
 * and gradients roughly equal across a layer, Var(W) = gain² · 2 / (fanIn + fanOut).
 *   uniform: W ~ U(-a, a), a = gain · √(6 / (fanIn + fanOut))
 *   normal:  W ~ N(0, σ²), σ = gain · √(2 / (fanIn + fanOut))
 * Draws come from core's createRng (only exact arithmetic), so a seed gives the same weights on
 * every platform. Time O(fanIn · fanOut) per matrix; memory: the returned tensors.
 */
import { AttentionInputError, createRng, parseOptions, type Rng, type Tensor, z } from '@attnkit/core';
import type { MultiHeadWeights } from './validate.js';
import { parseHeads } from './validate.js';

export type XavierDistribution = 'uniform' | 'normal';

const positiveInt = z.number().int().positive();

const xavierOptionsSchema = z.strictObject({
  distribution: z.enum(['uniform', 'normal']).optional(),
  gain: z.number().positive().finite().optional(),
});

const initOptionsSchema = z.strictObject({
  dModel: positiveInt,
  heads: positiveInt,
  kvHeads: positiveInt.optional(),
  headDim: positiveInt,
  valueDim: positiveInt.optional(),
  bias: z.boolean().optional(),
  biasInit: z.enum(['zeros', 'uniform']).optional(),
  distribution: z.enum(['uniform', 'normal']).optional(),
  gain: z.number().positive().finite().optional(),
  seed: z.number().int(),
});

export interface XavierOptions {
  /** Default 'uniform' (PyTorch's xavier_uniform_, what nn.MultiheadAttention uses). */
  distribution?: XavierDistribution;
  /** Scales the bound / standard deviation (default 1). */
  gain?: number;
}

/** Fills `data` (a [fanIn, fanOut] matrix) from `rng`. */
function fillXavier(
  data: Float32Array,
  fanIn: number,
  fanOut: number,
  rng: Rng,
  options: XavierOptions,
): void {
  const gain = options.gain ?? 1;
  if ((options.distribution ?? 'uniform') === 'uniform') {
    const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < data.length; i++) data[i] = (2 * rng.nextFloat() - 1) * bound;
  } else {
    const std = gain * Math.sqrt(2 / (fanIn + fanOut));
    for (let i = 0; i < data.length; i++) data[i] = rng.nextNormal() * std;
  }
}

/** A [fanIn, fanOut] Xavier/Glorot matrix drawn from `rng` (continue a stream) or a seed. */
export function xavierInit(
  shape: readonly [number, number],
  seed: number | Rng,
  options: XavierOptions = {},
): Tensor {
  const [fanIn, fanOut] = shape;
  if (!Number.isInteger(fanIn) || !Number.isInteger(fanOut) || fanIn <= 0 || fanOut <= 0) {
    throw new AttentionInputError('shape', 'two positive integers [fanIn, fanOut]', `[${shape.join(', ')}]`);
  }
  const own = parseOptions(xavierOptionsSchema, options, 'options');
  const rng = typeof seed === 'number' ? createRng(seed) : seed;
  const data = new Float32Array(fanIn * fanOut);
  fillXavier(data, fanIn, fanOut, rng, own);
  return { data, shape: [fanIn, fanOut] };
}

/** Xavier/Glorot uniform: U(-a, a) with a = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform(shape: readonly [number, number], seed: number | Rng, gain = 1): Tensor {
  return xavierInit(shape, seed, { distribution: 'uniform', gain });
}

/** Xavier/Glorot normal: N(0, σ²) with σ = gain·√(2 / (fanIn + fanOut)). */
export function xavierNormal(shape: readonly [number, number], seed: number | Rng, gain = 1): Tensor {
  return xavierInit(shape, seed, { distribution: 'normal', gain });
}

export interface InitMultiHeadWeightsOptions extends XavierOptions {
  dModel: number;
  /** Query heads Hq. */
  heads: number;
  /** Key/value heads Hkv (default heads): a divisor of heads, 1 for MQA. */
  kvHeads?: number;
  /** dk, the query/key head width. */
  headDim: number;
  /** dv, the value head width (default headDim). */
  valueDim?: number;
  /** Include bq, bk, bv, bo (default false). */
  bias?: boolean;
  /** 'zeros' (default, as nn.MultiheadAttention) or 'uniform': U(±1/√fanIn), as nn.Linear. */
  biasInit?: 'zeros' | 'uniform';
  /** One seed for the whole layer: wq, wk, wv, wo, then the biases, drawn in that order from one stream. */
  seed: number;
}

/**
 * Weights for multiHeadAttention: wq [dModel, Hq·dk], wk [dModel, Hkv·dk], wv [dModel, Hkv·dv],
 * wo [Hq·dv, dModel], Xavier-initialised from one seeded stream; biases on request.
 */
export function initMultiHeadWeights(options: InitMultiHeadWeightsOptions): MultiHeadWeights {
  const own = parseOptions(initOptionsSchema, options, 'options');
  const kvHeads = parseHeads(own.heads, own.kvHeads);
  const { dModel, heads, headDim } = own;
  const valueDim = own.valueDim ?? headDim;
  const rng = createRng(own.seed);
  const xavier: XavierOptions = {};
  if (own.distribution !== undefined) xavier.distribution = own.distribution;
  if (own.gain !== undefined) xavier.gain = own.gain;
  const wq = xavierInit([dModel, heads * headDim], rng, xavier);
  const wk = xavierInit([dModel, kvHeads * headDim], rng, xavier);
  const wv = xavierInit([dModel, kvHeads * valueDim], rng, xavier);
  const wo = xavierInit([heads * valueDim, dModel], rng, xavier);
  if (!own.bias) return { wq, wk, wv, wo };
  const makeBias = (width: number, fanIn: number): Tensor => {
    const data = new Float32Array(width);
    if (own.biasInit === 'uniform') {
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < width; i++) data[i] = (2 * rng.nextFloat() - 1) * bound;
    }
    return { data, shape: [width] };
  };
  return {
    wq,
    wk,
    wv,
    wo,
    bq: makeBias(heads * headDim, dModel),
    bk: makeBias(kvHeads * headDim, dModel),
    bv: makeBias(kvHeads * valueDim, dModel),
    bo: makeBias(dModel, heads * valueDim),
  };
}
