/**
 * The log-sum-exp merge: two attention results over disjoint key sets A and B combine exactly,
 *   lse = m + log(exp(lse_A − m) + exp(lse_B − m)),   m = max(lse_A, lse_B)
 *   out = exp(lse_A − lse) · out_A + exp(lse_B − lse) · out_B
 * because softmax over A ∪ B is the two partial softmaxes reweighted by their share of the total
 * mass. Flash attention applies it between key blocks inside one call; ring attention applies it
 * between devices, each holding one block of keys and passing its (out, lse) around the ring.
 * A row that sees no key in a part has lse = −∞ there and contributes nothing.
 * Time O(rows · Dv) per merge; memory: the merged result.
 */
import { mergeAttentionRows, randn, referenceAttention, type Tensor } from '@attnkit/core';

export interface PartialAttention {
  /** [rows, Dv] row-major */
  readonly out: Float64Array;
  /** [rows] */
  readonly lse: Float64Array;
}

/** Merges two partial results of the same rows (float64; core's mergeAttentionRows). */
export function mergePartials(a: PartialAttention, b: PartialAttention, valueDim: number): PartialAttention {
  const rows = a.lse.length;
  const out = new Float64Array(rows * valueDim);
  const lse = new Float64Array(rows);
  mergeAttentionRows([a.out, b.out], [a.lse, b.lse], rows, valueDim, out, lse);
  return { out, lse };
}

/** Keys [start, end) of a [B, H, L, D] tensor. */
export function keySlice(t: Tensor, start: number, end: number): Tensor {
  const [batch = 1, heads = 1, length = 1, dim = 1] = t.shape;
  const take = end - start;
  const data = new Float32Array(batch * heads * take * dim);
  for (let bh = 0; bh < batch * heads; bh++) {
    data.set(t.data.subarray((bh * length + start) * dim, (bh * length + end) * dim), bh * take * dim);
  }
  return { data, shape: [batch, heads, take, dim] };
}

export interface LseMergeDemo {
  readonly shape: { batch: number; heads: number; qLength: number; kvLength: number; headDim: number };
  readonly parts: number;
  /** max |merged − full| over out and lse (float64 throughout). */
  readonly maxAbsOut: number;
  readonly maxAbsLse: number;
  /** The largest |out| of the full result, to read the difference against. */
  readonly maxAbsReference: number;
}

/**
 * Splits the keys of an unmasked problem into `parts` contiguous blocks (the "devices" of a
 * ring), runs core's oracle on each block, merges the partial (out, lse) pairs one after the
 * other as they would arrive around the ring, and compares with the oracle on all keys.
 */
export function lseMergeDemo(parts = 4, seed = 7, length = 96, headDim = 16, heads = 2): LseMergeDemo {
  const q = randn([1, heads, length, headDim], seed);
  const k = randn([1, heads, length, headDim], seed + 1);
  const v = randn([1, heads, length, headDim], seed + 2);
  const full = referenceAttention(q, k, v);
  let merged: PartialAttention | null = null;
  for (let p = 0; p < parts; p++) {
    const start = Math.floor((p * length) / parts);
    const end = Math.floor(((p + 1) * length) / parts);
    const partial = referenceAttention(q, keySlice(k, start, end), keySlice(v, start, end));
    merged = merged ? mergePartials(merged, partial, headDim) : partial;
  }
  if (!merged) throw new Error('parts must be at least 1');
  let maxAbsOut = 0;
  let maxAbsLse = 0;
  let maxAbsReference = 0;
  for (let i = 0; i < full.out.length; i++) {
    maxAbsOut = Math.max(maxAbsOut, Math.abs((merged.out[i] ?? 0) - (full.out[i] ?? 0)));
    maxAbsReference = Math.max(maxAbsReference, Math.abs(full.out[i] ?? 0));
  }
  for (let i = 0; i < full.lse.length; i++)
    maxAbsLse = Math.max(maxAbsLse, Math.abs((merged.lse[i] ?? 0) - (full.lse[i] ?? 0)));
  return {
    shape: { batch: 1, heads, qLength: length, kvLength: length, headDim },
    parts,
    maxAbsOut,
    maxAbsLse,
    maxAbsReference,
  };
}
