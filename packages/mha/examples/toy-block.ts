/**
 * A toy pre-norm transformer block (GPT-2 layout) shared by the examples:
 *   h = x + MHA(LN₁(x));   y = h + W₂·GELU(W₁·LN₂(h) + b₁) + b₂
 * over a character-level toy token sequence embedded with a tiny seeded table (token + position).
 * Everything is seeded through core's createRng, so every run prints the same numbers.
 * Time per block O(L·dModel²) for the projections and MLP plus the attention; memory O(L·dModel).
 * The examples import @attnkit/mha by its name, as an application would.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createRng, type Rng, type Tensor } from '@attnkit/core';
import { initMultiHeadWeights, linearLayer, type MultiHeadWeights, xavierUniform } from '@attnkit/mha';

export const TOY_TEXT = 'attention is all you need, said the transformer to the tokens';

export interface ToyModel {
  readonly dModel: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: readonly string[];
  /** [V, dModel] token embeddings. */
  readonly embedding: Float32Array;
  /** [maxLength, dModel] learned-style position embeddings. */
  readonly positions: Float32Array;
  readonly maxLength: number;
  readonly attention: MultiHeadWeights;
  /** MLP: [dModel, 4·dModel] + [4·dModel], then [4·dModel, dModel] + [dModel]. */
  readonly w1: Tensor;
  readonly b1: Tensor;
  readonly w2: Tensor;
  readonly b2: Tensor;
  /** [dModel, V]: logits = LN(y)·U (untied and random, so an untrained model still samples varied text). */
  readonly unembedding: Tensor;
}

/** A seeded toy model: dModel 64, 4 query heads sharing 2 kv heads (GQA) of width 16. */
export function createToyModel(seed = 7, maxLength = 128): ToyModel {
  const dModel = 64;
  const heads = 4;
  const kvHeads = 2;
  const vocab = [...new Set(TOY_TEXT)].sort();
  const rng = createRng(seed);
  const embedding = new Float32Array(vocab.length * dModel);
  for (let i = 0; i < embedding.length; i++) embedding[i] = rng.nextNormal();
  const positions = new Float32Array(maxLength * dModel);
  for (let i = 0; i < positions.length; i++) positions[i] = 0.1 * rng.nextNormal();
  const attention = initMultiHeadWeights({
    dModel,
    heads,
    kvHeads,
    headDim: dModel / heads,
    bias: true,
    biasInit: 'uniform',
    seed: seed + 1,
  });
  const hidden = 4 * dModel;
  const w1 = xavierUniform([dModel, hidden], rng);
  const w2 = xavierUniform([hidden, dModel], rng);
  const b1 = { data: new Float32Array(hidden).map(() => 0.02 * rng.nextNormal()), shape: [hidden] };
  const b2 = { data: new Float32Array(dModel).map(() => 0.02 * rng.nextNormal()), shape: [dModel] };
  const unembedding = new Float32Array(dModel * vocab.length);
  for (let i = 0; i < unembedding.length; i++) unembedding[i] = (2 / Math.sqrt(dModel)) * rng.nextNormal();
  return {
    dModel,
    heads,
    kvHeads,
    vocab,
    embedding,
    positions,
    maxLength,
    attention,
    w1,
    b1,
    w2,
    b2,
    unembedding: { data: unembedding, shape: [dModel, vocab.length] },
  };
}

export function encode(model: ToyModel, text: string): number[] {
  return [...text].map((ch) => {
    const id = model.vocab.indexOf(ch);
    if (id < 0) throw new Error(`'${ch}' is not in the toy vocabulary`);
    return id;
  });
}

export function decode(model: ToyModel, tokens: readonly number[]): string {
  return tokens.map((t) => model.vocab[t]).join('');
}

/** [1, tokens.length, dModel]: token embedding + position embedding, positions from `start`. */
export function embed(model: ToyModel, tokens: readonly number[], start = 0): Tensor {
  const { dModel } = model;
  const data = new Float32Array(tokens.length * dModel);
  tokens.forEach((token, i) => {
    for (let c = 0; c < dModel; c++) {
      data[i * dModel + c] =
        model.embedding[token * dModel + c]! + model.positions[(start + i) * dModel + c]!;
    }
  });
  return { data, shape: [1, tokens.length, dModel] };
}

