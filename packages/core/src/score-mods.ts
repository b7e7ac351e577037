/**
 * Score modifiers (docs/design.md, Masks, "Order of operations"): functions of the scaled score applied
 * in order before the mask, through the `scoreMod` option (one or an array):
 *   s = scale · q·k + bias  →  modifiers in order  →  mask  →  softmax (with sink)  →  P·V.
 * alibi and softcap are built in (the engine runs them); scoreFunction is the slow path for anything
 * else (a JS call per visible-tile element, on the calling thread).
 */
import { AttentionInputError, describeValue } from './errors.js';

/** ALiBi (Press et al. 2022): s += slopes[h] · (j − p(i)), p(i) the query's key position. */
export interface AlibiMod {
  readonly kind: 'alibi';
  readonly slopes: readonly number[];
}
/** Gemma-2's logit softcapping: s = cap · tanh(s / cap). */
export interface SoftcapMod {
  readonly kind: 'softcap';
  readonly cap: number;
}
/** FlexAttention's score_mod: s = fn(s, b, h, i, j) for every element of the tiles a row may see. */
export interface ScoreFunctionMod {
  readonly kind: 'scoreFunction';
  readonly fn: ScoreFunction;
}
export type ScoreFunction = (score: number, b: number, h: number, i: number, j: number) => number;
export type ScoreMod = AlibiMod | SoftcapMod | ScoreFunctionMod;

const MADE = new WeakSet<object>();

function made<T extends ScoreMod>(mod: T): T {
  Object.freeze(mod);
  MADE.add(mod);
  return mod;
}

/** True for a value made by this module's constructors (the `scoreMod` option's schema check). */
export function isScoreMod(value: unknown): value is ScoreMod {
  return typeof value === 'object' && value !== null && MADE.has(value as object);
}

/** ALiBi with one slope per query head (alibiSlopes(Hq) gives the paper's). */
export function alibi(slopes: ArrayLike<number>): AlibiMod {
  const list = Array.from(slopes ?? [], Number);
  if (list.length === 0 || !list.every(Number.isFinite)) {
    throw new AttentionInputError(
      'slopes',
      'a non-empty array of finite numbers (one per query head)',
      describeValue(slopes),
      'alibiSlopes(heads) gives the geometric slopes of the ALiBi paper.',
    );
  }
  return made({ kind: 'alibi', slopes: Object.freeze(list) });
}

/**
 * The ALiBi paper's slopes for `heads` heads: 2^(−8k/n) for k = 1..n when n is a power of two; else
 * the slopes of the next lower power of two followed by every other slope of twice that many (the
 * reference implementation's rule).
 */
export function alibiSlopes(heads: number): number[] {
  if (!Number.isInteger(heads) || heads < 1) {
    throw new AttentionInputError('heads', 'a positive integer', describeValue(heads));
  }
  const powerOfTwo = (n: number) => Array.from({ length: n }, (_, k) => 2 ** ((-8 * (k + 1)) / n));
  const lower = 2 ** Math.floor(Math.log2(heads));
  if (lower === heads) return powerOfTwo(heads);
  const extra = powerOfTwo(2 * lower).filter((_, k) => k % 2 === 0);
  return [...powerOfTwo(lower), ...extra.slice(0, heads - lower)];
}

/** Logit softcapping: s = cap · tanh(s / cap), cap a finite positive number. */
export function softcap(cap: number): SoftcapMod {
  if (!(typeof cap === 'number' && Number.isFinite(cap) && cap > 0)) {
    throw new AttentionInputError('cap', 'a finite number > 0', describeValue(cap));
  }
  return made({ kind: 'softcap', cap });
}

/**
 * Any score modifier as a function (score, b, h, i, j) → number. The slow path: called from JS for
 * every element of every tile a row may see (hidden elements are masked after it), on the calling
 * thread only (a call with one runs on one thread; functions do not cross to workers).
 */
export function scoreFunction(fn: ScoreFunction): ScoreFunctionMod {
  if (typeof fn !== 'function') {
    throw new AttentionInputError('fn', 'a function (score, b, h, i, j) => number', describeValue(fn));
  }
  return made({ kind: 'scoreFunction', fn });
}

/**
 * The scores of the reference loops (oracle and naive; docs/design.md, Masks, "Order of operations"):
 * s (the scaled score) + bias, then each modifier in order, with `round` after every operation
 * (identity for the float64 oracle, Math.fround for the float32 yardstick). `functions` is the call's
 * options.scoreMod list (the problem names a scoreFunction by its index there). No saturation here:
 * the oracle clamps the result itself.
 */
export function referenceScore(
  problem: {
    readonly scoreMods: readonly (
      | { readonly kind: 'alibi'; readonly slopes: readonly number[] }
      | { readonly kind: 'softcap'; readonly cap: number }
      | { readonly kind: 'scoreFunction'; readonly index: number }
    )[];
    readonly bias: { readonly batchStride: number; readonly headStride: number } | null;
    readonly kvLength: number;
  },
  functions: readonly ScoreMod[],
  bias: Float32Array | null,
  position: number,
  b: number,
  h: number,
  i: number,
  j: number,
  score: number,
  round: (x: number) => number,
): number {
  let s = score;
  if (problem.bias && bias) {
    s = round(
      s + bias[b * problem.bias.batchStride + h * problem.bias.headStride + i * problem.kvLength + j]!,
    );
  }
  for (const mod of problem.scoreMods) {
    if (mod.kind === 'alibi') s = round(s + round(mod.slopes[h]! * (j - position)));
    else if (mod.kind === 'softcap') s = round(mod.cap * round(Math.tanh(round(s / mod.cap))));
    else s = round((functions[mod.index] as ScoreFunctionMod).fn(s, b, h, i, j));
  }
  return s;
}

/** The options.scoreMod list as an array. */
export function scoreModList(scoreMod: ScoreMod | readonly ScoreMod[] | undefined): readonly ScoreMod[] {
  if (scoreMod === undefined) return [];
  return Array.isArray(scoreMod) ? scoreMod : [scoreMod as ScoreMod];
}
