/**
 * mergeAttention: the exact result of attention over a union of disjoint key sets from the partial
 * results over each set (docs/beyond-one-machine.md, docs/design.md "Merging partial results"):
 *   lse = m + log Σ_i exp(lse_i − m),   m = max_i lse_i
 *   out = Σ_i exp(lse_i − lse) · out_i
 * because softmax over the union is each part's softmax reweighted by its share of the total mass.
 * It is the primitive under split-KV decoding, chunked prefill and cascade (shared-prefix) attention.
 * A row that sees no key in a part has lse = −∞ there and contributes nothing; a row that sees no
 * key in any part stays zeros with lse = −∞; a NaN lse or output propagates to its row.
 * Computed in float64 and rounded once. Time O(parts · rows · Dv); memory: the result.
 */
import { AttentionInputError, describeValue } from './errors.js';
import type { Tensor } from './types.js';
import { parseTensor } from './validate.js';

/** One partial result: out [B, H, L, Dv] and its log-sum-exp [B·H·L] over one set of keys. */
export interface AttentionPart {
  readonly out: Tensor;
  readonly lse: Float32Array;
}

export interface MergeOptions {
  /** Write the merged output here ([B, H, L, Dv]) instead of allocating. */
  out?: Tensor;
  /** Write the merged log-sum-exp here (length B·H·L) instead of allocating. */
  lse?: Float32Array;
}

/**
 * Rows of the merge over typed arrays: `outs[i]` holds rows × valueDim values, `lses[i]` rows values;
 * writes `out` and `lse` (which may be any of the inputs' own arrays: each row is read before it is
 * written). The one implementation of the merge identity; mergeAttention validates and calls it.
 */
export function mergeAttentionRows(
  outs: readonly ArrayLike<number>[],
  lses: readonly ArrayLike<number>[],
  rows: number,
  valueDim: number,
  out: { [index: number]: number },
  lse: { [index: number]: number },
): void {
  const parts = outs.length;
  const weights = new Float64Array(parts);
  const row = new Float64Array(valueDim);
  for (let r = 0; r < rows; r++) {
    // 1. the largest lse (NaN if any part's is NaN)
    let max = Number.NEGATIVE_INFINITY;
    let nan = false;
    for (let i = 0; i < parts; i++) {
      const l = lses[i]![r]!;
      if (Number.isNaN(l)) nan = true;
      else if (l > max) max = l;
    }
    if (nan) {
      lse[r] = Number.NaN;
      for (let c = 0; c < valueDim; c++) out[r * valueDim + c] = Number.NaN;
      continue;
    }
    if (max === Number.NEGATIVE_INFINITY) {
      // no part saw a key: zeros and −∞ (docs/design.md, Masks)
      lse[r] = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < valueDim; c++) out[r * valueDim + c] = 0;
      continue;
    }
    // 2. weights exp(lse_i − max); parts at +∞ (saturated scores) share the weight equally
    let sum = 0;
    for (let i = 0; i < parts; i++) {
      const l = lses[i]![r]!;
      const w = max === Number.POSITIVE_INFINITY ? (l === max ? 1 : 0) : Math.exp(l - max);
      weights[i] = w;
      sum += w;
    }
    // 3. out = Σ w_i / sum · out_i; lse = max + log(sum)
    row.fill(0);
    for (let i = 0; i < parts; i++) {
      const w = weights[i]! / sum;
      if (w === 0) continue; // a part with no mass contributes nothing, whatever its out holds
      const part = outs[i]!;
      for (let c = 0; c < valueDim; c++) row[c] = row[c]! + w * part[r * valueDim + c]!;
    }
    for (let c = 0; c < valueDim; c++) out[r * valueDim + c] = row[c]!;
    lse[r] = max + Math.log(sum);
  }
}

/**
 * Merges partial attention results over disjoint key sets into the exact result over their union.
 * Every part's out must have the same shape [B, H, L, Dv] and its lse B·H·L values.
 */
export function mergeAttention(
  parts: readonly AttentionPart[],
  options: MergeOptions = {},
): { out: Tensor; lse: Float32Array } {
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new AttentionInputError(
      'parts',
      'a non-empty array of { out, lse } partial results',
      describeValue(parts),
      'Pass one { out, lse } per disjoint key set.',
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new AttentionInputError('options', 'an options object or undefined', describeValue(options));
  }
  const unknown = Object.keys(options).find((key) => key !== 'out' && key !== 'lse');
  if (unknown !== undefined) {
    throw new AttentionInputError(
      `options.${unknown}`,
      'only options this function knows (out, lse)',
      `unknown option '${unknown}'`,
      'Remove it: an option that cannot be honoured is refused rather than ignored.',
    );
  }
  const first = parseTensor(parts[0]?.out, 'parts[0].out', { rank: 4, dims: 'B, H, L, Dv' });
  const shape = first.shape;
  const valueDim = shape[3]!;
  const rows = first.data.length / valueDim;
  const same = (t: Tensor) => t.shape.length === 4 && t.shape.every((d, i) => d === shape[i]);
  parts.forEach((part, i) => {
    const out = parseTensor(part?.out, `parts[${i}].out`, { rank: 4, dims: 'B, H, L, Dv' });
    if (!same(out)) {
      throw new AttentionInputError(
        `parts[${i}].out`,
        `shape [${shape.join(', ')}] (as parts[0].out)`,
        `shape [${out.shape.join(', ')}]`,
        'Every part is a result for the same queries: only the keys differ.',
      );
    }
    if (!(part.lse instanceof Float32Array) || part.lse.length !== rows) {
      throw new AttentionInputError(
        `parts[${i}].lse`,
        `a Float32Array of ${rows} values (B·H·L)`,
        describeValue(part.lse),
        'Ask the variant for it with its lse option.',
      );
    }
  });
  const out = options.out ?? { data: new Float32Array(first.data.length), shape: [...shape] };
  if (options.out !== undefined) {
    const target = parseTensor(options.out, 'options.out', { rank: 4, dims: 'B, H, L, Dv' });
    if (!same(target)) {
      throw new AttentionInputError(
        'options.out',
        `shape [${shape.join(', ')}]`,
        `shape [${target.shape.join(', ')}]`,
      );
    }
  }
  const lse = options.lse ?? new Float32Array(rows);
  if (!(lse instanceof Float32Array) || lse.length !== rows) {
    throw new AttentionInputError('options.lse', `a Float32Array of ${rows} values`, describeValue(lse));
  }
  mergeAttentionRows(
    parts.map((p) => p.out.data),
    parts.map((p) => p.lse),
    rows,
    valueDim,
    out.data,
    lse,
  );
  return { out, lse };
}
