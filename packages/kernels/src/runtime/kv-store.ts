/**
 * The contiguous KV store under causal's createKVCache: keys K [B, Hkv, capacity, Dk] and values
 * V [B, Hkv, capacity, Dv] in a private engine's memory (never the shared bump arena), position t at
 * slot t, attended in place with kernels' banded step. The policy says what a full store does:
 *   - 'grow':  doubles (re-laid once per doubling: O(1) amortised per position);
 *   - 'fixed': refuses the append.
 * (A rolling window is the paged store's window policy, paged-kv-store.ts: pages no query can see
 * again are given back, so one concept of eviction lives in one place.)
 * A refused append (bad shapes, capacity, byte limit, memory) changes nothing: every check runs
 * before the first write, and a failed re-layout restores the old storage.
 * Time per attend: O(B · Hq · Lnew · (span + blockQ) · (Dk + Dv)) for a span of visible positions;
 * per append O(B · Hkv · Lnew · (Dk + Dv)). Extra memory per attend: copies of q, out, lse and one
 * scores buffer of blockQ · min(span, blockQ + left) floats.
 * Split-KV: an attend with few (batch, head, query-block) items against a long span cuts the span
 * into key ranges by the banded variants' rule (split-kv.ts planBandSplits: the shape decides), each
 * range writing partial rows that are merged with the log-sum-exp merge (mergeSplits): the same bits
 * as causal/sliding-window's split call at any thread count. The store's memory is private (the
 * worker pool cannot reach it), so the ranges run one after another on the calling thread; extra
 * memory keySplits × B·Hq·Lnew · (Dv + 1) floats.
 */
import {
  type AttentionCache,
  type AttentionCall,
  AttentionInputError,
  type AttentionOptions,
  type AttentionProblem,
  kvHeadOf,
  queryHeadRow,
  type ScoreMod,
  type Tensor,
} from '@attnkit/core';
import { alignFloats } from '../engine/arena.js';
import {
  type Backend,
  type BackendChoice,
  createEngine,
  type Engine,
  MAX_ARENA_BYTES,
} from '../engine/engine.js';
import { attendBand, bandScoreFloats } from './attention-io.js';
import { describeBytes, parseCacheAppend } from './kv-cache-input.js';
import { applySinks, scoreFunctionsOf, setScoreFunctions } from './score-tile.js';
import { mergeSplits, placeSplits, planBandSplits } from './split-kv.js';
import { type HeadOffsets, queryBlockItems } from './variant-runtime.js';

export type KVStorePolicy = 'grow' | 'fixed';

export interface KVStoreConfig {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  /** Positions held before the policy applies. */
  readonly capacity: number;
  readonly policy: KVStorePolicy;
  readonly backend?: BackendChoice;
  /** Most bytes the storage may take (default: the WebAssembly memory limit). */
  readonly maxBytes?: number;
  /** The option that sets the capacity, named in errors ('options.capacity'). */
  readonly capacityArgument: string;
}

export class KVStore {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly policy: KVStorePolicy;
  readonly backend: Backend;
  readonly maxBytes: number;
  private readonly engine: Engine;
  /** Arena mark below the storage: releasing to it frees the storage (for re-layout). */
  private readonly storageMark: number;
  private keys = 0;
  private values = 0;
  private slots: number;
  private total = 0;

  constructor(config: KVStoreConfig) {
    this.batch = config.batch;
    this.kvHeads = config.kvHeads;
    this.headDim = config.headDim;
    this.valueDim = config.valueDim;
    this.policy = config.policy;
    this.slots = config.capacity;
    this.maxBytes = Math.min(config.maxBytes ?? MAX_ARENA_BYTES, MAX_ARENA_BYTES);
    const bytes = this.storageBytes(config.capacity);
    if (bytes > this.maxBytes) {
      throw new AttentionInputError(
        config.capacityArgument,
        `a cache of at most ${describeBytes(this.maxBytes)} (${config.maxBytes === undefined ? 'the WebAssembly memory limit' : 'options.maxBytes'})`,
        `${config.capacity} positions needing ${describeBytes(bytes)}`,
        `Use a smaller ${config.capacityArgument.replace(/^options\./, '')}, raise maxBytes, or split the batch over several caches.`,
      );
    }
    this.engine = createEngine(config.backend, { initialBytes: bytes });
    this.backend = this.engine.backend;
    this.storageMark = this.engine.arena.mark();
    this.allocateStorage();
  }

  /** Positions appended so far. */
  get length(): number {
    return this.total;
  }

  get capacity(): number {
    return this.slots;
  }

  private storageBytes(capacity: number): number {
    const heads = this.batch * this.kvHeads;
    return 4 * (alignFloats(heads * capacity * this.headDim) + alignFloats(heads * capacity * this.valueDim));
  }

  private allocateStorage(): void {
    const heads = this.batch * this.kvHeads;
    this.keys = this.engine.arena.alloc(heads * this.slots * this.headDim);
    this.values = this.engine.arena.alloc(heads * this.slots * this.valueDim);
  }

