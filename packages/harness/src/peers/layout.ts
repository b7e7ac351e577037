/** Layout conversions and the additive mask the peers' graphs take (outside any timed region). */
import { isVisible } from '@attnkit/core';
import { problemFor } from '../flops.js';
import type { CaseShape, MaskSpec } from '../suite.js';

/** [B, H, S, D] → [B, S, H·D] (what com.microsoft MultiHeadAttention takes). */
export function bhsdToBshd(data: Float32Array, shape: readonly number[]): Float32Array {
  const [batch = 1, heads = 1, length = 1, dim = 1] = shape;
  const result = new Float32Array(data.length);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let s = 0; s < length; s++) {
        const from = ((b * heads + h) * length + s) * dim;
        const to = ((b * length + s) * heads + h) * dim;
        result.set(data.subarray(from, from + dim), to);
      }
  return result;
}

/** [B, S, H, D] (as [B, S, H·D]) → [B, H, S, D]. */
export function bshdToBhsd(
  data: Float32Array,
  shape: readonly [number, number, number, number],
): Float32Array {
  const [batch, length, heads, dim] = shape;
  const result = new Float32Array(data.length);
  for (let b = 0; b < batch; b++)
    for (let s = 0; s < length; s++)
      for (let h = 0; h < heads; h++) {
        const from = ((b * length + s) * heads + h) * dim;
        const to = ((b * heads + h) * length + s) * dim;
        result.set(data.subarray(from, from + dim), to);
      }
  return result;
}

/** [Lq, Lk] additive mask: 0 where core's mask says visible, −∞ where hidden (exp(−∞) = 0 exactly). */
export function additiveMask(shape: CaseShape, mask: MaskSpec): Float32Array {
  const problem = problemFor(shape, mask);
  const { qLength, kvLength } = shape;
  const result = new Float32Array(qLength * kvLength);
  for (let i = 0; i < qLength; i++)
    for (let j = 0; j < kvLength; j++) {
      const visible = isVisible(i, j, qLength, kvLength, problem.windowLeft, problem.windowRight, kvLength);
      result[i * kvLength + j] = visible ? 0 : Number.NEGATIVE_INFINITY;
    }
  return result;
}
