/**
 * KV-cache decoding, the way GPT-style models run: keys and values of every position so far stay in
 * a preallocated cache; each step appends the new positions' k, v and attends the new queries
 * against everything cached (bottom-right aligned, so new queries are causal among themselves).
 *
 * Storage, growth and attend are kernels' KVStore (the same store as sliding-window's ring, with the
 * 'grow' or 'fixed' policy): K [B, Hkv, capacity, Dk] and V [B, Hkv, capacity, Dv] in a private
 * engine's memory, attended in place by the banded step (causal: the window [left, 0]), so attend
 * copies only q in and out/lse back (O(Lnew · D) per step), never the cache.
 * Growth ('double') re-lays the cache at twice the capacity: O(length · D) once per doubling, O(1)
 * amortised per appended position. A refused append, attend or step changes nothing: limits and
 * shapes are checked before the first write, and step checks its attend before it appends.
 * Time per attend: O(B · Hq · Lnew · (length + Lnew) · (Dk + Dv)).
 * Extra memory: the cache itself (B · Hkv · capacity · (Dk + Dv) floats), plus per attend the copies
 * of q, out, lse and one scores buffer of blockQ · min(length, blockQ + left) floats.
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
import type { Backend } from '@attnkit/kernels';
import { KVStore } from '@attnkit/kernels/runtime';
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
  /** Engine the cache stores in and attends with (a private one): 'wasm' or 'js'; default as getEngine(). */
  backend?: Backend;
  /** Most bytes the cache may take (keys and values); a growth past it is refused. Default: the WebAssembly memory limit. */
  maxBytes?: number;
}

export interface KVCacheAttendOptions {
  scale?: number;
  /** Always causal; false is refused. */
  causal?: boolean;
  /** A causal window: [left, right] with right folded to 0 (each query sees its `left` previous positions). */
  window?: readonly [left: number, right: number];
  /** Per batch entry: only the first kvLengths[b] cached positions are attended (ragged batches). */
  kvLengths?: ArrayLike<number>;
  out?: Tensor;
  lse?: Float32Array;
  blockQ?: number;
}

export interface KVCache extends AttentionCache {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly growth: 'double' | 'none';
  readonly backend: Backend;
  /** Positions cached so far. */
  readonly length: number;
  /** Positions the cache holds before it must grow. */
  readonly capacity: number;
  /** Appends k [B, Hkv, Lnew, Dk] and v [B, Hkv, Lnew, Dv] (the new positions' keys and values). */
  append(k: Tensor, v: Tensor): void;
  /** Attends q [B, Hq, Lnew, Dk] against every cached position; returns [B, Hq, Lnew, Dv]. */
  attend(q: Tensor, options?: KVCacheAttendOptions): Tensor;
  /**
   * append(k, v) then attend(q, options) in one call, both checked before anything is stored: a step
   * whose attend would be refused does not append (what a decoder needs: one refused step, no trace).
   */
  step(q: Tensor, k: Tensor, v: Tensor, options?: KVCacheAttendOptions): Tensor;
  /** Throws what attend would throw for these options alone (naming options.<key>); changes nothing. */
  checkAttendOptions(options?: unknown): void;
  /** Forgets every position (keeps the storage). */
  reset(): void;
}

const dimension = z.number().int().positive();
const kvCacheOptionsSchema = z.strictObject({
  batch: dimension,
  kvHeads: dimension,
  headDim: dimension,
  valueDim: dimension,
  capacity: dimension,
  growth: z.enum(['double', 'none']).optional(),
  backend: z.enum(['wasm', 'js']).optional(),
  maxBytes: dimension.optional(),
});

// Strict: the engine is the cache's (chosen at creation), so backend/threads here would be ignored.
const attendOptionsSchema = z.strictObject({
  ...attentionOptionsShape,
  blockQ: z.number().int().positive().optional(),
});

class CausalKVCache implements KVCache {
  readonly growth: 'double' | 'none';
  private readonly store: KVStore;

  constructor(options: KVCacheOptions) {
    this.growth = options.growth ?? 'double';
    this.store = new KVStore({
      ...options,
      policy: this.growth === 'double' ? 'grow' : 'fixed',
      capacityArgument: 'options.capacity',
    });
  }

  get batch(): number {
    return this.store.batch;
  }
  get kvHeads(): number {
    return this.store.kvHeads;
  }
  get headDim(): number {
    return this.store.headDim;
  }
  get valueDim(): number {
    return this.store.valueDim;
  }
  get backend(): Backend {
    return this.store.backend;
  }
  get length(): number {
    return this.store.length;
  }
  get capacity(): number {
    return this.store.capacity;
  }

  append(k: Tensor, v: Tensor): void {
    this.store.append(k, v);
  }

  attend(q: Tensor, options?: KVCacheAttendOptions): Tensor {
    const call = this.parseAttend(q, options, this.store.length);
    return this.store.attend(q, call.problem, 0, call.options.blockQ ?? DEFAULT_BLOCK_Q, call);
  }

  step(q: Tensor, k: Tensor, v: Tensor, options?: KVCacheAttendOptions): Tensor {
    // Both halves are checked before the append stores anything: a refused step changes nothing.
    const added = this.store.checkAppend(k, v);
    const call = this.parseAttend(q, options, this.store.length + added);
    this.store.append(k, v);
    return this.store.attend(q, call.problem, 0, call.options.blockQ ?? DEFAULT_BLOCK_Q, call);
  }

  checkAttendOptions(options?: unknown): void {
    parseOptions(attendOptionsSchema, withCausal(options as KVCacheAttendOptions | undefined));
  }

  /** Parses an attend of q over `length` cached positions (the current ones, or those after a step's append). */
  private parseAttend(q: Tensor, options: KVCacheAttendOptions | undefined, length: number) {
    const causalOptions = withCausal(options);
    if (length === 0) {
      parseOptions(attendOptionsSchema, causalOptions); // a malformed option is named first
      throw new AttentionInputError(
        'q',
        'queries for a cache holding at least one position',
        'an attend on an empty KV cache',
        'Call cache.append(k, v) with the new positions before cache.attend(q).',
      );
    }
    const { batch, kvHeads, headDim, valueDim } = this.store;
    return parseCachedAttentionCall(
      q,
      { batch, kvHeads, kvLength: length, headDim, valueDim },
      causalOptions,
      attendOptionsSchema,
    );
  }

  reset(): void {
    this.store.reset();
  }
}

/**
 * A preallocated KV cache for causal decoding. Appending past the capacity doubles it
 * (growth: 'double', the default) or throws a capacity error (growth: 'none').
 */
export function createKVCache(options: KVCacheOptions): KVCache {
  return new CausalKVCache(parseOptions(kvCacheOptionsSchema, options));
}
