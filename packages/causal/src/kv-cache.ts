/**
 * KV-cache decoding, the way GPT-style models run: keys and values of every position so far stay in
 * a preallocated cache; each step appends the new positions' k, v and attends the new queries
 * against everything cached (bottom-right aligned, so new queries are causal among themselves).
 *
 * Layout: the cache lives in a private engine's memory (kernels' createEngine: a memory of its own, garbage-collected with the cache, never the shared bump arena) as
 * K [B, Hkv, capacity, Dk] and V [B, Hkv, capacity, Dv]; head (b, g) of the first `length` positions
 * is one contiguous run, exactly what attendRows reads, so attend copies only q in and out/lse back
 * (O(Lnew · D) per step), never the cache.
 * Growth ('double') re-lays the cache at twice the capacity: O(length · D) once per doubling, O(1)
 * amortised per appended position.
 * Time per attend: O(B · Hq · Lnew · (length + Lnew) · (Dk + Dv)) (causal blocks, causal-blocks.ts).
 * Extra memory: the cache itself (B · Hkv · capacity · (Dk + Dv) floats), plus per attend the copies
 * of q, out, lse and one scores buffer of blockQ · min(length, blockQ + left) floats.
 */
import {
  AttentionInputError,
  attentionOptionsSchema,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
  z,
} from '@attnkit/core';
import {
  alignFloats,
  type Backend,
  createEngine,
  type Engine,
  type HeadOffsets,
  MAX_ARENA_BYTES,
  parseCacheAppend,
} from '@attnkit/kernels';
import { withCausal } from './causal.js';
import { attendCausalHead, blockScoreFloats, effectiveBlockQ } from './causal-blocks.js';
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

export interface KVCache {
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
});

// Strict: the engine is the cache's (chosen at creation), so backend/threads here would be ignored.
const attendOptionsSchema = attentionOptionsSchema
  .extend({ blockQ: z.number().int().positive().optional() })
  .strict();

class CausalKVCache implements KVCache {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly growth: 'double' | 'none';
  readonly backend: Backend;
  private readonly engine: Engine;
  /** Arena mark below the cache storage: releasing to it frees the storage (for re-layout). */
  private readonly storageMark: number;
  private keys = 0;
  private values = 0;
  private cached = 0;
  private slots: number;

  constructor(options: KVCacheOptions) {
    this.batch = options.batch;
    this.kvHeads = options.kvHeads;
    this.headDim = options.headDim;
    this.valueDim = options.valueDim;
    this.growth = options.growth ?? 'double';
    this.slots = options.capacity;
    this.engine = createEngine(options.backend, { initialBytes: 4 * this.storageFloats(options.capacity) });
    this.backend = this.engine.backend;
    this.storageMark = this.engine.arena.mark();
    this.allocateStorage();
  }

  get length(): number {
    return this.cached;
  }

  get capacity(): number {
    return this.slots;
  }

  private storageFloats(capacity: number): number {
    const heads = this.batch * this.kvHeads;
    return alignFloats(heads * capacity * this.headDim) + alignFloats(heads * capacity * this.valueDim);
  }

  private allocateStorage(): void {
    const bytes = 4 * this.storageFloats(this.slots);
    if (bytes > MAX_ARENA_BYTES) {
      throw new AttentionInputError(
        'options.capacity',
        `a KV cache of at most ${(MAX_ARENA_BYTES / 2 ** 30).toFixed(2)} GiB (the WebAssembly memory limit)`,
        `${this.slots} positions needing ${(bytes / 2 ** 30).toFixed(2)} GiB`,
        'Use a smaller capacity or split the batch over several caches.',
      );
    }
    const heads = this.batch * this.kvHeads;
    this.keys = this.engine.arena.alloc(heads * this.slots * this.headDim);
    this.values = this.engine.arena.alloc(heads * this.slots * this.valueDim);
  }

  /** Re-lays the cached positions at a larger capacity (each head's rows move to their new stride). */
  private grow(needed: number): void {
    let capacity = this.slots;
    while (capacity < needed) capacity *= 2;
    const heads = this.batch * this.kvHeads;
    const { arena } = this.engine;
    const oldKeys = arena.heap.slice(this.keys, this.keys + heads * this.slots * this.headDim);
    const oldValues = arena.heap.slice(this.values, this.values + heads * this.slots * this.valueDim);
    const oldCapacity = this.slots;
    arena.release(this.storageMark);
    this.slots = capacity;
    this.allocateStorage();
    const heap = arena.heap;
    for (let head = 0; head < heads; head++) {
      const kFrom = head * oldCapacity * this.headDim;
      heap.set(
        oldKeys.subarray(kFrom, kFrom + this.cached * this.headDim),
        this.keys + head * capacity * this.headDim,
      );
      const vFrom = head * oldCapacity * this.valueDim;
      heap.set(
        oldValues.subarray(vFrom, vFrom + this.cached * this.valueDim),
        this.values + head * capacity * this.valueDim,
      );
    }
  }