  /** Re-lays the positions at `capacity` slots per head; on failure the old storage is restored. */
  private relayout(capacity: number): void {
    const heads = this.batch * this.kvHeads;
    const { arena } = this.engine;
    const oldSlots = this.slots;
    const oldKeys = arena.heap.slice(this.keys, this.keys + heads * oldSlots * this.headDim);
    const oldValues = arena.heap.slice(this.values, this.values + heads * oldSlots * this.valueDim);
    arena.release(this.storageMark);
    try {
      this.slots = capacity;
      this.allocateStorage();
    } catch (error) {
      arena.release(this.storageMark);
      this.slots = oldSlots;
      this.allocateStorage(); // fits: the memory held it a moment ago
      this.copyHeads(oldKeys, oldValues, oldSlots);
      throw error;
    }
    this.copyHeads(oldKeys, oldValues, oldSlots);
  }

  private copyHeads(oldKeys: Float32Array, oldValues: Float32Array, oldSlots: number): void {
    const heap = this.engine.arena.heap;
    const { headDim, valueDim, slots, total } = this;
    for (let head = 0; head < this.batch * this.kvHeads; head++) {
      const kFrom = head * oldSlots * headDim;
      heap.set(oldKeys.subarray(kFrom, kFrom + total * headDim), this.keys + head * slots * headDim);
      const vFrom = head * oldSlots * valueDim;
      heap.set(oldValues.subarray(vFrom, vFrom + total * valueDim), this.values + head * slots * valueDim);
    }
  }

  /**
   * Checks an append of k [B, Hkv, Lnew, Dk] and v [B, Hkv, Lnew, Dv] without storing anything: the
   * shapes, then the policy's limit (a full 'fixed' store, a growth past maxBytes). Returns Lnew.
   * A cache's step runs it, then checks its attend, before it appends.
   */
  checkAppend(k: Tensor, v: Tensor): number {
    const added = parseCacheAppend(k, v, this);
    this.capacityFor(added);
    return added;
  }

  /** Slots for `added` more positions under 'grow' or 'fixed' (the current ones when they fit); throws past the limit. */
  private capacityFor(added: number): number {
    const needed = this.total + added;
    if (needed <= this.slots) return this.slots;
    if (this.policy === 'fixed') {
      throw new AttentionInputError(
        'k',
        `at most ${this.slots - this.total} new positions (the KV cache holds ${this.total} of its capacity ${this.slots}, growth: 'none')`,
        `${added} new positions (${needed} in all)`,
        `Create the cache with capacity >= ${needed} or growth: 'double', or reset() it.`,
      );
    }
    let capacity = this.slots;
    while (capacity < needed) capacity *= 2;
    const bytes = this.storageBytes(capacity);
    if (bytes > this.maxBytes) {
      throw new AttentionInputError(
        'k',
        `at most ${this.slots - this.total} new positions without growing past ${describeBytes(this.maxBytes)} (the cache's byte limit)`,
        `${added} new positions: ${needed} in all would need ${capacity} slots, ${describeBytes(bytes)}`,
        'Raise the cache limit (maxBytes), reset() it, or split the batch over several caches.',
      );
    }
    return capacity;
  }

  /**
   * Appends k [B, Hkv, Lnew, Dk] and v [B, Hkv, Lnew, Dv]. Validates and checks every limit first:
   * a refused append changes nothing.
   */
  append(k: Tensor, v: Tensor): void {
    const added = parseCacheAppend(k, v, this);
    const capacity = this.capacityFor(added);
    if (capacity !== this.slots) this.relayout(capacity);
    const heap = this.engine.arena.heap;
    const { headDim, valueDim, slots, total } = this;
    for (let head = 0; head < this.batch * this.kvHeads; head++) {
      const kFrom = head * added * headDim;
      heap.set(k.data.subarray(kFrom, kFrom + added * headDim), this.keys + (head * slots + total) * headDim);
      const vFrom = head * added * valueDim;
      heap.set(
        v.data.subarray(vFrom, vFrom + added * valueDim),
        this.values + (head * slots + total) * valueDim,
      );
    }
    this.total = total + added;
  }

