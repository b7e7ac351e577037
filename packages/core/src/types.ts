import type { AttentionMask } from './mask-values.js';
import type { ScoreMod } from './score-mods.js';
import type { BlockMask, ProblemDocuments } from './visibility.js';

/**
 * The attention contract (docs/design.md, Tensors and Variant interface). Every variant package implements `AttentionVariant`
 * and reads its inputs through `validateAttentionInputs`, which returns an `AttentionProblem`.
 */

/** A row-major, contiguous float32 tensor. A plain object, so it crosses workers and serialises. */
export interface Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

export interface AttentionOptions {
  /** Multiplier of q·k before the softmax. Default 1 / sqrt(Dk). */
  scale?: number;
  /** GPT-style mask: query i (at key position p = i + Lk - Lq) sees keys j <= p. Default false. */
  causal?: boolean;
  /** Inclusive band [p - left, p + right]; Infinity = unbounded on that side. */
  window?: readonly [left: number, right: number];
  /** Per batch: keys j >= kvLengths[b] are padding and never attended. */
  kvLengths?: ArrayLike<number>;
  /**
   * More masking, ANDed with causal, window and kvLengths (docs/design.md, Masks): documentMask,
   * prefixLMMask, globalTokensMask, blockSparseMask, predicateMask, windowMask, kvLengthMask and their
   * compositions andMasks, orMasks, notMask.
   */
  mask?: AttentionMask;
  /** Score modifiers applied in order to the scaled score (plus bias) before the mask: alibi, softcap, scoreFunction. */
  scoreMod?: ScoreMod | readonly ScoreMod[];
  /** Additive score bias [B|1, Hq|1, Lq, Lk], added to scale · q·k before the modifiers. */
  bias?: Tensor;
  /** One logit per query head that joins every row's softmax denominator with no value (gpt-oss); lse includes it. */
  sinks?: ArrayLike<number>;
  /** Write the result here (shape [B, Hq, Lq, Dv]) instead of allocating. */
  out?: Tensor;
  /** [B, Hq, Lq]: filled with the log-sum-exp of the scaled, masked scores (-Infinity for empty rows). */
  lse?: Float32Array;
}

export interface AttentionVariant<O extends AttentionOptions = AttentionOptions> {
  /** 'dense' | 'causal' | 'sliding-window' | 'linear' | 'flash' | ... */
  readonly name: string;
  /** Softmax attention up to float rounding? (false for linear / FAVOR+). */
  readonly exact: boolean;
  /** Why this variant cannot run this call; [] when it can. Never throws for bad options. */
  notSupportedReasons(q: Tensor, k: Tensor, v: Tensor, options?: O): string[];
  forward(q: Tensor, k: Tensor, v: Tensor, options?: O): Tensor;
  /** Extra memory the call needs beyond inputs and output, in bytes (analytic). */
  workspaceBytes(q: Tensor, k: Tensor, v: Tensor, options?: O): number;
}

/**
 * One validated attention call as plain numbers: what every variant plans with and what crosses to
 * a pool worker unchanged (structured-cloneable; no tensors). Causal is folded into the window:
 * `windowRight` is min(right, 0) when causal (docs/design.md, Masks).
 */
export interface AttentionProblem {
  readonly batch: number; // B
  readonly qHeads: number; // Hq
  readonly kvHeads: number; // Hkv
  /** Hq / Hkv: query head h reads kv head floor(h / groupSize) (core's kvHeadOf). */
  readonly groupSize: number;
  readonly qLength: number; // Lq
  readonly kvLength: number; // Lk
  readonly headDim: number; // Dk
  readonly valueDim: number; // Dv
  readonly scale: number;
  readonly causal: boolean;
  /** Inclusive reach to the left of the query's key position; Infinity = unbounded. */
  readonly windowLeft: number;
  /** Inclusive reach to the right; 0 when causal; Infinity = unbounded. */
  readonly windowRight: number;
  /** Valid keys per batch entry (kvLengths, or Lk for every b). Always present. */
  readonly validKeys: readonly number[];
  /** True when the caller passed kvLengths (some keys may be padding). */
  readonly hasKvLengths: boolean;
  /**
   * True when any mask (causal, finite window, kvLengths shorter than Lk, documents, prefix-LM or a
   * general mask) is in force.
   */
  readonly masked: boolean;
  /** Packed documents (a top-level documentMask): causal, window and p(i) are per document. */
  readonly documents: ProblemDocuments | null;
  /** Prefix-LM's prefix (keys [0, P) visible to every row); −1 when there is none. */
  readonly prefixLength: number;
  /** The general part of the mask, compiled per block (visibility.ts); null when there is none. */
  readonly generalMask: BlockMask | null;
  /** The score modifiers in order; a scoreFunction is named by its index in options.scoreMod. */
  readonly scoreMods: readonly ProblemScoreMod[];
  /** Where bias row (b, h, i) starts in options.bias.data: b · batchStride + h · headStride + i · Lk. */
  readonly bias: { readonly batchStride: number; readonly headStride: number } | null;
  /** Per query head: the sink logit; null when there are none. */
  readonly sinks: readonly number[] | null;
  /** True when a modifier is a JS function: the call runs on the calling thread only. */
  readonly hasScoreFunction: boolean;
}

/** A score modifier as the problem keeps it (plain data: it crosses to pool workers). */
export type ProblemScoreMod =
  | { readonly kind: 'alibi'; readonly slopes: readonly number[] }
  | { readonly kind: 'softcap'; readonly cap: number }
  | { readonly kind: 'scoreFunction'; readonly index: number };

/**
 * One parsed call: the problem, the options parsed once by the variant's strict schema (defaults
 * not applied: absent stays undefined), and where the result goes.
 */
export interface AttentionCall<O> {
  readonly problem: AttentionProblem;
  readonly options: O;
  /** The caller's output tensor, or null to allocate one. */
  readonly out: Tensor | null;
  /** The caller's lse array, or null. */
  readonly lse: Float32Array | null;
}

/**
 * A KV cache as the multi-head decoder consumes it (docs/design.md, Caches and the layer): keys and
 * values of the positions so far, appended step by step, attended by the new queries. A refused
 * call (AttentionInputError) changes nothing: not `length`, not the capacity, not a stored value.
 */
export interface AttentionCache {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  /** Positions appended so far. */
  readonly length: number;
  /** Appends k [B, Hkv, Lnew, Dk] and v [B, Hkv, Lnew, Dv]. A refused append changes nothing. */
  append(k: Tensor, v: Tensor): void;
  /** Attends q [B, Hq, Lnew, Dk] (the last Lnew positions' queries) against the cached keys. */
  attend(q: Tensor, options?: AttentionOptions): Tensor;
  /**
   * append(k, v) then attend(q, options), with both checked before anything is stored: a step the
   * attend would refuse (an option, q's shape, too many queries) does not append either.
   */
  step(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Tensor;
  /**
   * Throws the AttentionInputError attend would throw for these options whatever q and the length
   * (an unknown key, a bad value, an option the cache cannot honour), naming `options.<key>`.
   * Lets an owner (the layer's decoder) refuse them when it is created rather than at a step.
   */
  checkAttendOptions(options?: unknown): void;
  /** Forgets every position (keeps the storage). */
  reset(): void;
}
