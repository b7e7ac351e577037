/**
 * KV-cache decoding, the way GPT-style models run: keys and values of every position so far stay in
 * a preallocated cache; each step appends the new positions' k, v and attends the new queries
 * against everything cached (bottom-right aligned, so new queries are causal among themselves).
 *
 * Storage, growth and attend are kernels' KVStore (policy 'grow' or 'fixed'; sliding-window's
 * rolling cache is the paged store's window policy instead): K [B, Hkv, capacity, Dk] and
 * V [B, Hkv, capacity, Dv] in a private engine's memory, attended in place by the banded step
 * (causal: the window [left, 0]), so attend copies only q in and out/lse back (O(Lnew · D) per
 * step), never the cache.
 * Growth ('double') re-lays the cache at twice the capacity: O(length · D) once per doubling, O(1)
 * amortised per appended position. A refused append, attend or step changes nothing: limits and
 * shapes are checked before the first write, and step checks its attend before it appends.
 * Time per attend: O(B · Hq · Lnew · (length + Lnew) · (Dk + Dv)).
 * Extra memory: the cache itself (B · Hkv · capacity · (Dk + Dv) floats), plus per attend the copies
 * of q, out, lse and one scores buffer of blockQ · min(length, blockQ + left) floats.
 */
import {
  type AttentionCache,
  type AttentionOptions,
  attentionOptionsShape,
  parseCachedAttentionCall,
  parseOptions,
  type Tensor,
  z,
} from '@attnkit/core';
import type { Backend, BackendChoice } from '@attnkit/kernels';
import { type CacheAttendPlan, KVStore, KVStoreCache } from '@attnkit/kernels/runtime';
import { withCausal } from './causal.js';
import { DEFAULT_BLOCK_Q } from './options.js';

export interface KVCacheOptions {
  batch: number;
  /** Key/value heads (Hkv); queries may have any multiple of it (GQA / MQA). */
  kvHeads: number;
  /** Dk */
  headDim: number;
  /** Dv */
  valueDim: number;
  /** Positions preallocated per (batch, kv head). */
  capacity: number;
  /** 'double' (default): grow to twice the capacity when full; 'none': a full cache refuses appends. */
  growth?: 'double' | 'none';
  /** Engine the cache stores in and attends with (a private one): 'auto' (the default: as getEngine()), 'native', 'wasm' or 'js'. */
  backend?: BackendChoice;
  /** Most bytes the cache may take (keys and values); a growth past it is refused. Default: the WebAssembly memory limit. */
  maxBytes?: number;
}

/** The shared attention options (causal always; a window is causal, right folded to 0), plus blockQ. */
export interface KVCacheAttendOptions extends AttentionOptions {
  blockQ?: number;
}

/** The AttentionCache contract (core), plus growth and the capacity it implies. */
export interface KVCache extends AttentionCache {
  readonly growth: 'double' | 'none';
  readonly backend: Backend;
  /** Positions the cache holds before it must grow. */
  readonly capacity: number;
  /** Attends q [B, Hq, Lnew, Dk] against every cached position; returns [B, Hq, Lnew, Dv]. */
  attend(q: Tensor, options?: KVCacheAttendOptions): Tensor;
  /** append then attend, both checked first: a refused step stores nothing. */
  step(q: Tensor, k: Tensor, v: Tensor, options?: KVCacheAttendOptions): Tensor;
}

const dimension = z.number().int().positive();
const kvCacheOptionsSchema = z.strictObject({
  batch: dimension,
  kvHeads: dimension,
  headDim: dimension,
  valueDim: dimension,
  capacity: dimension,
  growth: z.enum(['double', 'none']).optional(),
  backend: z.enum(['auto', 'native', 'wasm', 'js']).optional(),
  maxBytes: dimension.optional(),
});

// Strict: the engine is the cache's (chosen at creation), so backend/threads here would be ignored.
const attendOptionsSchema = z.strictObject({
  ...attentionOptionsShape,
  blockQ: z.number().int().positive().optional(),
});

class CausalKVCache extends KVStoreCache<KVCacheAttendOptions> implements KVCache {
  readonly growth: 'double' | 'none';

  constructor(options: KVCacheOptions) {
    const growth = options.growth ?? 'double';
    super(
      new KVStore({
        ...options,
        policy: growth === 'double' ? 'grow' : 'fixed',
        capacityArgument: 'options.capacity',
      }),
    );
    this.growth = growth;
  }

  checkAttendOptions(options?: unknown): void {
    parseOptions(attendOptionsSchema, withCausal(options as KVCacheAttendOptions | undefined));
  }

  /** An attend over every cached position (the current ones, or those after a step's append). */
  protected planAttend(q: Tensor, options: KVCacheAttendOptions | undefined, total: number): CacheAttendPlan {
    const causalOptions = withCausal(options);
    if (total === 0) {
      parseOptions(attendOptionsSchema, causalOptions); // a malformed option is named first
      throw this.emptyCacheError('KV cache');
    }
    const { batch, kvHeads, headDim, valueDim } = this.store;
    const call = parseCachedAttentionCall(
      q,
      { batch, kvHeads, kvLength: total, headDim, valueDim },
      causalOptions,
      attendOptionsSchema,
    );
    return { call, first: 0, blockQ: call.options.blockQ ?? DEFAULT_BLOCK_Q };
  }
}

/**
 * A preallocated KV cache for causal decoding. Appending past the capacity doubles it
 * (growth: 'double', the default) or throws a capacity error (growth: 'none').
 */
export function createKVCache(options: KVCacheOptions): KVCache {
  return new CausalKVCache(parseOptions(kvCacheOptionsSchema, options));
}
