/**
 * Parallel sampling through the paged KV cache with rotary position embeddings, checked against the
 * full pass. Run: npx -y pnpm@12.4.2 --filter @attnkit/mha examples (or, once compiled,
 * node packages/mha/build/examples/paged-decode.js).
 *
 * The toy block's attention is a createMultiHeadDecoder whose cache is a view of @attnkit/causal's
 * createPagedKVCache, which applies RoPE itself (to keys on append, to queries on attend, at each
 * sequence's positions). The prompt is prefilled once, in one step, into one sequence; the sequence
 * is forked into SAMPLES sequences that share the prompt's pages copy-on-write; a second decoder over
 * the view of all of them generates, one token per sequence per step, each sequence sampling with its
 * own seed, so the continuations diverge. Afterwards each whole sequence goes through the block once
 * with the full causal layer (dense attention with RoPE applied to its q and k): every position's
 * output and logits must equal the decoded ones to float32 rounding (roundingBound in toy-block.ts).
 * The process exits with code 1 when they do not.
 */

import { createPagedKVCache } from '@attnkit/causal';
import { type AttentionVariant, createRng, type RopeOptions, rope, type Tensor } from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { createMultiHeadDecoder, multiHeadAttention } from '@attnkit/mha';
import {
  createToyModel,
  decode,
  embed,
  encode,
  isMain,
  logits,
  maxAbsDifference,
  ROUNDING_ULPS,
  roundingBound,
  sampleLast,
  type ToyModel,
  transformerBlock,
} from './toy-block.js';

export const PROMPT = 'attention is ';
export const SAMPLES = 3;
export const GENERATED_TOKENS = 16;
export const SAMPLER_SEED = 99;
/** Small pages, so the prompt ends inside a page and the first write of each fork copies it. */
export const PAGE_SIZE = 4;
export const ROPE: RopeOptions = { base: 10000, style: 'neox' };

export interface PagedDecodeResult {
  readonly prompt: string;
  readonly samples: readonly string[];
  /** Positions of each sequence: the prompt plus the generated tokens. */
  readonly positions: number;
  /** Pages in use after the prompt, after forking it, and at the end. */
  readonly pagesAfterPrompt: number;
  readonly pagesAfterFork: number;
  readonly pagesAtEnd: number;
  /** Pages SAMPLES unshared sequences of `positions` would take. */
  readonly pagesUnshared: number;
  /** max |y_step − y_full| over every position of every sample, and the bound it is held to. */
  readonly outputDifference: number;
  readonly outputBound: number;
  /** max |logits_step − logits_full|, and its bound. */
  readonly logitDifference: number;
  readonly logitBound: number;
}

/** Rows of a [B, L, D] tensor as B tensors [1, L, D], and back. */
function rowOf(t: Tensor, b: number): Tensor {
  const [, length, width] = t.shape as [number, number, number];
  return { data: t.data.slice(b * length * width, (b + 1) * length * width), shape: [1, length, width] };
}
function stackRows(rows: readonly Tensor[]): Tensor {
  const [, length, width] = rows[0]!.shape as [number, number, number];
  const data = new Float32Array(rows.length * length * width);
  rows.forEach((row, b) => {
    data.set(row.data, b * length * width);
  });
  return { data, shape: [rows.length, length, width] };
}

/** Dense attention with RoPE applied to q and k at positions 0 … L − 1: the full pass's attention. */
const denseWithRope: AttentionVariant = {
  ...dense,
  name: 'dense + rope',
  forward: (q, k, v, options) => dense.forward(rope(q, ROPE), rope(k, ROPE), v, options),
};

/** The full causal pass over one whole sequence: outputs [1, L, dModel] and logits. */
function fullPass(model: ToyModel, tokens: readonly number[]) {
  const y = transformerBlock(model, embed(model, tokens), (normed) =>
    multiHeadAttention(normed, model.attention, {
      heads: model.heads,
      kvHeads: model.kvHeads,
      causal: true,
      variant: denseWithRope,
    }),
  );
  return { y, logits: logits(model, y) };
}