  append(k: Tensor, v: Tensor): void {
    const added = parseCacheAppend(k, v, this);
    const needed = this.cached + added;
    if (needed > this.slots) {
      if (this.growth === 'none') {
        throw new AttentionInputError(
          'k',
          `at most ${this.slots - this.cached} new positions (the KV cache holds ${this.cached} of its capacity ${this.slots}, growth: 'none')`,
          `${added} new positions (${needed} in all)`,
          `Create the cache with capacity >= ${needed} or growth: 'double', or reset() it.`,
        );
      }
      this.grow(needed);
    }
    const heap = this.engine.arena.heap;
    const { headDim, valueDim, slots, cached } = this;
    for (let head = 0; head < this.batch * this.kvHeads; head++) {
      const kFrom = head * added * headDim;
      heap.set(
        k.data.subarray(kFrom, kFrom + added * headDim),
        this.keys + (head * slots + cached) * headDim,
      );
      const vFrom = head * added * valueDim;
      heap.set(
        v.data.subarray(vFrom, vFrom + added * valueDim),
        this.values + (head * slots + cached) * valueDim,
      );
    }
    this.cached = needed;
  }

  attend(q: Tensor, options?: KVCacheAttendOptions): Tensor {
    const causalOptions = withCausal(options);
    const own = parseOptions(attendOptionsSchema, causalOptions);
    if (this.cached === 0) {
      throw new AttentionInputError(
        'q',
        'queries for a cache holding at least one position',
        'an attend on an empty KV cache',
        'Call cache.append(k, v) with the new positions before cache.attend(q).',
      );
    }
    // Shape-only views of the cached keys and values for the shared validation (it checks shapes,
    // lengths and aliasing, never the contents; the rows live at the capacity stride, read below).
    const heap = this.engine.arena.heap;
    const heads = this.batch * this.kvHeads;
    const kView = {
      data: heap.subarray(this.keys, this.keys + heads * this.cached * this.headDim),
      shape: [this.batch, this.kvHeads, this.cached, this.headDim],
    };
    const vView = {
      data: heap.subarray(this.values, this.values + heads * this.cached * this.valueDim),
      shape: [this.batch, this.kvHeads, this.cached, this.valueDim],
    };
    const problem = validateAttentionInputs(q, kView, vView, causalOptions);
    const { batch, qHeads, qLength, headDim, valueDim, groupSize } = problem;
    const blockQ = effectiveBlockQ(qLength, own.blockQ ?? DEFAULT_BLOCK_Q);
    const rows = batch * qHeads * qLength;
    const { arena } = this.engine;
    const mark = arena.mark();
    try {
      const queries = arena.put(q.data);
      const out = arena.alloc(rows * valueDim);
      const lse = arena.alloc(rows);
      const scores = arena.alloc(blockScoreFloats(blockQ, this.cached, problem.windowLeft));
      const head: { -readonly [K in keyof HeadOffsets]: number } = { q: 0, out: 0, lse: 0, k: 0, v: 0 };
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < qHeads; h++) {
          const row = (b * qHeads + h) * qLength;
          const kvHead = b * this.kvHeads + Math.floor(h / groupSize);
          head.q = queries + row * headDim;
          head.out = out + row * valueDim;
          head.lse = lse + row;
          head.k = this.keys + kvHead * this.slots * headDim;
          head.v = this.values + kvHead * this.slots * valueDim;
          attendCausalHead(this.engine, problem, head, b, blockQ, scores);
        }
      }
      const result = problem.out ?? {
        data: new Float32Array(rows * valueDim),
        shape: [batch, qHeads, qLength, valueDim],
      };
      arena.read(out, rows * valueDim, result.data);
      if (problem.lse) arena.read(lse, rows, problem.lse);
      return result;
    } finally {
      arena.release(mark);
    }
  }

  reset(): void {
    this.cached = 0;
  }
}

/**
 * A preallocated KV cache for causal decoding. Appending past the capacity doubles it
 * (growth: 'double', the default) or throws a capacity error (growth: 'none').
 */
export function createKVCache(options: KVCacheOptions): KVCache {
  return new CausalKVCache(parseOptions(kvCacheOptionsSchema, options));
}
