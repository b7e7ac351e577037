/**
 * Case inputs, identical in every process: q, k, v come from core's seeded randn (bit-identical
 * on every platform), so a child process (memory, peers) rebuilds exactly the tensors the parent
 * checked against the oracle.
 */
import { randn, type Tensor } from '@attnkit/core';
import type { CaseShape } from './suite-schema.js';

export interface AttentionInputs {
  readonly q: Tensor;
  readonly k: Tensor;
  readonly v: Tensor;
}

export function makeInputs(shape: CaseShape, seed: number): AttentionInputs {
  const { batch, qHeads, kvHeads, qLength, kvLength, headDim, valueDim } = shape;
  return {
    q: randn([batch, qHeads, qLength, headDim], seed >>> 0),
    k: randn([batch, kvHeads, kvLength, headDim], (seed + 0x9e3779b9) >>> 0),
    v: randn([batch, kvHeads, kvLength, valueDim], (seed + 0x3c6ef372) >>> 0),
  };
}

/** Bytes of q, k, v and the output: the part of a call's footprint every variant shares. */
export function ioBytes(shape: CaseShape): number {
  const { batch, qHeads, kvHeads, qLength, kvLength, headDim, valueDim } = shape;
  const q = batch * qHeads * qLength * headDim;
  const kv = batch * kvHeads * kvLength * (headDim + valueDim);
  const out = batch * qHeads * qLength * valueDim;
  return 4 * (q + kv + out);
}

/**
 * The last `rows` query rows of every (b, h) of a [B, H, L, D] array. Bottom-right alignment
 * (docs/design.md, Masks: query i sits at key position i + Lk − Lq) means these rows, taken as a query
 * tensor of length `rows` on their own, keep exactly their mask: the oracle can check a slice.
 */
export function lastRows(data: ArrayLike<number>, shape: readonly number[], rows: number): Float32Array;
export function lastRows(
  data: ArrayLike<number>,
  shape: readonly number[],
  rows: number,
  precision: 'float64',
): Float64Array;
export function lastRows(
  data: ArrayLike<number>,
  shape: readonly number[],
  rows: number,
  precision: 'float32' | 'float64' = 'float32',
): Float32Array | Float64Array {
  const [batch = 1, heads = 1, length = 1, dim = 1] = shape;
  const take = Math.min(rows, length);
  const size = batch * heads * take * dim;
  const result = precision === 'float64' ? new Float64Array(size) : new Float32Array(size);
  let write = 0;
  for (let bh = 0; bh < batch * heads; bh++) {
    const start = (bh * length + (length - take)) * dim;
    for (let i = 0; i < take * dim; i++) result[write++] = data[start + i] ?? Number.NaN;
  }
  return result;
}

export function lastRowsTensor(t: Tensor, rows: number): Tensor {
  const [batch = 1, heads = 1, length = 1, dim = 1] = t.shape;
  const take = Math.min(rows, length);
  return { data: lastRows(t.data, t.shape, rows), shape: [batch, heads, take, dim] };
}
