/**
 * Autoregressive decoding with the causal KV cache, checked against the full causal pass.
 * Run: node packages/mha/dist/examples/decode-loop.js
 *
 * A prompt is fed one token per step through the toy block (its attention is a
 * createMultiHeadDecoder over @attnkit/causal's createKVCache), then the block generates greedily
 * (sampling from softmax(logits) with a seeded rng). Afterwards the whole sequence goes through the block once with the
 * full causal layer; every position's output (and its logits) must equal the token-by-token one to
 * float32 rounding.
 */

import { createKVCache } from '@attnkit/causal';
import { createRng } from '@attnkit/core';
import { dense } from '@attnkit/dense';
import { getEngine } from '@attnkit/kernels';
import { createMultiHeadDecoder } from '../decoder.js';
import { multiHeadAttention } from '../multi-head-attention.js';
import {
  createToyModel,
  decode,
  embed,
  encode,
  logits,
  maxAbsDifference,
  sampleLast,
  transformerBlock,
} from './toy-block.js';

const model = createToyModel();
const prompt = encode(model, 'attention is ');
const generate = 24;

// 1. token by token: each step sees one new position; keys and values of the earlier ones come from the cache
const decoder = createMultiHeadDecoder(model.attention, {
  heads: model.heads,
  kvHeads: model.kvHeads,
  capacity: 16, // deliberately small: the cache grows by doubling as the sequence does
  createKVCache,
});
const tokens = [...prompt];
const stepOutputs: Float32Array[] = [];
const stepLogits: Float32Array[] = [];
const sampler = createRng(2024);
for (let position = 0; position < prompt.length + generate; position++) {
  const y = transformerBlock(model, embed(model, [tokens[position]!], position), (normed) =>
    decoder.step(normed),
  );
  const scores = logits(model, y);
  stepOutputs.push(y.data);
  stepLogits.push(scores.data);
  if (position + 1 >= tokens.length) tokens.push(sampleLast(scores, sampler));
}
tokens.length = prompt.length + generate; // the last step's prediction has no step of its own

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

console.log(`prompt    "${decode(model, prompt)}"`);
console.log(
  `generated "${decode(model, tokens.slice(prompt.length))}" (sampled from an untrained toy block, seed 2024)`,
);
console.log(
  `${tokens.length} positions decoded one at a time with the causal KV cache (cache length ${decoder.length}, ` +
    `grown from capacity 16; ${getEngine().backend} backend)`,
);
console.log(`max |y_step - y_full| over every position:           ${worst.toExponential(2)}`);
console.log(`max |logits_step - logits_full| over every position: ${worstLogit.toExponential(2)}`);
