/**
 * Decoding with a rolling (ring-buffer) KV cache for causal windows (Mistral-style): a query at
 * position p sees keys [p − window, p], so only the last window + maxStepTokens positions are ever
 * needed — window + 1 entries when decoding one token per step.
 *
 * Storage and attend are kernels' KVStore with the 'ring' policy (the same store as causal's growing
 * cache; only eviction differs): position t lives in slot t mod capacity and in its mirror slot, so the
 * keys the new queries may see are always one contiguous run, attended in place by the banded step.
 * Nothing is copied but q in and out/lse back.
 * Time per attend: O(B · Hq · Lnew · (window + Lnew) · (Dk + Dv)), independent of how long the
 * sequence has grown. Append: O(B · Hkv · min(Lnew, capacity) · (Dk + Dv)).
 * Extra memory: the ring (2 · B · Hkv · capacity · (Dk + Dv) floats, mirrored) plus per attend the
 * copies of q, out, lse and Lnew · (window + Lnew) scores.
 */
import {
  type AttentionCache,
  AttentionInputError,
  attentionOptionsShape,
  parseCachedAttentionCall,
  parseOptions,
  type Tensor,
  z,
} from '@attnkit/core';
import type { Backend, BackendChoice } from '@attnkit/kernels';
import { type CacheAttendPlan, KVStore, KVStoreCache } from '@attnkit/kernels/runtime';

export interface RollingKVCacheOptions {
  batch: number;
  /** Key/value heads (Hkv); queries may have any multiple of it (GQA / MQA). */
  kvHeads: number;
  /** Dk */
  headDim: number;
  /** Dv */
  valueDim: number;
  /** Left reach of the causal window: a query at position p sees keys [p − window, p]. */
  window: number;
  /** Most queries one attend may carry (default 1). The ring keeps window + maxStepTokens positions. */
  maxStepTokens?: number;
  /** Engine the ring is stored in and attended with (a private one): 'auto' (the default: as getEngine()), 'native', 'wasm' or 'js'. */
  backend?: BackendChoice;
  /** Most bytes the ring may take. Default: the WebAssembly memory limit. */
  maxBytes?: number;
}

export interface RollingKVCacheAttendOptions {
  scale?: number;
  /** Always causal; false is refused. */
  causal?: boolean;
  out?: Tensor;
  lse?: Float32Array;
}

/** The AttentionCache contract (core), plus the ring's own parameters. */
export interface RollingKVCache extends AttentionCache {
  readonly window: number;
  readonly maxStepTokens: number;
  readonly backend: Backend;
  /** Slots in the ring: window + maxStepTokens (only the last `capacity` positions are kept). */
  readonly capacity: number;
  /** Attends q [B, Hq, Lnew, Dk], Lnew <= maxStepTokens: the queries of the last Lnew positions. */
  attend(q: Tensor, options?: RollingKVCacheAttendOptions): Tensor;
  /** append then attend, both checked first: a refused step overwrites no live key. */
  step(q: Tensor, k: Tensor, v: Tensor, options?: RollingKVCacheAttendOptions): Tensor;
}

const dimension = z.number().int().positive();
const rollingOptionsSchema = z.strictObject({
  batch: dimension,
  kvHeads: dimension,
  headDim: dimension,
  valueDim: dimension,
  window: z.number().int().nonnegative(),
  maxStepTokens: dimension.optional(),
  backend: z.enum(['auto', 'native', 'wasm', 'js']).optional(),
  maxBytes: dimension.optional(),
});

// The window and the engine belong to the cache; anything else here would be ignored, so refuse it.
const { scale, causal, out, lse } = attentionOptionsShape;
const attendOptionsSchema = z.strictObject({ scale, causal, out, lse });
/** What attend parses: the caller's options plus the cache's own causal window. */
const attendCallSchema = attendOptionsSchema.extend({ window: attentionOptionsShape.window });

class RingKVCache extends KVStoreCache<RollingKVCacheAttendOptions> implements RollingKVCache {
  readonly window: number;
  readonly maxStepTokens: number;

  constructor(options: RollingKVCacheOptions) {
    const window = options.window;
    const maxStepTokens = options.maxStepTokens ?? 1;
    super(
      new KVStore({
        ...options,
        capacity: window + maxStepTokens,
        policy: 'ring',
        capacityArgument: 'options.window',
        capacityDescription: `window + maxStepTokens = ${window + maxStepTokens}`,
      }),
    );
    this.window = window;
    this.maxStepTokens = maxStepTokens;
  }

  checkAttendOptions(options?: unknown): void {
    if (
      options !== null &&
      typeof options === 'object' &&
      (options as { causal?: unknown }).causal === false
    ) {
      throw new AttentionInputError(
        'options.causal',
        'true or undefined (a rolling cache serves causal windows)',
        'false',
        'Use slidingWindowAttention for non-causal windows.',
      );
    }
    parseOptions(attendOptionsSchema, options);
  }

  /**
   * Parses an attend of q when the ring holds `total` positions (now, or after a step's append):
   * the call over the positions [first, total) the new queries may see.
   */
  protected planAttend(
    q: Tensor,
    options: RollingKVCacheAttendOptions | undefined,
    total: number,
  ): CacheAttendPlan {
    this.checkAttendOptions(options);
    if (total === 0) {
      throw this.emptyCacheError('rolling KV cache');
    }
    const queries = Array.isArray(q?.shape) ? q.shape[2] : undefined;
    if (typeof queries === 'number' && queries > this.maxStepTokens) {
      throw new AttentionInputError(
        'q',
        `at most ${this.maxStepTokens} queries per attend (the cache's maxStepTokens)`,
        `${queries} queries (shape [${q.shape.join(', ')}])`,
        `The ring keeps window + maxStepTokens = ${this.capacity} positions, so older keys are gone: create the cache with maxStepTokens >= ${queries}, or use slidingWindowAttention for long chunks.`,
      );
    }
    // Work relative to the first key any new query may see: positions [first, total) become
    // [0, span), a problem of span keys (the band mask is translation invariant).
    const qLength = typeof queries === 'number' ? queries : 1;
    const first = Math.max(0, total - qLength - this.window);
    const { batch, kvHeads, headDim, valueDim } = this.store;
    const call = parseCachedAttentionCall(
      q,
      { batch, kvHeads, kvLength: total - first, headDim, valueDim },
      { ...options, causal: true, window: [this.window, 0] },
      attendCallSchema,
    );
    return { call, first, blockQ: call.problem.qLength };
  }
}

/**
 * A rolling KV cache for decoding with a causal window of left reach `window`: a ring of
 * window + maxStepTokens positions per (batch, kv head).
 */
export function createRollingKVCache(options: RollingKVCacheOptions): RollingKVCache {
  return new RingKVCache(parseOptions(rollingOptionsSchema, options));
}
