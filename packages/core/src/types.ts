/**
 * The attention contract (DESIGN §2–§3). Every variant package implements `AttentionVariant`
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
 * One validated attention call, normalised so orchestration code reads plain numbers.
 * Causal is folded into the window: `windowRight` is min(right, 0) when causal.
 */
export interface AttentionProblem {
  readonly batch: number; // B
  readonly qHeads: number; // Hq
  readonly kvHeads: number; // Hkv
  /** Hq / Hkv: query head h reads kv head floor(h / groupSize). */
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
  readonly validKeys: Int32Array;
  /** True when the caller passed kvLengths (some keys may be padding). */
  readonly hasKvLengths: boolean;
  /** True when any mask (causal, finite window, kvLengths) is in force. */
  readonly masked: boolean;
  readonly out: Tensor | null;
  readonly lse: Float32Array | null;
}