/** Decodes, runs the full passes, prints what it found through `log` and returns it. */
export function main(log: (line: string) => void = console.log): PagedDecodeResult {
  const model = createToyModel();
  const prompt = encode(model, PROMPT);
  const headDim = model.attention.wq.shape[1]! / model.heads;
  const valueDim = model.attention.wv.shape[1]! / model.kvHeads;
  const cache = createPagedKVCache({
    kvHeads: model.kvHeads,
    headDim,
    valueDim,
    pageSize: PAGE_SIZE,
    rope: ROPE,
  });
  const heads = { heads: model.heads, kvHeads: model.kvHeads };

  // 1. the prompt, once, in one step (its positions causal among themselves)
  const first = cache.addSequence();
  const prefill = createMultiHeadDecoder(model.attention, {
    ...heads,
    createKVCache: () => cache.view([first]),
  });
  const promptOut = transformerBlock(model, embed(model, prompt), (normed) => prefill.step(normed));
  const promptLogits = logits(model, promptOut);
  const pagesAfterPrompt = cache.pagesInUse;

  // 2. fork: every sample starts from the prompt's pages, shared
  const ids = [first];
  while (ids.length < SAMPLES) ids.push(cache.fork(first));
  const pagesAfterFork = cache.pagesInUse;
  const generator = createMultiHeadDecoder(model.attention, {
    ...heads,
    batch: SAMPLES,
    createKVCache: () => cache.view(ids),
  });

  // 3. generate: one token per sample per step, each sample with its own sampler
  const samplers = ids.map((_, s) => createRng(SAMPLER_SEED + s));
  const tokens = ids.map((_, s) => [...prompt, sampleLast(promptLogits, samplers[s]!)]);
  const stepOutputs: Float32Array[][] = ids.map(() => []);
  const stepLogits: Float32Array[][] = ids.map(() => []);
  for (let position = prompt.length; position < prompt.length + GENERATED_TOKENS; position++) {
    const x = stackRows(tokens.map((sequence) => embed(model, [sequence[position]!], position)));
    const y = transformerBlock(model, x, (normed) => generator.step(normed));
    tokens.forEach((sequence, s) => {
      const scores = logits(model, rowOf(y, s));
      stepOutputs[s]!.push(rowOf(y, s).data);
      stepLogits[s]!.push(scores.data);
      if (position + 1 < prompt.length + GENERATED_TOKENS) sequence.push(sampleLast(scores, samplers[s]!));
    });
  }

  // 4. each whole sequence through the full causal layer with RoPE, compared position by position
  const { dModel } = model;
  const vocab = model.vocab.length;
  let worst = 0;
  let worstLogit = 0;
  let outputBound = 0;
  let logitBound = 0;
  tokens.forEach((sequence, s) => {
    const full = fullPass(model, sequence);
    outputBound = Math.max(outputBound, roundingBound(full.y.data));
    logitBound = Math.max(logitBound, roundingBound(full.logits.data));
    const decoded = [promptOut.data, ...stepOutputs[s]!];
    const decodedLogits = [promptLogits.data, ...stepLogits[s]!];
    let position = 0;
    decoded.forEach((rows, i) => {
      const count = rows.length / dModel;
      const fullRows = full.y.data.subarray(position * dModel, (position + count) * dModel);
      worst = Math.max(worst, maxAbsDifference(rows, fullRows));
      const fullLogits = full.logits.data.subarray(position * vocab, (position + count) * vocab);
      worstLogit = Math.max(worstLogit, maxAbsDifference(decodedLogits[i]!, fullLogits));
      position += count;
    });
  });

  const positions = prompt.length + GENERATED_TOKENS;
  const result: PagedDecodeResult = {
    prompt: decode(model, prompt),
    samples: tokens.map((sequence) => decode(model, sequence.slice(prompt.length))),
    positions,
    pagesAfterPrompt,
    pagesAfterFork,
    pagesAtEnd: cache.pagesInUse,
    pagesUnshared: SAMPLES * Math.ceil(positions / PAGE_SIZE),
    outputDifference: worst,
    outputBound,
    logitDifference: worstLogit,
    logitBound,
  };
  log(`prompt    "${result.prompt}" (prefilled once, then forked into ${SAMPLES} samples)`);
  result.samples.forEach((sample, s) => {
    log(`sample ${s}  "${sample}" (seed ${SAMPLER_SEED + s}, an untrained toy block)`);
  });
  log(
    `pages of ${PAGE_SIZE} positions in use: ${result.pagesAfterPrompt} after the prompt, ${result.pagesAfterFork} after forking, ` +
      `${result.pagesAtEnd} at the end (${result.pagesUnshared} without sharing); RoPE applied by the cache (${cache.backend} backend)`,
  );
  log(
    `max |y_step - y_full| over every position of every sample: ${result.outputDifference.toExponential(2)} ` +
      `(bound ${result.outputBound.toExponential(2)}: ${ROUNDING_ULPS} float32 ulps of max |y_full|)`,
  );
  log(
    `max |logits_step - logits_full|:                           ${result.logitDifference.toExponential(2)} ` +
      `(bound ${result.logitBound.toExponential(2)})`,
  );
  return result;
}

if (isMain(import.meta.url)) {
  const result = main();
  if (!(result.outputDifference <= result.outputBound && result.logitDifference <= result.logitBound)) {
    console.error('paged-decode: the paged decode does not equal the full pass to float32 rounding');
    process.exitCode = 1;
  }
}