/** Layer norm over the last dimension (unit gain, zero shift), statistics in float64. */
export function layerNorm(x: Tensor, eps = 1e-5): Tensor {
  const width = x.shape[x.shape.length - 1]!;
  const out = new Float32Array(x.data.length);
  for (let row = 0; row < x.data.length; row += width) {
    let mean = 0;
    for (let c = 0; c < width; c++) mean += x.data[row + c]!;
    mean /= width;
    let variance = 0;
    for (let c = 0; c < width; c++) variance += (x.data[row + c]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / width + eps);
    for (let c = 0; c < width; c++) out[row + c] = (x.data[row + c]! - mean) * inv;
  }
  return { data: out, shape: x.shape };
}

/** GELU, GPT-2's tanh approximation. */
export function gelu(x: Tensor): Tensor {
  const out = new Float32Array(x.data.length);
  const k = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < out.length; i++) {
    const v = x.data[i]!;
    out[i] = 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v * v * v)));
  }
  return { data: out, shape: x.shape };
}

export function add(a: Tensor, b: Tensor): Tensor {
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i]! + b.data[i]!;
  return { data: out, shape: a.shape };
}

/**
 * The block around an attention function (the full layer, or one decoder step):
 * h = x + attend(LN₁(x)); y = h + MLP(LN₂(h)).
 */
export function transformerBlock(model: ToyModel, x: Tensor, attend: (normed: Tensor) => Tensor): Tensor {
  const h = add(x, attend(layerNorm(x)));
  const hidden = gelu(linearLayer(layerNorm(h), model.w1, model.b1));
  return add(h, linearLayer(hidden, model.w2, model.b2));
}

/** Logits [1, L, V] of the block's output through a final layer norm and the unembedding. */
export function logits(model: ToyModel, y: Tensor): Tensor {
  return linearLayer(layerNorm(y), model.unembedding);
}

/** Samples the last position's next token from softmax(logits / temperature) with a seeded rng. */
export function sampleLast(scores: Tensor, rng: Rng, temperature = 1): number {
  const vocab = scores.shape[scores.shape.length - 1]!;
  const row = scores.data.length - vocab;
  let max = Number.NEGATIVE_INFINITY;
  for (let t = 0; t < vocab; t++) max = Math.max(max, scores.data[row + t]!);
  const weights = new Float64Array(vocab);
  let total = 0;
  for (let t = 0; t < vocab; t++) total += weights[t] = Math.exp((scores.data[row + t]! - max) / temperature);
  let u = rng.nextFloat() * total;
  for (let t = 0; t < vocab; t++) {
    u -= weights[t]!;
    if (u < 0) return t;
  }
  return vocab - 1;
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) worst = d; // NaN propagates as the worst
  }
  return worst;
}

/** float32's machine epsilon, 2^-23: the spacing of float32 values in [1, 2). */
export const FLOAT32_EPSILON = 2 ** -23;

/** How many float32 ulps (at the largest magnitude compared) "equal to float32 rounding" allows. */
export const ROUNDING_ULPS = 16;

/**
 * The bound "equal to float32 rounding" is held to: ROUNDING_ULPS ulps of the largest |value| of the
 * reference. Two exact computations that only sum in another order (flash's online softmax, the
 * decoder's one-row GEMMs against the full pass) differ by a few ulps of that scale; a wrong mask, a
 * stale cache entry or a misplaced position differs by O(1), thousands of times more.
 */
export function roundingBound(reference: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < reference.length; i++) largest = Math.max(largest, Math.abs(reference[i]!));
  return ROUNDING_ULPS * FLOAT32_EPSILON * largest;
}

/** True when `moduleUrl` is the script node was started with, false when it is imported (by a test). */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && pathToFileURL(realpathSync(script)).href === moduleUrl;
}
