/**
 * Autoregressive decoding with the causal KV cache, checked against the full causal pass.
 * Run: npx -y pnpm@12.4.2 --filter @attnkit/mha examples (or, once compiled,
 * node packages/mha/build/examples/decode-loop.js).
 *
 * A prompt is fed one token per step through the toy block (its attention is a
 * createMultiHeadDecoder over @attnkit/causal's createKVCache), then the block generates greedily
 * (sampling from softmax(logits) with a seeded rng). Afterwards the whole sequence goes through the block once with the
 * full causal layer; every position's output (and its logits) must equal the token-by-token one to
 * float32 rounding (roundingBound in toy-block.ts). The process exits with code 1 when it does not.
 */

import { createKVCache } from '@attnkit/causal';
import { createRng } from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { type Backend, getEngine } from '@attnkit/kernels';
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
  transformerBlock,
} from './toy-block.js';

export const PROMPT = 'attention is ';
export const GENERATED_TOKENS = 24;
export const SAMPLER_SEED = 2024;
/** Deliberately small: the cache grows by doubling as the sequence does. */
export const INITIAL_CAPACITY = 16;

export interface DecodeLoopResult {
  readonly prompt: string;
  readonly generated: string;
  /** Positions decoded one at a time: the prompt plus the generated tokens. */
  readonly positions: number;
  /** The decoder's cache length after the last step. */
  readonly cacheLength: number;
  readonly backend: Backend;
  /** max |y_step − y_full| over every position, and the bound it is held to. */
  readonly outputDifference: number;
  readonly outputBound: number;
  /** max |logits_step − logits_full| over every position, and the bound it is held to. */
  readonly logitDifference: number;
  readonly logitBound: number;
}

/** Decodes, runs the full pass, prints what it found through `log` and returns it. */
export function main(log: (line: string) => void = console.log): DecodeLoopResult {
  const model = createToyModel();
  const prompt = encode(model, PROMPT);

  // 1. token by token: each step sees one new position; keys and values of the earlier ones come from the cache
  const decoder = createMultiHeadDecoder(model.attention, {
    heads: model.heads,
    kvHeads: model.kvHeads,
    capacity: INITIAL_CAPACITY,
    createKVCache,
  });
  const tokens = [...prompt];
  const stepOutputs: Float32Array[] = [];
  const stepLogits: Float32Array[] = [];
  const sampler = createRng(SAMPLER_SEED);
  for (let position = 0; position < prompt.length + GENERATED_TOKENS; position++) {
    const y = transformerBlock(model, embed(model, [tokens[position]!], position), (normed) =>
      decoder.step(normed),
    );
    const scores = logits(model, y);
    stepOutputs.push(y.data);
    stepLogits.push(scores.data);
    if (position + 1 >= tokens.length) tokens.push(sampleLast(scores, sampler));
  }
  tokens.length = prompt.length + GENERATED_TOKENS; // the last step's prediction has no step of its own

  // 2. the full causal pass over the same sequence, one call (dense attention with the causal mask)
  const full = transformerBlock(model, embed(model, tokens), (normed) =>
    multiHeadAttention(normed, model.attention, {
      heads: model.heads,
      kvHeads: model.kvHeads,
      causal: true,
      variant: dense,
    }),
  );

  const fullLogits = logits(model, full);
  const vocab = model.vocab.length;
  let worst = 0;
  let worstLogit = 0;
  for (let position = 0; position < tokens.length; position++) {
    const row = full.data.subarray(position * model.dModel, (position + 1) * model.dModel);
    worst = Math.max(worst, maxAbsDifference(stepOutputs[position]!, row));
    const logitRow = fullLogits.data.subarray(position * vocab, (position + 1) * vocab);
    worstLogit = Math.max(worstLogit, maxAbsDifference(stepLogits[position]!, logitRow));
  }

  const result: DecodeLoopResult = {
    prompt: decode(model, prompt),
    generated: decode(model, tokens.slice(prompt.length)),
    positions: tokens.length,
    cacheLength: decoder.length,
    backend: getEngine().backend,
    outputDifference: worst,
    outputBound: roundingBound(full.data),
    logitDifference: worstLogit,
    logitBound: roundingBound(fullLogits.data),
  };
  log(`prompt    "${result.prompt}"`);
  log(`generated "${result.generated}" (sampled from an untrained toy block, seed ${SAMPLER_SEED})`);
  log(
    `${result.positions} positions decoded one at a time with the causal KV cache (cache length ${result.cacheLength}, ` +
      `grown from capacity ${INITIAL_CAPACITY}; ${result.backend} backend)`,
  );
  log(
    `max |y_step - y_full| over every position:           ${result.outputDifference.toExponential(2)} ` +
      `(bound ${result.outputBound.toExponential(2)}: ${ROUNDING_ULPS} float32 ulps of max |y_full|)`,
  );
  log(
    `max |logits_step - logits_full| over every position: ${result.logitDifference.toExponential(2)} ` +
      `(bound ${result.logitBound.toExponential(2)}: ${ROUNDING_ULPS} float32 ulps of max |logits_full|)`,
  );
  return result;
}

if (isMain(import.meta.url)) {
  const result = main();
  if (!(result.outputDifference <= result.outputBound && result.logitDifference <= result.logitBound)) {
    console.error('decode-loop: the token-by-token pass does not equal the full pass to float32 rounding');
    process.exitCode = 1;
  }
}
