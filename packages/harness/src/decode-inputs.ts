/**
 * A decode case's inputs, identical in every process (the parent's caches, the peer's child): the
 * new tokens' queries and each sequence's keys and values as prefill chunks of core's seeded randn,
 * [1, Hkv, chunk, D] each, so a cache is filled by large appends and the peer rebuilds the same past.
 * The float64 oracle of the step reads the same chunks.
 */
import { randn, type Tensor } from '@attnkit/core';
import { visibleSpan } from './decode-model.js';
import type { CaseShape } from './suite-schema.js';

export interface KvChunk {
  /** First position of the chunk in its sequence. */
  readonly start: number;
  /** [1, Hkv, count, Dk] */
  readonly k: Tensor;
  /** [1, Hkv, count, Dv] */
  readonly v: Tensor;
}

export interface DecodeInputs {
  /** [S, Hq, 1, Dk]: one new token's queries per sequence. */
  readonly q: Tensor;
  /** Per sequence, its positions [0, length) in order (the new token's key and value last). */
  readonly chunks: readonly (readonly KvChunk[])[];
}

/** A 32-bit seed for (case seed, sequence, chunk, part): distinct streams, the same in every process. */
function chunkSeed(seed: number, sequence: number, chunk: number, part: number): number {
  let hash = (seed ^ 0x85ebca6b) >>> 0;
  for (const word of [sequence, chunk, part]) {
    hash = Math.imul(hash ^ (word + 0x9e3779b9), 0x01000193) >>> 0;
    hash ^= hash >>> 15;
  }
  return hash >>> 0;
}

/** The chunks of one sequence of `length` positions. */
export function sequenceChunks(
  shape: Pick<CaseShape, 'kvHeads' | 'headDim' | 'valueDim'>,
  length: number,
  chunk: number,
  seed: number,
  sequence: number,
): KvChunk[] {
  const chunks: KvChunk[] = [];
  for (let start = 0, c = 0; start < length; start += chunk, c++) {
    const count = Math.min(chunk, length - start);
    chunks.push({
      start,
      k: randn([1, shape.kvHeads, count, shape.headDim], chunkSeed(seed, sequence, c, 1)),
      v: randn([1, shape.kvHeads, count, shape.valueDim], chunkSeed(seed, sequence, c, 2)),
    });
  }
  return chunks;
}

export function makeDecodeInputs(
  shape: CaseShape,
  lengths: readonly number[],
  chunk: number,
  seed: number,
): DecodeInputs {
  return {
    q: randn([lengths.length, shape.qHeads, 1, shape.headDim], chunkSeed(seed, 0xffff, 0, 0)),
    chunks: lengths.map((length, s) => sequenceChunks(shape, length, chunk, seed, s)),
  };
}

/** Copies positions [from, to) of kv head g of a sequence's chunks into `into` (rows of `dim`). */
export function copyPositions(
  chunks: readonly KvChunk[],
  part: 'k' | 'v',
  g: number,
  from: number,
  to: number,
  into: Float32Array,
  offset = 0,
): void {
  for (const chunk of chunks) {
    const tensor = chunk[part];
    const [, heads = 1, count = 0, dim = 0] = tensor.shape;
    const lo = Math.max(from, chunk.start);
    const hi = Math.min(to, chunk.start + count);
    if (lo >= hi) continue;
    const base = (g * count + (lo - chunk.start)) * dim;
    into.set(tensor.data.subarray(base, base + (hi - lo) * dim), offset + (lo - from) * dim);
    if (g >= heads) throw new RangeError(`kv head ${g} of ${heads}`);
  }
}

/**
 * The float64 result of the step: for each sequence s and query head h, softmax(scale · q·kⱼ)·vⱼ
 * over the visible positions of s (the last span of its length), kv head h / (Hq / Hkv). [S, Hq, Dv].
 */
export function decodeOracle(
  shape: CaseShape,
  inputs: DecodeInputs,
  lengths: readonly number[],
  window: number | undefined,
): Float64Array {
  const { qHeads, kvHeads, headDim, valueDim } = shape;
  const group = qHeads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float64Array(lengths.length * qHeads * valueDim);
  const scores = new Float64Array(Math.max(...lengths));
  lengths.forEach((length, s) => {
    const span = visibleSpan(length, window);
    const from = length - span;
    const keys = new Float32Array(span * headDim);
    const values = new Float32Array(span * valueDim);
    for (let g = 0; g < kvHeads; g++) {
      copyPositions(inputs.chunks[s]!, 'k', g, from, length, keys);
      copyPositions(inputs.chunks[s]!, 'v', g, from, length, values);
      for (let h = g * group; h < (g + 1) * group; h++) {
        const q = inputs.q.data.subarray((s * qHeads + h) * headDim, (s * qHeads + h + 1) * headDim);
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < span; j++) {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[d]! * keys[j * headDim + d]!;
          scores[j] = dot * scale;
          if (scores[j]! > max) max = scores[j]!;
        }
        let sum = 0;
        for (let j = 0; j < span; j++) {
          scores[j] = Math.exp(scores[j]! - max);
          sum += scores[j]!;
        }
        const row = (s * qHeads + h) * valueDim;
        for (let j = 0; j < span; j++) {
          const p = scores[j]! / sum;
          for (let d = 0; d < valueDim; d++) out[row + d]! += p * values[j * valueDim + d]!;
        }
      }
    }
  });
  return out;
}
