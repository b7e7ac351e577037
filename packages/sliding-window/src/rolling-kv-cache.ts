/**
 * Decoding with a rolling KV cache for causal windows (Mistral-style): a query at position p sees
 * keys [p − window, p], so only the last C = window + maxStepTokens positions are ever needed
 * (window + 1 when decoding one token per step).
 *
 * Storage and attend are kernels' PagedKVStore with its window policy (the ring is a policy of the
 * paged cache, docs/design.md "Caches and the layer"): the `batch` rows are `batch` sequences of one
 * private store, appended and attended together; pages whose positions no query can see again go
 * back to the store's pool and are the next ones written. The attend reads the visible positions
 * from their pages in place (the store's decode path on native and js, on `threads` native threads
 * on native; expanded tiles on wasm). Nothing is copied but q in and out/lse back.
 * Time per attend: O(B · Hq · Lnew · (window + Lnew) · (Dk + Dv)), independent of how long the
 * sequence has grown. Append: O(B · Hkv · min(Lnew, C + P − 1) · (Dk + Dv)), P the page size (a long
 * append writes only the positions of the pages it keeps).
 * Memory bound: at most B · (1 + ⌈(C − 1) / P⌉) pages of pageBytes = 4 · (a(Hkv·P·Dk) + a(Hkv·P·Dv))
 * bytes in float32 (a(n) = n rounded up to 16; kernels' pagedPageLayout gives float16 and int8),
 * checked against maxBytes at creation, so no append is ever refused for bytes. With the default
 * P = min(128, C) that is 2C positions per sequence while C <= 128 (the old mirrored ring's size)
 * and fewer than C + 2P beyond. Extra memory per attend: copies of q, out, lse and the key splits'
 * partial results (the tiles on wasm).
 */
import {
  type AttentionCache,
  AttentionInputError,
  attentionOptionsShape,
  parseOptions,
  type Tensor,
  z,
} from '@attnkit/core';
import type { Backend, BackendChoice } from '@attnkit/kernels';
import { engineOptionsSchema } from '@attnkit/kernels';
import {
  describeBytes,
  kvStorageSchema,
  MAX_ARENA_BYTES,
  PagedKVStore,
  type PagedRopeOptions,
  pagedPageLayout,
  pagedRopeOptionsSchema,
  parseCacheAppend,
  windowPagesPerSequence,
} from '@attnkit/kernels/runtime';
import { DEFAULT_BLOCK_Q } from './options.js';

/**
 * Largest default page: causal's DEFAULT_PAGE_SIZE (the paged decode path streams runs of 64 to 256
 * positions alike and 16 markedly slower; docs/decoding.md). A smaller window takes pages of C
 * positions, so its pages hold 2C positions at most, as the mirrored ring did.
 */
export const ROLLING_MAX_PAGE_SIZE = 128;

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
  /** Most queries one attend may carry (default 1). The cache keeps window + maxStepTokens positions. */
  maxStepTokens?: number;
  /** Engine the pages are stored in and attended with (a private one): 'auto' (the default: as getEngine()), 'native', 'wasm' or 'js'. */
  backend?: BackendChoice;
  /** Most bytes the pages may take (the bound in the header). Default: the WebAssembly memory limit. */
  maxBytes?: number;
  /** Positions per page (default min(128, window + maxStepTokens)). */
  pageSize?: number;
  /**
   * How keys and values are stored: 'float32' (default), 'float16' (rounded to nearest even) or
   * 'int8' (one float32 scale per position and kv head; non-finite keys or values are refused).
   */
  storage?: 'float32' | 'float16' | 'int8';
  /** Rotary embeddings applied by the cache: to keys on append, to queries on attend, at the sequence positions. */
  rope?: PagedRopeOptions;
}

export interface RollingKVCacheAttendOptions {
  scale?: number;
  /** Always causal; false is refused. */
  causal?: boolean;
  out?: Tensor;
  lse?: Float32Array;
  /** Native threads of the attend (native backend only; elsewhere > 1 is refused). Same bits at every count. */
  threads?: number;
}

/** The AttentionCache contract (core), plus the window's own parameters. */
export interface RollingKVCache extends AttentionCache {
  readonly window: number;
  readonly maxStepTokens: number;
  readonly backend: Backend;
  /** Positions any new query may see, all kept: window + maxStepTokens. */
  readonly capacity: number;
  readonly pageSize: number;
  readonly storage: 'float32' | 'float16' | 'int8';
  /** Bytes of one page (keys and values of pageSize positions, every kv head). */
  readonly pageBytes: number;
  /** The most bytes the pages can ever take: batch · (1 + ⌈(capacity − 1) / pageSize⌉) · pageBytes. */
  readonly storageBytes: number;
  /** Bytes of the pages the cache holds now (in use or free for the next positions). */
  readonly pooledBytes: number;
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
  pageSize: dimension.optional(),
  storage: kvStorageSchema.optional(),
  rope: pagedRopeOptionsSchema.optional(),
});

