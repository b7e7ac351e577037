/**
 * Rotary position embeddings (RoFormer, Su et al. 2021): the first `rotaryDim` features of every
 * row of x [B, H, L, D] are taken in pairs and each pair is rotated by the angle position · θ_i,
 * θ_i = base^(−2i / rotaryDim), so that q_m · k_n depends on the positions only through m − n.
 * Pairs: 'neox' (GPT-NeoX, Llama) pairs feature i with i + rotaryDim/2; 'interleaved' (GPT-J,
 * RoFormer) pairs 2i with 2i + 1. Features past rotaryDim pass through unchanged.
 * The angles and rotations are computed in float64 and rounded once (rope); referenceRope returns
 * the float64 result, the oracle the tests hold rope to.
 * Time O(B · H · L · rotaryDim); memory: the result (and one row of angles).
 */
import { z } from 'zod';
import { AttentionInputError, describeValue } from './errors.js';
import type { Tensor } from './types.js';
import { parseOptions, parseTensor } from './validate.js';

export interface RopeOptions {
  /**
   * Position of each row: L values (the same for every batch entry) or B·L values (per batch entry,
   * e.g. sequences at different decoding offsets). Default 0, 1, …, L − 1.
   */
  positions?: ArrayLike<number>;
  /** θ_i = base^(−2i / rotaryDim). Default 10000. */
  base?: number;
  /** Default 'neox'. */
  style?: 'neox' | 'interleaved';
  /** Features rotated (even, at most D). Default D. */
  rotaryDim?: number;
  /** Write here ([B, H, L, D], may be x itself) instead of allocating. */
  out?: Tensor;
}

const ropeOptionsSchema = z.strictObject({
  positions: z
    .custom<ArrayLike<number>>(
      (x) =>
        (Array.isArray(x) && x.every((p) => typeof p === 'number' && Number.isFinite(p))) ||
        (ArrayBuffer.isView(x) &&
          !(x instanceof DataView) &&
          !(x instanceof BigInt64Array) &&
          !(x instanceof BigUint64Array)),
      { error: 'an array or typed array of finite positions (L or B·L of them)' },
    )
    .optional(),
  base: z.number({ error: 'a finite number > 1' }).gt(1, { error: 'a finite number > 1' }).optional(),
  style: z.enum(['neox', 'interleaved']).optional(),
  rotaryDim: z.number().int().positive().optional(),
  out: z
    .custom<Tensor>((x) => typeof x === 'object' && x !== null, { error: 'a tensor { data, shape }' })
    .optional(),
});

interface RopePlan {
  readonly batch: number;
  readonly rowsPerBatch: number; // H · L
  readonly length: number;
  readonly dim: number;
  readonly rotaryDim: number;
  readonly base: number;
  readonly interleaved: boolean;
  readonly positionOf: (b: number, l: number) => number;
}

function planRope(x: Tensor, options: RopeOptions | undefined): { plan: RopePlan; own: RopeOptions } {
  const own = parseOptions(ropeOptionsSchema, options) as RopeOptions;
  const t = parseTensor(x, 'x', { rank: 4, dims: 'B, H, L, D' });
  const [batch, heads, length, dim] = t.shape as [number, number, number, number];
  const rotaryDim = own.rotaryDim ?? dim;
  if (rotaryDim > dim || rotaryDim % 2 !== 0) {
    throw new AttentionInputError(
      'options.rotaryDim',
      `an even number of features of at most ${dim} (D)`,
      describeValue(rotaryDim),
      'Rotary embeddings rotate features in pairs.',
    );
  }
  const positions = own.positions;
  if (positions !== undefined) {
    if (positions.length !== length && positions.length !== batch * length) {
      throw new AttentionInputError(
        'options.positions',
        `${length} positions (L) or ${batch * length} (B·L)`,
        `${positions.length} positions`,
        'Give each row its position: once for all batch entries, or per batch entry.',
      );
    }
    for (let i = 0; i < positions.length; i++) {
      if (!Number.isFinite(positions[i])) {
        throw new AttentionInputError(
          'options.positions',
          'finite positions',
          `${describeValue(positions[i])} at index ${i}`,
        );
      }
    }
  }
  const perBatch = positions !== undefined && positions.length === batch * length;
  const positionOf = (b: number, l: number): number =>
    positions === undefined ? l : positions[perBatch ? b * length + l : l]!;
  const plan: RopePlan = {
    batch,
    rowsPerBatch: heads * length,
    length,
    dim,
    rotaryDim,
    base: own.base ?? 10000,
    interleaved: own.style === 'interleaved',
    positionOf,
  };
  return { plan, own };
}

/** Rotates every row of `x` into `into` (float64 arithmetic; `into` may be x's own data). */
function rotate(x: ArrayLike<number>, plan: RopePlan, into: { [index: number]: number }): void {
  const { batch, rowsPerBatch, length, dim, rotaryDim, base, interleaved } = plan;
  const half = rotaryDim / 2;
  const inverseFrequency = new Float64Array(half);
  for (let i = 0; i < half; i++) inverseFrequency[i] = base ** (-(2 * i) / rotaryDim);
  for (let b = 0; b < batch; b++) {
    for (let row = 0; row < rowsPerBatch; row++) {
      const position = plan.positionOf(b, row % length);
      const start = (b * rowsPerBatch + row) * dim;
      for (let i = 0; i < half; i++) {
        const angle = position * inverseFrequency[i]!;
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        const first = start + (interleaved ? 2 * i : i);
        const second = start + (interleaved ? 2 * i + 1 : i + half);
        const a = x[first]!;
        const c = x[second]!;
        into[first] = a * cos - c * sin;
        into[second] = a * sin + c * cos;
      }
      for (let d = rotaryDim; d < dim; d++) into[start + d] = x[start + d]!;
    }
  }
}

/** x [B, H, L, D] with rotary position embeddings applied (see the file header). */
export function rope(x: Tensor, options?: RopeOptions): Tensor {
  const { plan, own } = planRope(x, options);
  let out: Tensor;
  if (own.out !== undefined) {
    out = parseTensor(own.out, 'options.out', { rank: 4, dims: 'B, H, L, D' });
    if (!out.shape.every((d, i) => d === x.shape[i])) {
      throw new AttentionInputError(
        'options.out',
        `shape [${x.shape.join(', ')}] (as x)`,
        `shape [${out.shape.join(', ')}]`,
      );
    }
  } else {
    out = { data: new Float32Array(x.data.length), shape: [...x.shape] };
  }
  rotate(x.data, plan, out.data);
  return out;
}

/** The float64 oracle of rope: the same rotation, never rounded to float32. */
export function referenceRope(x: Tensor, options?: Omit<RopeOptions, 'out'>): Float64Array {
  const { plan } = planRope(x, options);
  const out = new Float64Array(x.data.length);
  rotate(x.data, plan, out);
  return out;
}