  /**
   * Attends q against positions [first, total), `problem` being the call over that span (kvLength =
   * total − first; the mask is translation invariant). Writes into target.out / target.lse or a new
   * tensor.
   */
  attend(
    q: Tensor,
    problem: AttentionProblem,
    first: number,
    blockQ: number,
    target: {
      readonly out: Tensor | null;
      readonly lse: Float32Array | null;
      readonly options?: { readonly bias?: Tensor; readonly scoreMod?: ScoreMod | readonly ScoreMod[] };
    },
  ): Tensor {
    const { batch, qHeads, qLength, headDim, valueDim, kvLength } = problem;
    const rows = Math.max(1, Math.min(blockQ, qLength));
    const total = batch * qHeads * qLength;
    // Few query blocks against many keys: the banded variants' key split (the shape decides, so the
    // bits equal theirs at any thread count); the splits run here one after another.
    const split = planBandSplits(problem, queryBlockItems(problem, rows), 64);
    const { arena } = this.engine;
    const mark = arena.mark();
    try {
      const queries = arena.put(q.data);
      const out = arena.alloc(total * valueDim);
      const lse = arena.alloc(total);
      const scores = arena.alloc(
        bandScoreFloats(rows, Math.min(kvLength, split.splitKeys), problem.windowLeft, problem.windowRight),
      );
      const bias = problem.bias && target.options?.bias ? arena.put(target.options.bias.data) : -1;
      const params = placeSplits(this.engine, problem, split);
      const head: HeadOffsets = { q: 0, out: 0, lse: 0, k: 0, v: 0, head: 0, bias: -1 };
      // a score function runs here, on the calling thread (the cache attends on one thread)
      setScoreFunctions(scoreFunctionsOf(target.options?.scoreMod));
      for (let part = 0; part < params.keySplits; part++) {
        const keysFrom = part * params.splitKeys;
        const keysTo = params.keySplits === 1 ? Number.POSITIVE_INFINITY : keysFrom + params.splitKeys;
        // split part writes its own partial rows (laid out like out and lse), merged below
        const partOut = params.keySplits === 1 ? out : params.partialOut + part * total * valueDim;
        const partLse = params.keySplits === 1 ? lse : params.partialLse + part * total;
        for (let b = 0; b < batch; b++) {
          for (let h = 0; h < qHeads; h++) {
            const row = queryHeadRow(problem, b, h);
            // The kv head's rows start at the store's capacity, not at the span's length.
            const kvHead = b * this.kvHeads + kvHeadOf(problem, h);
            head.head = h;
            head.bias =
              bias >= 0 && problem.bias
                ? bias + b * problem.bias.batchStride + h * problem.bias.headStride
                : -1;
            head.q = queries + row * headDim;
            head.out = partOut + row * valueDim;
            head.lse = partLse + row;
            head.k = this.keys + (kvHead * this.slots + first) * headDim;
            head.v = this.values + (kvHead * this.slots + first) * valueDim;
            for (let rowStart = 0; rowStart < qLength; rowStart += rows) {
              const rowEnd = Math.min(qLength, rowStart + rows);
              attendBand(this.engine, problem, head, b, rowStart, rowEnd, scores, keysFrom, keysTo);
            }
          }
        }
      }
      mergeSplits(this.engine, problem, { q: queries, k: -1, v: -1, out, lse, bias }, params);
      applySinks(this.engine, problem, out, lse);
      const result = target.out ?? {
        data: new Float32Array(total * valueDim),
        shape: [batch, qHeads, qLength, valueDim],
      };
      arena.read(out, total * valueDim, result.data);
      if (target.lse) arena.read(lse, total, target.lse);
      return result;
    } finally {
      arena.release(mark);
    }
  }

  /** Forgets every position (keeps the storage). */
  reset(): void {
    this.total = 0;
  }
}

/** How a cache attends: the parsed call over positions [first, total), in blocks of blockQ rows. */
export interface CacheAttendPlan {
  readonly call: AttentionCall<AttentionOptions>;
  readonly first: number;
  readonly blockQ: number;
}

/**
 * The part every store-backed cache shares: its dimensions, append, attend, a step that checks both
 * halves before storing anything, and reset. A cache says only how an attend is parsed and which
 * positions it reads (planAttend) and which attend options it takes (checkAttendOptions).
 */
export abstract class KVStoreCache<O extends AttentionOptions> implements AttentionCache {
  protected readonly store: KVStore;

  protected constructor(store: KVStore) {
    this.store = store;
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
  /** Positions appended so far. */
  get length(): number {
    return this.store.length;
  }
  get capacity(): number {
    return this.store.capacity;
  }

  append(k: Tensor, v: Tensor): void {
    this.store.append(k, v);
  }

  attend(q: Tensor, options?: O): Tensor {
    const plan = this.planAttend(q, options, this.store.length);
    return this.store.attend(q, plan.call.problem, plan.first, plan.blockQ, plan.call);
  }

  step(q: Tensor, k: Tensor, v: Tensor, options?: O): Tensor {
    // Both halves are checked before the store is written: a refused step changes nothing.
    const added = this.store.checkAppend(k, v);
    const plan = this.planAttend(q, options, this.store.length + added);
    this.store.append(k, v);
    return this.store.attend(q, plan.call.problem, plan.first, plan.blockQ, plan.call);
  }

  reset(): void {
    this.store.reset();
  }

  /** Throws what attend would throw for these options alone (naming options.<key>); changes nothing. */
  abstract checkAttendOptions(options?: unknown): void;

  /** Parses an attend of q when the store holds `total` positions (now, or after a step's append). */
  protected abstract planAttend(q: Tensor, options: O | undefined, total: number): CacheAttendPlan;

  /** The refusal of an attend on a cache that holds nothing yet. */
  protected emptyCacheError(what: string): AttentionInputError {
    return new AttentionInputError(
      'q',
      'queries for a cache holding at least one position',
      `an attend on an empty ${what}`,
      'Call cache.append(k, v) with the new positions before cache.attend(q).',
    );
  }
}
