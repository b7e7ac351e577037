/**
 * The paged, multi-sequence KV cache (docs/design.md, Caches and the layer), for serving many
 * sequences at once: fixed-size pages from one pool, sequences added, forked (copy-on-write prefix
 * sharing for parallel sampling and beam search) and removed, appends and attends over several
 * sequences of different lengths in one call, a byte limit whose refusal changes nothing, an optional
 * window policy (a rolling cache: pages older than the window are given back) and optional rotary
 * embeddings applied by the cache at each sequence's positions.
 *
 * Storage, page accounting and attend are kernels' PagedKVStore (its header has the costs); this
 * module validates the configuration at the public boundary and picks the defaults.
 */
import { AttentionInputError, parseOptions, z } from '@attnkit/core';
import type { BackendChoice } from '@attnkit/kernels';
import {
  kvStorageSchema,
  type PagedKVAttendOptions,
  PagedKVStore,
  type PagedKVView,
  type PagedRopeOptions,
  pagedRopeOptionsSchema,
} from '@attnkit/kernels/runtime';
import { DEFAULT_BLOCK_Q } from './options.js';

/**
 * Positions per page when the options do not say. Larger than vLLM's 16 (a GPU block): a CPU
 * attend streams each kv head's rows of a page as one run, and on 32K positions (Hkv = 8, d = 128,
 * float32, native, 1 thread; scripts/paged-decode-probe.mjs native <pageSize>) pages of 16 took about
 * 1.3× as long as pages of 64 to 256, which ran alike. The cost: a sequence's last page is partly
 * empty, and a fork's first write copies it.
 */
export const DEFAULT_PAGE_SIZE = 128;

export interface PagedKVCacheOptions {
  /** Key/value heads (Hkv); queries may have any multiple of it (GQA / MQA). */
  kvHeads: number;
  /** Dk */
  headDim: number;
  /** Dv */
  valueDim: number;
  /** Positions per page (default DEFAULT_PAGE_SIZE = 128). */
  pageSize?: number;
  /** Most bytes the pages may take; an append past it is refused, naming k. Default: the WebAssembly memory limit. */
  maxBytes?: number;
  /**
   * The window policy: a query at position p sees keys [p − window, p], and pages holding only
   * positions older than the last window + maxStepTokens are given back to the pool.
   */
  window?: number;
  /** With a window: most queries one attend may carry (default 1). */
  maxStepTokens?: number;
  /** Rotary embeddings applied by the cache: to keys on append, to queries on attend, at the sequence positions. */
  rope?: PagedRopeOptions;
  /** Engine the pages live in and attend runs on (a private one): 'auto' (default), 'native', 'wasm' or 'js'. */
  backend?: BackendChoice;
  /**
   * How keys and values are stored: 'float32' (default), 'float16' (IEEE half, rounded to nearest
   * even on append) or 'int8' (symmetric, one float32 scale per position and kv head; non-finite keys
   * or values are refused). maxBytes counts the stored bytes.
   */
  storage?: 'float32' | 'float16' | 'int8';
}

export type PagedKVCacheAttendOptions = PagedKVAttendOptions;

/** The paged cache (kernels' PagedKVStore): sequences, pages, append / attend / step over ids, view. */
export type PagedKVCache = PagedKVStore;
export type PagedKVCacheView = PagedKVView;

const dimension = z.number().int().positive();
const pagedOptionsSchema = z.strictObject({
  kvHeads: dimension,
  headDim: dimension,
  valueDim: dimension,
  pageSize: dimension.optional(),
  maxBytes: dimension.optional(),
  window: z.number().int().nonnegative().optional(),
  maxStepTokens: dimension.optional(),
  rope: pagedRopeOptionsSchema.optional(),
  backend: z.enum(['auto', 'native', 'wasm', 'js']).optional(),
  storage: kvStorageSchema.optional(),
});

/**
 * A paged KV cache for many sequences of causal decoding:
 *
 * ```ts
 * const cache = createPagedKVCache({ kvHeads: 2, headDim: 64, valueDim: 64, rope: {} });
 * const a = cache.addSequence();
 * cache.step([a], q, k, v);           // prefill: q [1, Hq, L, Dk], k [1, Hkv, L, Dk], v [1, Hkv, L, Dv]
 * const b = cache.fork(a);            // shares a's pages until one of them writes
 * cache.step([a, b], q2, k2, v2);     // one token each: [2, Hq, 1, Dk] …
 * cache.removeSequence(a);
 * ```
 */
export function createPagedKVCache(options: PagedKVCacheOptions): PagedKVCache {
  const own = parseOptions(pagedOptionsSchema, options);
  if (own.maxStepTokens !== undefined && own.window === undefined) {
    // An option that would be ignored is refused (docs/design.md, Strict schemas).
    throw new AttentionInputError(
      'options.maxStepTokens',
      'no maxStepTokens without a window (it bounds the queries of an attend under the window policy)',
      String(own.maxStepTokens),
      'Give a window too, or leave maxStepTokens out: without a window every position is kept.',
    );
  }
  return new PagedKVStore({
    ...own,
    pageSize: own.pageSize ?? DEFAULT_PAGE_SIZE,
    blockQ: DEFAULT_BLOCK_Q,
  });
}