// The window and the engine belong to the cache; anything else here would be ignored, so refuse it.
const { scale, causal, out, lse } = attentionOptionsShape;
const attendOptionsSchema = z.strictObject({
  scale,
  causal,
  out,
  lse,
  threads: engineOptionsSchema.shape.threads,
});

class PagedRollingKVCache implements RollingKVCache {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly window: number;
  readonly maxStepTokens: number;
  readonly capacity: number;
  readonly pageSize: number;
  readonly storage: 'float32' | 'float16' | 'int8';
  readonly pageBytes: number;
  readonly storageBytes: number;
  private readonly store: PagedKVStore;
  /** The store's sequence of each batch row. */
  private readonly ids: readonly number[];

  constructor(options: z.infer<typeof rollingOptionsSchema>) {
    const { batch, kvHeads, headDim, valueDim, window } = options;
    this.batch = batch;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.valueDim = valueDim;
    this.window = window;
    this.maxStepTokens = options.maxStepTokens ?? 1;
    this.capacity = window + this.maxStepTokens;
    this.pageSize = options.pageSize ?? Math.min(ROLLING_MAX_PAGE_SIZE, this.capacity);
    this.storage = options.storage ?? 'float32';
    this.pageBytes = 4 * pagedPageLayout(kvHeads, this.pageSize, headDim, valueDim, this.storage).pageFloats;
    const pages = windowPagesPerSequence(window, this.maxStepTokens, this.pageSize);
    this.storageBytes = batch * pages * this.pageBytes;
    // Everything the window can ever need is known now: refuse what can never fit before allocating.
    const limit = Math.min(options.maxBytes ?? MAX_ARENA_BYTES, MAX_ARENA_BYTES);
    if (this.storageBytes > limit) {
      throw new AttentionInputError(
        'options.window',
        `a cache of at most ${describeBytes(limit)} (${options.maxBytes === undefined ? 'the WebAssembly memory limit' : 'options.maxBytes'})`,
        `window + maxStepTokens = ${this.capacity} positions in pages of ${this.pageSize} (at most ${pages} pages of ${describeBytes(this.pageBytes)} per sequence, ${batch} ${batch === 1 ? 'sequence' : 'sequences'}) needing ${describeBytes(this.storageBytes)}`,
        'Use a smaller window, raise maxBytes, or split the batch over several caches.',
      );
    }
    this.store = new PagedKVStore({
      kvHeads,
      headDim,
      valueDim,
      pageSize: this.pageSize,
      maxBytes: this.storageBytes,
      window,
      maxStepTokens: this.maxStepTokens,
      storage: this.storage,
      blockQ: DEFAULT_BLOCK_Q,
      ...(options.backend !== undefined ? { backend: options.backend } : {}),
      ...(options.rope !== undefined ? { rope: options.rope } : {}),
    });
    const ids: number[] = [];
    for (let b = 0; b < batch; b++) ids.push(this.store.addSequence());
    this.ids = ids;
  }

  get backend(): Backend {
    return this.store.backend;
  }

  /** Positions appended so far (every row advances together). */
  get length(): number {
    return this.store.length(this.ids[0]!);
  }

  get pooledBytes(): number {
    return this.store.pooledPages * this.pageBytes;
  }

  append(k: Tensor, v: Tensor): void {
    this.store.append(this.ids, k, v);
  }

  attend(q: Tensor, options?: RollingKVCacheAttendOptions): Tensor {
    this.checkAttend(q, options, this.length);
    return this.store.attend(this.ids, q, options);
  }

  step(q: Tensor, k: Tensor, v: Tensor, options?: RollingKVCacheAttendOptions): Tensor {
    // The append is checked first (as attend's own refusals come after k's and v's), then the
    // attend at the length the append will leave; the store's step checks both again before it writes.
    const added = parseCacheAppend(k, v, this);
    this.checkAttend(q, options, this.length + added);
    return this.store.step(this.ids, q, k, v, options);
  }

  reset(): void {
    for (const id of this.ids) this.store.clearSequence(id);
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
    // threads > 1 where the store's attend runs on the calling thread
    this.store.checkAttendOptions(options);
  }

  /**
   * The rolling cache's own refusals of an attend when the cache holds `total` positions (now, or
   * after a step's append), in its own words; the store checks q's shape and the rest.
   */
  private checkAttend(q: Tensor, options: RollingKVCacheAttendOptions | undefined, total: number): void {
    this.checkAttendOptions(options);
    if (total === 0) {
      throw new AttentionInputError(
        'q',
        'queries for a cache holding at least one position',
        'an attend on an empty rolling KV cache',
        'Call cache.append(k, v) with the new positions before cache.attend(q).',
      );
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
  }
}

/**
 * A rolling KV cache for decoding with a causal window of left reach `window`: `batch` sequences of
 * a paged store under its window policy, keeping the last window + maxStepTokens positions of each.
 */
export function createRollingKVCache(options: RollingKVCacheOptions): RollingKVCache {
  return new PagedRollingKVCache(parseOptions(rollingOptionsSchema, options));
}
