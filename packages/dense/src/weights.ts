/**
 * The attention probabilities themselves, [B, Hq, Lq, Lk], for inspection (which keys each query
 * attends to). Same masks, scale and GQA mapping as denseAttention; rows that see no key are zeros.
 * Time O(B·Hq·Lq·Lk·Dk); memory: the returned tensor plus the arena copies of q, k and one score buffer.
 */
import { AttentionInputError, parseAttentionCall, type Tensor } from '@attnkit/core';
import {
  attendRows,
  createQueryBlockItem,
  engineFor,
  headOffsetsInto,
  placeAttention,
} from '@attnkit/kernels/runtime';
import { checkScoresBudget } from './dense.js';
import { DEFAULT_MAX_SCORES_BYTES, type DenseOptions, denseOptionsSchema } from './options.js';

export type AttentionWeightsOptions = Omit<DenseOptions, 'out'>;

/**
 * attendRows needs values; the weights need none, so a one-column zero V of k's (B, Hkv, Lk) stands
 * in (its P·V costs Lq·Lk per head, next to the Lq·Lk·Dk of the scores). A malformed k is passed
 * through so validation reports k itself.
 */
function placeholderValues(k: Tensor): Tensor {
  const shape = k?.shape;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0))
    return k;
  const [b, h, l] = shape as [number, number, number, number];
  return { data: new Float32Array(b * h * l), shape: [b, h, l, 1] };
}

/** softmax(scale · q·kᵀ + mask) per (b, h): a new tensor [B, Hq, Lq, Lk] (the `out` option is refused). */
export function attentionWeights(q: Tensor, k: Tensor, options: AttentionWeightsOptions = {}): Tensor {
  if (typeof options === 'object' && options !== null && (options as DenseOptions).out !== undefined) {
    throw new AttentionInputError(
      'options.out',
      'no out tensor (attentionWeights allocates its [B, Hq, Lq, Lk] result)',
      'an out tensor',
      'Remove options.out; use denseAttention to write attention outputs into a tensor.',
    );
  }
  const v = placeholderValues(k);
  const { problem, options: own, lse } = parseAttentionCall(q, k, v, options, denseOptionsSchema);
  if (own.threads !== undefined && own.threads > 1) {
    throw new AttentionInputError(
      'options.threads',
      '1 (attentionWeights computes its heads on the calling thread)',
      String(own.threads),
      'Leave threads out; denseAttention and the other variants run on threads.',
    );
  }
  const { batch, qHeads, qLength, kvLength } = problem;
  const total = batch * qHeads * qLength * kvLength;
  checkScoresBudget(
    total * 4,
    own.maxScoresBytes ?? DEFAULT_MAX_SCORES_BYTES,
    `the [${batch}, ${qHeads}, ${qLength}, ${kvLength}] weights`,
  );
  const engine = engineFor(own.backend);
  const result: Tensor = { data: new Float32Array(total), shape: [batch, qHeads, qLength, kvLength] };
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const scores = engine.arena.alloc(qLength * kvLength);
    const head = createQueryBlockItem();
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < qHeads; h++) {
        // All keys, so the weights tensor is laid out [Lq, Lk]; hidden ones come out as exact zeros.
        headOffsetsInto(problem, placed, b, h, head);
        attendRows(engine, problem, head, b, 0, qLength, 0, kvLength, scores);
        engine.arena.read(scores, qLength * kvLength, result.data, (b * qHeads + h) * qLength * kvLength);
      }
    }
    if (lse) engine.arena.read(placed.lse, batch * qHeads * qLength, lse);
    return result;
  } finally {
    engine.arena.release(placed.mark);
  }
}
