/**
 * The variant-side types of the harness and core's plain float32 loop wrapped as the "naive"
 * variant. Which variants exist is registry.ts's business.
 */
import {
  type AttentionOptions,
  type AttentionVariant,
  naiveFloat32Attention,
  type Tensor,
} from '@attnkit/core';

// biome-ignore lint/suspicious/noExplicitAny: variants have their own option types; the harness passes plain objects
export type AnyVariant = AttentionVariant<any>;

/** A variant's own float64 oracle (see registry.ts). */
export type OwnOracle = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  // biome-ignore lint/suspicious/noExplicitAny: each oracle takes its variant's option type
  options: any,
) => { out: Float64Array };

/**
 * Core's plain float32 triple loop wrapped as a variant, timed as the "naive" row: what a
 * straightforward JS implementation costs, and the error the 2× rule is measured against.
 */
export const naiveVariant: AttentionVariant<AttentionOptions & { threads?: number }> = {
  name: 'naive',
  exact: true,
  notSupportedReasons(_q, _k, _v, options) {
    return options?.threads !== undefined && options.threads > 1
      ? ['naive is a single-threaded reference loop']
      : [];
  },
  forward(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Tensor {
    const { threads: _threads, ...attention } = (options ?? {}) as AttentionOptions & { threads?: number };
    const data = naiveFloat32Attention(q, k, v, attention);
    const [batch = 1, heads = 1, length = 1] = q.shape;
    const valueDim = v.shape[3] ?? 1;
    return { data, shape: [batch, heads, length, valueDim] };
  },
  workspaceBytes(_q, k) {
    // One row of float32 scores at a time (the loop's only scratch).
    return 4 * (k.shape[2] ?? 0);
  },
};
