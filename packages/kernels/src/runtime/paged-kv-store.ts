/**
 * The paged, multi-sequence KV cache (docs/design.md, Caches and the layer): keys and values of many
 * sequences in fixed-size pages from one pool, in a private engine's memory.
 *
 * Layout. A page holds `pageSize` consecutive positions of one sequence for every kv head: keys
 * [Hkv, pageSize, Dk] then values [Hkv, pageSize, Dv] (each part 64-byte aligned). Pages come from
 * one pool: a free list over pages bump-allocated in the engine's arena, so a page a sequence gives
 * back is the next one another takes, and the pool never holds more pages than were ever in use at
 * once. Sequence s keeps a page table: absolute page n (positions [n·P, (n+1)·P)) is
 * pages[n − startPage]; startPage > 0 only under the window policy, which gives back pages whose
 * positions no query can see again: a sequence that is not shared then holds at most
 * windowPagesPerSequence(window, maxStepTokens, P) = 1 + ⌈(window + maxStepTokens − 1) / P⌉ pages
 * (sliding-window's rolling cache bounds its bytes by it).
 *
 * Sharing. Every page carries a reference count. fork(id) copies the page table and counts each page
 * once more (O(pages), no float copied); the first append to a sequence whose partly filled last page
 * is shared copies that one page (copy-on-write), so the two sequences diverge without touching each
 * other's positions. Full pages are never written again, so they stay shared until given back.
 *
 * Refusals. append, attend and step check everything (ids, shapes, options, the byte limit) before
 * the first write, and the page demand of an append is counted exactly (pages given back by the
 * window, copies on write, fresh pages) before any page is taken: a refused call changes nothing.
 *
 * Storage (compact-kv.ts): 'float32', 'float16' or 'int8' (plus a float32 scale per position and kv
 * head, after the keys and after the values of the page). Rows are quantised on append; a page holds
 * keys, [key scales], values, [value scales], each part 64-byte aligned; pageBytes and the byte limit
 * count the stored bytes.
 *
 * Attend. Per sequence and kv head, the visible positions are cut into key splits (planBandSplits,
 * the banded variants' rule) and each split into tiles of tileKeys positions (shape only). A tile is
 * copied (float32) or expanded with the engine's dequantRows (compact) from its pages into a float32
 * scratch small enough to stay in cache, every query head of the group attends it with kernels'
 * banded step, and tiles then splits are merged with the log-sum-exp merge. DRAM traffic per attend:
 * the stored bytes of the visible positions, once per kv head (not once per query head); arithmetic
 * O(S · Hq · Lnew · span · (Dk + Dv)) plus the expansion O(S · Hkv · span · (Dk + Dv)) and the merges
 * O(S · Hq · Lnew · Dv · span / tileKeys). Extra memory per attend: copies of q, out, lse, one tile
 * of tileKeys · (Dk + Dv) floats, one scores buffer of blockQ · tileKeys floats and the partial
 * results of one group. The tiles run on the calling thread, the splits in order (the memory is
 * private to this engine, out of the worker pool's reach).
 *
 * Decode attend (attendPath 'decode', the default on every backend): every sequence's page table
 * (pool page offsets) is written into the arena, then one job per sequence, kv head and key split
 * (planBandSplits with S · Hkv items) runs the engine's decodeAttend: the group's Hq/Hkv · Lnew rows
 * against the job's positions read from the pages in place, one online-softmax pass (blocks of 64
 * absolute positions, so no page-size dependence); split jobs' partial results are merged in split
 * order. On native, `threads` runs the jobs on native threads (decodeAttendMany): the pages are this
 * engine's memory, which the threads read directly. DRAM traffic as above; no tile copies; extra
 * memory: q, out, lse, the page tables and the split jobs' partial results. The tiled attend above
 * stays for attendPath 'tiled'.
 *
 * RoPE. With `rope`, keys are rotated (core's rope) at their sequence positions when appended, and
 * queries at theirs (the last Lnew positions of each sequence) when attending, as flash-attention's
 * kv-cache function does; the stored keys are the rotated ones.
 */
import {
  type AttentionCache,
  AttentionInputError,
  type AttentionOptions,
  type AttentionProblem,
  attentionOptionsShape,
  describeValue,
  mergeAttentionRows,
  parseCachedAttentionCall,
  parseOptions,
  rope,
  type Tensor,
  z,
} from '@attnkit/core';
import { alignFloats } from '../engine/arena.js';
import {
  type Backend,
  type BackendChoice,
  createEngine,
  type Engine,
  MAX_ARENA_BYTES,
} from '../engine/engine.js';
import { engineOptionsSchema } from '../engine/engine-options.js';
import { DECODE_BLOCK_KEYS, type DecodeAttendArgs } from '../engine/kernel-ops.js';
import { NativeKernelOps } from '../engine/native-ops.js';
import { maxThreads } from '../pool/thread-pool.js';
import { attendBand, bandScoreFloats } from './attention-io.js';
import {
  checkFiniteForInt8,
  type KVStorage,
  storageElementBytes,
  storageFormat,
  storeHalves,
  storeInt8Row,
} from './compact-kv.js';
import { describeBytes, parseCacheAppend } from './kv-cache-input.js';
import { planBandSplits } from './split-kv.js';
import type { HeadOffsets } from './variant-runtime.js';

/**
 * The public boundary's schemas of the paged store's `rope` and `storage` options, shared by the
 * caches built on it (causal's paged cache, sliding-window's rolling cache).
 */
export const pagedRopeOptionsSchema = z.strictObject({
  base: z.number({ error: 'a finite number > 1' }).gt(1, { error: 'a finite number > 1' }).optional(),
  style: z.enum(['neox', 'interleaved']).optional(),
  rotaryDim: z.number().int().positive().optional(),
});
export const kvStorageSchema = z.enum(['float32', 'float16', 'int8']);

/** Rotary embeddings the cache applies itself (core's rope options, the positions its own). */
export interface PagedRopeOptions {
  /** θ_i = base^(−2i / rotaryDim). Default 10000. */
  base?: number;
  /** Default 'neox'. */
  style?: 'neox' | 'interleaved';
  /** Features rotated (even, at most headDim). Default headDim. */
  rotaryDim?: number;
}

export interface PagedKVStoreConfig {
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  /** Positions per page. */
  readonly pageSize: number;
  /** Most bytes the pages may take (default: the WebAssembly memory limit). */
  readonly maxBytes?: number;
  readonly backend?: BackendChoice;
  /** The window policy: a query at position p sees keys [p − window, p]; older pages are given back. */
  readonly window?: number;
  /** With a window: most queries one attend may carry (default 1). */
  readonly maxStepTokens?: number;
  readonly rope?: PagedRopeOptions;
  /** How keys and values are stored (compact-kv.ts): 'float32' (default), 'float16' or 'int8'. */
  readonly storage?: KVStorage;
  /** Query rows per block of an attend when its options do not say (blockQ). */
  readonly blockQ: number;
}

/**
 * Merges a group's `parts` partial results, laid out one after another from `partOut` (rows × dv
 * each) and `partLse` (rows each), in part order with the log-sum-exp merge, into out and lse.
 */
function mergeGroupSplits(
  heap: Float32Array,
  partOut: number,
  partLse: number,
  parts: number,
  rows: number,
  dv: number,
  out: number,
  lse: number,
): void {
  const outs: Float32Array[] = [];
  const lses: Float32Array[] = [];
  for (let part = 0; part < parts; part++) {
    const at = partOut + part * rows * dv;
    outs.push(heap.subarray(at, at + rows * dv));
    lses.push(heap.subarray(partLse + part * rows, partLse + (part + 1) * rows));
  }
  mergeAttentionRows(
    outs,
    lses,
    rows,
    dv,
    heap.subarray(out, out + rows * dv),
    heap.subarray(lse, lse + rows),
  );
}

/** A decode job before its fields are written (applyDecodeAttend fills every one). */
const EMPTY_DECODE_JOB: Readonly<DecodeAttendArgs> = {
  q: 0,
  rows: 0,
  qLength: 0,
  dk: 0,
  dv: 0,
  scale: 0,
  table: 0,
  tableStart: 0,
  pageSize: 0,
  keyByte: 0,
  valueByte: 0,
  keyScales: -1,
  valueScales: -1,
  format: 0,
  from: 0,
  to: 0,
  firstQueryPos: 0,
  left: 0,
  out: 0,
  lse: 0,
};

/** Where a page's parts start, in floats from the page start (each part 64-byte aligned). */
export interface PagedPageLayout {
  readonly keyScales: number;
  readonly valueStart: number;
  readonly valueScales: number;
  /** Floats of one page: pageBytes / 4. */
  readonly pageFloats: number;
}

/**
 * The layout of one page of `pageSize` positions for every kv head: keys, [key scales], values,
 * [value scales] (scales for int8 only), each part rounded up to 16 floats. Exported so a cache built
 * on the store can bound its bytes before it creates one.
 */
export function pagedPageLayout(
  kvHeads: number,
  pageSize: number,
  headDim: number,
  valueDim: number,
  storage: KVStorage = 'float32',
): PagedPageLayout {
  const rows = kvHeads * pageSize;
  const bytes = storageElementBytes(storage);
  const scaleFloats = storage === 'int8' ? alignFloats(rows) : 0;
  const keyScales = alignFloats(Math.ceil((rows * headDim * bytes) / 4));
  const valueStart = keyScales + scaleFloats;
  const valueScales = valueStart + alignFloats(Math.ceil((rows * valueDim * bytes) / 4));
  return { keyScales, valueStart, valueScales, pageFloats: valueScales + scaleFloats };
}

/**
 * Most pages one sequence holds under the window policy: the positions an attend may still need are
 * the last window + maxStepTokens = C, and C consecutive positions touch at most 1 + ⌈(C − 1) / P⌉
 * pages of P (reached when the run starts on a page's last position). A long append writes only
 * those positions, so no append needs more.
 */
export function windowPagesPerSequence(window: number, maxStepTokens: number, pageSize: number): number {
  return 1 + Math.ceil((window + maxStepTokens - 1) / pageSize);
}

/** Floats of one expanded tile of keys and values at most: a tile stays in cache while it is used. */
const TILE_FLOATS = 65536;

/** Positions per attend tile for these dimensions (a multiple of 64, 64 … 1024): shape only. */
export function pagedTileKeys(headDim: number, valueDim: number): number {
  return Math.min(1024, Math.max(64, Math.floor(TILE_FLOATS / (headDim + valueDim) / 64) * 64));
}

/** An attend's options: the shared ones a cache can honour (causal always), plus blockQ. */
export interface PagedKVAttendOptions {
  scale?: number;
  /** Always causal; false is refused. */
  causal?: boolean;
  /** A causal window [left, 0] (narrower than the cache's own window, if it has one). */
  window?: readonly [left: number, right: number];
  /** [S, Hq, Lnew, Dv]. */
  out?: Tensor;
  /** [S · Hq · Lnew]. */
  lse?: Float32Array;
  blockQ?: number;
  /**
   * Threads of the attend (default 1), the variants' option: on the native backend the decode jobs
   * (sequence × kv head × key split) run on native threads; results are the same bits at every
   * count. wasm and js attend on the calling thread and refuse threads > 1.
   */
  threads?: number;
}

// Strict: kvLengths is refused (each sequence's own length is its kvLength), and so are the engine's
// options (the engine is the cache's).
const { scale, causal, window, out, lse } = attentionOptionsShape;
const attendOptionsSchema = z.strictObject({
  scale,
  causal,
  window,
  out,
  lse,
  blockQ: z.number().int().positive().optional(),
  threads: engineOptionsSchema.shape.threads,
});

const idsSchema = z.array(z.number().int().nonnegative(), {
  error: 'an array of sequence ids (from addSequence or fork)',
});

interface Sequence {
  /** Positions appended so far (positions below startPage · pageSize are given back). */
  length: number;
  /** Absolute page number of pages[0]. */
  startPage: number;
  /** Pool page indices. */
  pages: number[];
}

/** What an append will do to one sequence (counted before anything changes). */
interface AppendPlan {
  readonly added: number;
  readonly newLength: readonly number[];
  readonly newStartPage: readonly number[];
  /** Pages the append takes from the pool (fresh ones and copies on write). */
  readonly taken: number;
  /** Pages whose last reference the window gives back. */
  readonly freed: number;
}

/** What an attend reads, per sequence: the positions [first, length). */
interface AttendPlan {
  readonly problem: AttentionProblem;
  readonly out: Tensor | null;
  readonly lse: Float32Array | null;
  readonly blockQ: number;
  /** Native threads of the decode jobs (1 elsewhere). */
  readonly threads: number;
  readonly first: readonly number[];
  readonly length: readonly number[];
}

function causalOptions(options: unknown, argument = 'options'): unknown {
  if (options === undefined) return { causal: true };
  if (typeof options !== 'object' || options === null) return options; // validation names the problem
  if ((options as { causal?: unknown }).causal === false) {
    throw new AttentionInputError(
      `${argument}.causal`,
      'true or undefined (a KV cache serves causal decoding)',
      'false',
      'Use denseAttention or flashAttention for non-causal attention.',
    );
  }
  return { ...options, causal: true };
}

export class PagedKVStore {
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly pageSize: number;
  readonly maxBytes: number;
  /** Pages the byte limit allows. */
  readonly maxPages: number;
  /** Bytes of one page (keys and values of pageSize positions, every kv head). */
  readonly pageBytes: number;
  readonly window: number | undefined;
  readonly maxStepTokens: number;
  readonly rope: Readonly<Required<PagedRopeOptions>> | undefined;
  readonly backend: Backend;
  readonly storage: KVStorage;
  /** Positions an attend expands (or gathers) per tile. */
  readonly tileKeys: number;
  /**
   * How attend computes: 'decode' (the engine's decodeAttend: one pass per sequence and kv head over
   * the pages in place) or 'tiled' (tiles expanded into scratch, the banded step and log-sum-exp
   * merges). Both run on every backend; 'decode' is the default, 'tiled' is settable for tests and
   * measurements.
   */
  attendPath: 'decode' | 'tiled';

  /** decodeAttend's jobs of one attend (grown as needed, kept: no allocation per job). */
  private readonly decodeJobs: DecodeAttendArgs[] = [];
  private readonly blockQ: number;
  private readonly engine: Engine;
  /** Page layout, in floats from the page start: keys, key scales, values, value scales (int8 only). */
  private readonly keyScales: number;
  private readonly valueStart: number;
  private readonly valueScales: number;
  private readonly pageFloats: number;
  private readonly elementBytes: number;
  /** Arena offset of each pool page. */
  private readonly pageOffsets: number[] = [];
  /** References to each pool page (0: on the free list). */
  private readonly refs: number[] = [];
  private readonly free: number[] = [];
  private readonly sequences = new Map<number, Sequence>();
  private nextId = 0;
  private inUse = 0;

  constructor(config: PagedKVStoreConfig) {
    this.kvHeads = config.kvHeads;
    this.headDim = config.headDim;
    this.valueDim = config.valueDim;
    this.pageSize = config.pageSize;
    this.window = config.window;
    this.maxStepTokens = config.maxStepTokens ?? 1;
    this.blockQ = config.blockQ;
    this.storage = config.storage ?? 'float32';
    this.tileKeys = pagedTileKeys(config.headDim, config.valueDim);
    this.elementBytes = storageElementBytes(this.storage);
    const layout = pagedPageLayout(
      config.kvHeads,
      config.pageSize,
      config.headDim,
      config.valueDim,
      this.storage,
    );
    this.keyScales = layout.keyScales;
    this.valueStart = layout.valueStart;
    this.valueScales = layout.valueScales;
    this.pageFloats = layout.pageFloats;
    this.pageBytes = 4 * this.pageFloats;
    this.maxBytes = Math.min(config.maxBytes ?? MAX_ARENA_BYTES, MAX_ARENA_BYTES);
    this.maxPages = Math.floor(this.maxBytes / this.pageBytes);
    if (this.maxPages < 1) {
      throw new AttentionInputError(
        config.maxBytes === undefined ? 'options.pageSize' : 'options.maxBytes',
        `room for at least one page (${describeBytes(this.pageBytes)}: pageSize × kvHeads × (headDim + valueDim) ${this.storage} elements${this.storage === 'int8' ? ' and a scale per row' : ''})`,
        describeBytes(this.maxBytes),
        'Raise maxBytes or use a smaller pageSize.',
      );
    }
    if (config.rope !== undefined) {
      const rotaryDim = config.rope.rotaryDim ?? config.headDim;
      if (rotaryDim > config.headDim || rotaryDim % 2 !== 0) {
        throw new AttentionInputError(
          'options.rope.rotaryDim',
          `an even number of features of at most ${config.headDim} (headDim)`,
          describeValue(rotaryDim),
          'Rotary embeddings rotate features in pairs.',
        );
      }
      this.rope = { base: config.rope.base ?? 10000, style: config.rope.style ?? 'neox', rotaryDim };
    }
    this.engine = createEngine(config.backend, {
      initialBytes: Math.min(this.maxPages, 16) * this.pageBytes,
    });
    this.backend = this.engine.backend;
    this.attendPath = 'decode';
    // every attend streams the pages end to end: 2 MiB pages spare a TLB miss every 4 KiB
    if (this.engine.ops instanceof NativeKernelOps) this.engine.ops.adviseHugePages(MAX_ARENA_BYTES);
  }

  // ---------------------------------------------------------------- sequences

  /** A new, empty sequence; returns its id. */
  addSequence(): number {
    const id = this.nextId++;
    this.sequences.set(id, { length: 0, startPage: 0, pages: [] });
    return id;
  }

  /** Gives the sequence's pages back (a page shared with a fork stays with it) and forgets the id. */
  removeSequence(id: number): void {
    const sequence = this.sequenceOf(id, 'id');
    this.releasePages(sequence.pages, 0, sequence.pages.length);
    this.sequences.delete(id);
  }

  /** Forgets the sequence's positions (length 0, its pages given back); the id stays valid. */
  clearSequence(id: number): void {
    const sequence = this.sequenceOf(id, 'id');
    this.releasePages(sequence.pages, 0, sequence.pages.length);
    sequence.pages = [];
    sequence.length = 0;
    sequence.startPage = 0;
  }

  /**
   * A new sequence holding the same positions as `id`, sharing every page copy-on-write (parallel
   * sampling, beam search): O(pages), no float copied and no page taken.
   */
  fork(id: number): number {
    const source = this.sequenceOf(id, 'id');
    const forked = this.nextId++;
    for (const page of source.pages) this.refs[page]!++;
    this.sequences.set(forked, {
      length: source.length,
      startPage: source.startPage,
      pages: [...source.pages],
    });
    return forked;
  }

  /** Positions appended to the sequence so far. */
  length(id: number): number {
    return this.sequenceOf(id, 'id').length;
  }

  /** Ids of the live sequences, in the order they were made. */
  get sequenceIds(): number[] {
    return [...this.sequences.keys()];
  }

  /** The pool pages the sequence reads, oldest first (equal entries in two sequences: shared pages). */
  pagesOf(id: number): readonly number[] {
    return [...this.sequenceOf(id, 'id').pages];
  }

  /** Pages held by some sequence. */
  get pagesInUse(): number {
    return this.inUse;
  }

  /** Pages in the pool (in use or free): what the engine's memory holds. */
  get pooledPages(): number {
    return this.pageOffsets.length;
  }

  private sequenceOf(id: unknown, argument: string): Sequence {
    const sequence = typeof id === 'number' ? this.sequences.get(id) : undefined;
    if (sequence === undefined) {
      throw new AttentionInputError(
        argument,
        'the id of a live sequence (from addSequence or fork, not removed)',
        describeValue(id),
        `The cache holds ${this.sequences.size === 0 ? 'no sequence' : `sequences ${[...this.sequences.keys()].join(', ')}`}.`,
      );
    }
    return sequence;
  }

  /** Validates ids: a non-empty array of distinct live sequence ids. */
  private parseIds(ids: unknown): Sequence[] {
    const result = idsSchema.safeParse(ids);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      const at = typeof issue.path[0] === 'number' ? `ids[${issue.path[0]}]` : 'ids';
      throw new AttentionInputError(
        at,
        at === 'ids'
          ? 'an array of sequence ids (from addSequence or fork)'
          : 'a sequence id (an integer >= 0)',
        describeValue(at === 'ids' ? ids : (ids as unknown[])[issue.path[0] as number]),
      );
    }
    const parsed = result.data;
    if (parsed.length === 0) {
      throw new AttentionInputError('ids', 'at least one sequence id', 'an empty array');
    }
    const seen = new Set<number>();
    return parsed.map((id, i) => {
      if (seen.has(id)) {
        throw new AttentionInputError(
          'ids',
          'distinct sequence ids',
          `id ${id} twice (at index ${i})`,
          'Each sequence takes one row of k, v and q per call.',
        );
      }
      seen.add(id);
      return this.sequenceOf(id, `ids[${i}]`);
    });
  }

  private releasePages(pages: readonly number[], from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const page = pages[i]!;
      if (--this.refs[page]! === 0) {
        this.free.push(page);
        this.inUse--;
      }
    }
  }

  /** A page off the free list (the plan made sure there is one). */
  private takePage(): number {
    const page = this.free.pop()!;
    this.refs[page] = 1;
    this.inUse++;
    return page;
  }

  // ---------------------------------------------------------------- append

  /** First position an attend may still need once a sequence holds `length` positions. */
  private keepFrom(length: number): number {
    return this.window === undefined ? 0 : Math.max(0, length - this.window - this.maxStepTokens);
  }

  /** Checks an append and counts its pages exactly; changes nothing. */
  private planAppend(sequences: readonly Sequence[], k: Tensor, v: Tensor): AppendPlan {
    const added = parseCacheAppend(k, v, {
      batch: sequences.length,
      kvHeads: this.kvHeads,
      headDim: this.headDim,
      valueDim: this.valueDim,
    });
    if (this.storage === 'int8') {
      checkFiniteForInt8('k', k.data);
      checkFiniteForInt8('v', v.data);
    }
    const P = this.pageSize;
    // References the plan has taken off pages so far (given back by the window, or left by a copy).
    const dropped = new Map<number, number>();
    const drop = (page: number): number => {
      const count = (dropped.get(page) ?? 0) + 1;
      dropped.set(page, count);
      return this.refs[page]! - count;
    };
    const newLength: number[] = [];
    const newStartPage: number[] = [];
    let freed = 0;
    for (const sequence of sequences) {
      const length = sequence.length + added;
      const endPage = sequence.startPage + sequence.pages.length;
      const startPage = Math.max(sequence.startPage, Math.floor(this.keepFrom(length) / P));
      newLength.push(length);
      newStartPage.push(startPage);
      for (let n = sequence.startPage; n < Math.min(startPage, endPage); n++) {
        if (drop(sequence.pages[n - sequence.startPage]!) === 0) freed++;
      }
    }
    let taken = 0;
    sequences.forEach((sequence, s) => {
      const endPage = sequence.startPage + sequence.pages.length;
      const startPage = newStartPage[s]!;
      const lastPage = endPage - 1;
      if (added > 0 && sequence.length % P !== 0 && lastPage >= startPage) {
        const last = sequence.pages[lastPage - sequence.startPage]!;
        if (this.refs[last]! - (dropped.get(last) ?? 0) > 1) {
          taken++; // copy on write
          drop(last);
        }
      }
      taken += Math.max(0, Math.ceil(newLength[s]! / P) - Math.max(endPage, startPage));
    });
    const peak = this.inUse - freed + taken;
    if (peak > this.maxPages) {
      throw new AttentionInputError(
        'k',
        `new positions needing at most ${this.maxPages - this.inUse + freed} more pages (the cache's byte limit ${describeBytes(this.maxBytes)} holds ${this.maxPages} pages of ${describeBytes(this.pageBytes)}; ${this.inUse} in use)`,
        `${added} new positions for ${sequences.length} sequences needing ${taken} pages`,
        'Remove or clear finished sequences, raise maxBytes, or use a window.',
      );
    }
    return { added, newLength, newStartPage, taken, freed };
  }

  /** Rotates k [S, Hkv, Lnew, Dk] (or q) at positions first[s] + i; returns the tensor to store. */
  private rotated(x: Tensor, first: readonly number[]): Tensor {
    if (this.rope === undefined) return x;
    const rows = x.shape[2]!;
    const positions = new Float64Array(first.length * rows);
    for (let s = 0; s < first.length; s++) {
      for (let i = 0; i < rows; i++) positions[s * rows + i] = first[s]! + i;
    }
    return rope(x, { ...this.rope, positions });
  }

  /** Makes sure the free list (plus the pages the plan frees) covers the plan's pages. */
  private reserve(plan: AppendPlan): void {
    const { arena } = this.engine;
    while (this.free.length + plan.freed < plan.taken) {
      // An ArenaError here leaves only free pages behind: nothing a caller can see has changed.
      const offset = arena.alloc(this.pageFloats);
      this.free.push(this.pageOffsets.length);
      this.pageOffsets.push(offset);
      this.refs.push(0);
    }
  }

  private applyAppend(sequences: readonly Sequence[], plan: AppendPlan, k: Tensor, v: Tensor): void {
    const P = this.pageSize;
    const { added } = plan;
    // 1. the window gives back pages no query can see again (all sequences first: the plan counted so)
    sequences.forEach((sequence, s) => {
      const drop = Math.min(plan.newStartPage[s]! - sequence.startPage, sequence.pages.length);
      if (drop > 0) {
        this.releasePages(sequence.pages, 0, drop);
        sequence.pages.splice(0, drop);
        sequence.startPage += drop;
      }
      if (sequence.pages.length === 0) sequence.startPage = plan.newStartPage[s]!;
    });
    // 2. copy a shared, partly filled last page; take fresh pages; write the rows
    const heap = this.engine.arena.heap;
    sequences.forEach((sequence, s) => {
      const endPage = sequence.startPage + sequence.pages.length;
      if (sequence.length % P !== 0 && sequence.pages.length > 0) {
        const last = sequence.pages[sequence.pages.length - 1]!;
        if (this.refs[last]! > 1) {
          const copy = this.takePage();
          const from = this.pageOffsets[last]!;
          heap.copyWithin(this.pageOffsets[copy]!, from, from + this.pageFloats);
          this.refs[last]!--;
          sequence.pages[sequence.pages.length - 1] = copy;
        }
      }
      const newEnd = Math.ceil(plan.newLength[s]! / P);
      for (let n = endPage; n < newEnd; n++) sequence.pages.push(this.takePage());
      const firstWritten = Math.max(sequence.length, sequence.startPage * P);
      this.writeRows(sequence, s, k, v, added, firstWritten, plan.newLength[s]!);
      sequence.length = plan.newLength[s]!;
    });
  }

  /** Writes positions [from, to) of sequence row s of k and v into its pages, one run per page. */
  private writeRows(
    sequence: Sequence,
    s: number,
    k: Tensor,
    v: Tensor,
    added: number,
    from: number,
    to: number,
  ): void {
    const { kvHeads, pageSize: P } = this;
    const base = sequence.length; // position of row 0 of this append
    for (let position = from; position < to; ) {
      const pageNumber = Math.floor(position / P);
      const slot = position - pageNumber * P;
      const run = Math.min(to - position, P - slot);
      const page = this.pageOffsets[sequence.pages[pageNumber - sequence.startPage]!]!;
      for (let g = 0; g < kvHeads; g++) {
        const row = (s * kvHeads + g) * added + (position - base);
        const storedRow = g * P + slot;
        this.storeRows(k.data, row, run, this.headDim, page, page + this.keyScales, storedRow);
        this.storeRows(
          v.data,
          row,
          run,
          this.valueDim,
          page + this.valueStart,
          page + this.valueScales,
          storedRow,
        );
      }
      position += run;
    }
  }

  /**
   * Stores `run` rows of `depth` from x (from row `row`) in this store's format at stored row
   * `storedRow` of a page's keys or values starting at float `part` (int8: their scales at `scales`).
   */
  private storeRows(
    x: Float32Array,
    row: number,
    run: number,
    depth: number,
    part: number,
    scales: number,
    storedRow: number,
  ): void {
    const heap = this.engine.arena.heap;
    if (this.storage === 'float32') {
      heap.set(x.subarray(row * depth, (row + run) * depth), part + storedRow * depth);
      return;
    }
    if (this.storage === 'float16') {
      const halves = new Uint16Array(heap.buffer);
      storeHalves(x, row * depth, run * depth, halves, 2 * part + storedRow * depth);
      return;
    }
    const bytes = new Int8Array(heap.buffer);
    for (let i = 0; i < run; i++) {
      heap[scales + storedRow + i] = storeInt8Row(
        x,
        (row + i) * depth,
        depth,
        bytes,
        4 * part + (storedRow + i) * depth,
      );
    }
  }

  /**
   * Appends k [S, Hkv, Lnew, Dk] and v [S, Hkv, Lnew, Dv] to the S sequences `ids` (row s of k and
   * v to ids[s]; the same Lnew for every sequence). All or nothing: a refused append changes nothing.
   */
  append(ids: readonly number[], k: Tensor, v: Tensor): void {
    const sequences = this.parseIds(ids);
    const plan = this.planAppend(sequences, k, v);
    const keys = this.rotated(
      k,
      sequences.map((sequence) => sequence.length),
    );
    this.reserve(plan);
    this.applyAppend(sequences, plan, keys, v);
  }

  // ---------------------------------------------------------------- attend

  /** Throws what attend would throw for these options alone (naming options.<key>); changes nothing. */
  checkAttendOptions(options?: unknown): void {
    const parsed = parseOptions(attendOptionsSchema, causalOptions(options)) as PagedKVAttendOptions;
    this.attendThreads(parsed.threads);
  }

  /**
   * Parses an attend of q when the sequences hold `lengths` positions from page `startPages` on (now,
   * or after a step's append): each sequence's queries are its last Lnew positions.
   */
  private planAttend(
    sequences: readonly Sequence[],
    q: Tensor,
    options: unknown,
    lengths: readonly number[],
    startPages: readonly number[],
  ): AttendPlan {
    const withCausal = causalOptions(options);
    parseOptions(attendOptionsSchema, withCausal); // a malformed option is named first
    const empty = lengths.indexOf(0);
    if (empty >= 0) {
      throw new AttentionInputError(
        'q',
        'queries for sequences holding at least one position',
        `an attend on sequence ${this.sequenceIdOf(sequences[empty]!)}, which is empty`,
        'Append the new positions (append or step) before attending.',
      );
    }
    const queries = Array.isArray(q?.shape) ? q.shape[2] : undefined;
    if (this.window !== undefined && typeof queries === 'number' && queries > this.maxStepTokens) {
      throw new AttentionInputError(
        'q',
        `at most ${this.maxStepTokens} queries per attend (the cache's maxStepTokens)`,
        `${queries} queries (shape [${q.shape.join(', ')}])`,
        `The window policy keeps only the last window + maxStepTokens positions: create the cache with maxStepTokens >= ${queries}.`,
      );
    }
    const call = parseCachedAttentionCall<PagedKVAttendOptions>(
      q,
      {
        batch: sequences.length,
        kvHeads: this.kvHeads,
        kvLength: Math.max(...lengths),
        headDim: this.headDim,
        valueDim: this.valueDim,
      },
      withCausal,
      attendOptionsSchema,
    );
    const left = Math.min(call.problem.windowLeft, this.window ?? Number.POSITIVE_INFINITY);
    const qLength = call.problem.qLength;
    const first = lengths.map((length, s) =>
      Math.max(
        startPages[s]! * this.pageSize,
        left === Number.POSITIVE_INFINITY ? 0 : length - qLength - left,
      ),
    );
    return {
      problem: { ...call.problem, windowLeft: left },
      out: call.out,
      lse: call.lse,
      blockQ: call.options.blockQ ?? this.blockQ,
      threads: this.attendThreads(call.options.threads),
      first,
      length: lengths,
    };
  }

  /**
   * The threads an attend runs on: `threads` (default 1), clamped to the pool's maxThreads() as the
   * variants' are. Only the native decode path runs jobs on threads; elsewhere threads > 1 would be
   * ignored, so it is refused.
   */
  private attendThreads(threads: number | undefined): number {
    if (threads === undefined || threads === 1) return 1;
    if (!this.decodesOnThreads()) {
      throw new AttentionInputError(
        'options.threads',
        "1 or undefined on this cache (threads run the native backend's decode jobs)",
        String(threads),
        `This cache attends on the ${this.backend} backend${this.backend === 'native' ? " with attendPath 'tiled'" : ''}, on the calling thread: its pages are its own engine's memory, out of the worker pool's reach. Create it with backend 'native' (or 'auto' where native loads) for threads, or leave threads out.`,
      );
    }
    return Math.min(threads, maxThreads());
  }

  /** Does attend run decodeAttend (the pages read in place)? */
  private decodes(): boolean {
    return this.attendPath === 'decode' && this.engine.ops.decodeAttend !== undefined;
  }

  /** Does attend run its decode jobs on native threads? */
  private decodesOnThreads(): boolean {
    return this.decodes() && this.backend === 'native';
  }

  private sequenceIdOf(sequence: Sequence): number {
    for (const [id, s] of this.sequences) if (s === sequence) return id;
    return -1;
  }

  /**
   * Expands positions [from, to) of kv head g of a sequence into float32 rows at keys / values: a
   * copy per page run for float32, dequantRows per page run for the compact formats.
   */
  private loadTile(
    sequence: Sequence,
    g: number,
    from: number,
    to: number,
    keys: number,
    values: number,
  ): void {
    const { engine, headDim, valueDim, pageSize: P } = this;
    const format = storageFormat(this.storage);
    const heap = engine.arena.heap;
    const int8 = this.storage === 'int8';
    for (let position = from; position < to; ) {
      const pageNumber = Math.floor(position / P);
      const slot = position - pageNumber * P;
      const run = Math.min(to - position, P - slot);
      const page = this.pageOffsets[sequence.pages[pageNumber - sequence.startPage]!]!;
      const row = g * P + slot;
      const kTo = keys + (position - from) * headDim;
      const vTo = values + (position - from) * valueDim;
      if (format === 0) {
        heap.copyWithin(kTo, page + row * headDim, page + (row + run) * headDim);
        const v = page + this.valueStart + row * valueDim;
        heap.copyWithin(vTo, v, v + run * valueDim);
      } else {
        const bytes = this.elementBytes;
        engine.ops.dequantRows(
          4 * page + row * headDim * bytes,
          format,
          run,
          headDim,
          int8 ? page + this.keyScales + row : -1,
          kTo,
        );
        engine.ops.dequantRows(
          4 * (page + this.valueStart) + row * valueDim * bytes,
          format,
          run,
          valueDim,
          int8 ? page + this.valueScales + row : -1,
          vTo,
        );
      }
      position += run;
    }
  }

  /**
   * Per sequence s and kv head g, the span of visible positions is cut into key splits by the banded
   * variants' rule (planBandSplits: the shape alone decides, never the thread count), each split into
   * tiles of tileKeys positions. A tile is expanded into float32 scratch (loadTile) and every query
   * head of the group attends it with the banded step; a split's tiles are merged in order with the
   * log-sum-exp merge (core's mergeAttentionRows), then its splits likewise. The cache's memory is
   * private to it, out of the worker pool's reach, so splits run one after another on this thread.
   */
  private applyAttend(sequences: readonly Sequence[], plan: AttendPlan, q: Tensor): Tensor {
    if (this.decodes()) {
      return this.applyDecodeAttend(sequences, plan, q);
    }
    const { problem } = plan;
    const { qHeads, qLength, headDim, valueDim, groupSize } = problem;
    const S = sequences.length;
    const queries = this.rotated(
      q,
      plan.length.map((length) => length - qLength),
    );
    const rows = Math.max(1, Math.min(plan.blockQ, qLength));
    const items = S * qHeads * Math.ceil(qLength / rows);
    const total = S * qHeads * qLength;
    const groupRows = groupSize * qLength;
    const T = this.tileKeys;
    let widest = 1;
    let splitsAtMost = 1;
    const splits = sequences.map((_, s) => {
      const span = plan.length[s]! - plan.first[s]!;
      widest = Math.max(widest, span);
      const split = planBandSplits({ ...problem, batch: 1, kvLength: span }, items, T);
      splitsAtMost = Math.max(splitsAtMost, split.keySplits);
      return split;
    });
    const tile = Math.min(T, widest);
    const { arena } = this.engine;
    const mark = arena.mark();
    try {
      const qOffset = arena.put(queries.data);
      const out = arena.alloc(total * valueDim);
      const lse = arena.alloc(total);
      const keys = arena.alloc(tile * headDim);
      const values = arena.alloc(tile * valueDim);
      const scores = arena.alloc(bandScoreFloats(rows, tile, problem.windowLeft, 0));
      // a tile's result, then the splits' results, for one group of query heads
      const tileOut = arena.alloc(groupRows * valueDim);
      const tileLse = arena.alloc(groupRows);
      const partOut = arena.alloc(splitsAtMost * groupRows * valueDim);
      const partLse = arena.alloc(splitsAtMost * groupRows);
      const heap = arena.heap;
      const tileView = [heap.subarray(tileOut, tileOut + groupRows * valueDim)];
      const tileLseView = [heap.subarray(tileLse, tileLse + groupRows)];
      const head: HeadOffsets = { q: 0, out: 0, lse: 0, k: 0, v: 0, head: 0, bias: -1 };
      for (let s = 0; s < S; s++) {
        const span = plan.length[s]! - plan.first[s]!;
        const split = splits[s]!;
        // This sequence's call: its own span of keys, its queries bottom-right aligned on its length
        // (the band mask is translation invariant, so positions [first, length) become [0, span)).
        const own: AttentionProblem = {
          ...problem,
          batch: 1,
          kvLength: span,
          validKeys: [span],
          hasKvLengths: false,
          masked: true,
        };
        for (let g = 0; g < this.kvHeads; g++) {
          const groupRow = (s * qHeads + g * groupSize) * qLength;
          const groupOut = out + groupRow * valueDim;
          const groupLse = lse + groupRow;
          for (let part = 0; part < split.keySplits; part++) {
            const from = part * split.splitKeys;
            const to = Math.min(span, from + split.splitKeys);
            // an unsplit call's only split writes the result rows themselves
            const intoOut = split.keySplits === 1 ? groupOut : partOut + part * groupRows * valueDim;
            const intoLse = split.keySplits === 1 ? groupLse : partLse + part * groupRows;
            const into = [heap.subarray(intoOut, intoOut + groupRows * valueDim)];
            const intoLseView = [heap.subarray(intoLse, intoLse + groupRows)];
            for (let tileFrom = from; tileFrom < to; tileFrom += T) {
              const tileTo = Math.min(to, tileFrom + T);
              this.loadTile(
                sequences[s]!,
                g,
                plan.first[s]! + tileFrom,
                plan.first[s]! + tileTo,
                keys,
                values,
              );
              const first = tileFrom === from;
              // Key index j of the call sits at row j − tileFrom of the tile.
              head.k = keys - tileFrom * headDim;
              head.v = values - tileFrom * valueDim;
              for (let i = 0; i < groupSize; i++) {
                const h = g * groupSize + i;
                head.head = h;
                head.q = qOffset + (groupRow + i * qLength) * headDim;
                head.out = (first ? intoOut : tileOut) + i * qLength * valueDim;
                head.lse = (first ? intoLse : tileLse) + i * qLength;
                for (let rowStart = 0; rowStart < qLength; rowStart += rows) {
                  const rowEnd = Math.min(qLength, rowStart + rows);
                  attendBand(this.engine, own, head, 0, rowStart, rowEnd, scores, tileFrom, tileTo);
                }
              }
              if (!first) {
                into.push(tileView[0]!);
                intoLseView.push(tileLseView[0]!);
                mergeAttentionRows(into, intoLseView, groupRows, valueDim, into[0]!, intoLseView[0]!);
                into.pop();
                intoLseView.pop();
              }
            }
          }
          if (split.keySplits > 1) {
            mergeGroupSplits(
              heap,
              partOut,
              partLse,
              split.keySplits,
              groupRows,
              valueDim,
              groupOut,
              groupLse,
            );
          }
        }
      }
      const result = plan.out ?? {
        data: new Float32Array(total * valueDim),
        shape: [S, qHeads, qLength, valueDim],
      };
      arena.read(out, total * valueDim, result.data);
      if (plan.lse) arena.read(lse, total, plan.lse);
      return result;
    } finally {
      arena.release(mark);
    }
  }

  /**
   * The attend on the engine's decodeAttend: every sequence's page table (pool page offsets) goes
   * into the arena, then one job per sequence, kv head and key split attends the group's Hq/Hkv ·
   * Lnew query rows against its positions read from the pages in place (no tile copies: one
   * online-softmax pass per row). The key splits follow the banded variants' rule with the jobs of
   * the unsplit attend as items (planBandSplits: S · Hkv items, so one long sequence's 8 kv heads cut
   * their keys in 2; the shape alone decides): split jobs write partial results that are merged in
   * split order (core's mergeAttentionRows). On native the jobs run on `threads` native threads,
   * longest first; elsewhere one by one. Memory: q, out, lse, the page tables and the partial
   * results of split jobs (splits · rows · (Dv + 1) floats).
   */
  private applyDecodeAttend(sequences: readonly Sequence[], plan: AttendPlan, q: Tensor): Tensor {
    const { problem } = plan;
    const { qHeads, qLength, headDim, valueDim, groupSize } = problem;
    const S = sequences.length;
    const P = this.pageSize;
    const queries = this.rotated(
      q,
      plan.length.map((length) => length - qLength),
    );
    const total = S * qHeads * qLength;
    const groupRows = groupSize * qLength;
    const items = S * this.kvHeads;
    let tablePages = 0;
    let splitGroups = 0;
    const splits = sequences.map((sequence, s) => {
      tablePages += sequence.pages.length;
      const span = plan.length[s]! - plan.first[s]!;
      const split = planBandSplits({ ...problem, batch: 1, kvLength: span }, items, DECODE_BLOCK_KEYS);
      if (split.keySplits > 1) splitGroups += split.keySplits * this.kvHeads;
      return split;
    });
    const { arena } = this.engine;
    const mark = arena.mark();
    try {
      const qOffset = arena.put(queries.data);
      const out = arena.alloc(total * valueDim);
      const lse = arena.alloc(total);
      const tables = arena.alloc(Math.max(1, tablePages));
      const partOut = arena.alloc(splitGroups * groupRows * valueDim);
      const partLse = arena.alloc(splitGroups * groupRows);
      const words = new Int32Array(arena.heap.buffer);
      const bytes = this.elementBytes;
      const int8 = this.storage === 'int8';
      const format = storageFormat(this.storage);
      const jobs = this.decodeJobs;
      let count = 0;
      let table = tables;
      let partial = 0; // split groups placed so far
      for (let s = 0; s < S; s++) {
        const sequence = sequences[s]!;
        for (let i = 0; i < sequence.pages.length; i++) {
          words[table + i] = this.pageOffsets[sequence.pages[i]!]!;
        }
        const split = splits[s]!;
        const first = plan.first[s]!;
        const length = plan.length[s]!;
        for (let g = 0; g < this.kvHeads; g++) {
          const groupRow = (s * qHeads + g * groupSize) * qLength;
          for (let part = 0; part < split.keySplits; part++) {
            const from = first + part * split.splitKeys;
            if (count === jobs.length) jobs.push({ ...EMPTY_DECODE_JOB });
            const a = jobs[count++]!;
            a.q = qOffset + groupRow * headDim;
            a.rows = groupRows;
            a.qLength = qLength;
            a.dk = headDim;
            a.dv = valueDim;
            a.scale = problem.scale;
            a.table = table;
            a.tableStart = sequence.startPage * P;
            a.pageSize = P;
            a.keyByte = g * P * headDim * bytes;
            a.valueByte = 4 * this.valueStart + g * P * valueDim * bytes;
            a.keyScales = int8 ? this.keyScales + g * P : -1;
            a.valueScales = int8 ? this.valueScales + g * P : -1;
            a.format = format;
            a.from = from;
            a.to = Math.min(length, from + split.splitKeys);
            a.firstQueryPos = length - qLength;
            a.left = problem.windowLeft;
            // an unsplit group's only job writes the result rows themselves
            const at = split.keySplits === 1 ? -1 : partial + part;
            a.out = at < 0 ? out + groupRow * valueDim : partOut + at * groupRows * valueDim;
            a.lse = at < 0 ? lse + groupRow : partLse + at * groupRows;
          }
          if (split.keySplits > 1) partial += split.keySplits;
        }
        table += sequence.pages.length;
      }
      if (plan.threads > 1 && count > 1) {
        // longest first, so the threads finish together (which thread runs a job changes no bit)
        const running = jobs.slice(0, count).sort((x, y) => y.to - y.from - (x.to - x.from));
        this.engine.ops.decodeAttendMany!(running, count, plan.threads);
      } else {
        for (let j = 0; j < count; j++) this.engine.ops.decodeAttend!(jobs[j]!);
      }
      const heap = arena.heap;
      partial = 0;
      for (let s = 0; s < S; s++) {
        const { keySplits } = splits[s]!;
        if (keySplits === 1) continue;
        for (let g = 0; g < this.kvHeads; g++) {
          const groupRow = (s * qHeads + g * groupSize) * qLength;
          mergeGroupSplits(
            heap,
            partOut + partial * groupRows * valueDim,
            partLse + partial * groupRows,
            keySplits,
            groupRows,
            valueDim,
            out + groupRow * valueDim,
            lse + groupRow,
          );
          partial += keySplits;
        }
      }
      const result = plan.out ?? {
        data: new Float32Array(total * valueDim),
        shape: [S, qHeads, qLength, valueDim],
      };
      arena.read(out, total * valueDim, result.data);
      if (plan.lse) arena.read(lse, total, plan.lse);
      return result;
    } finally {
      arena.release(mark);
    }
  }

  /**
   * Attends q [S, Hq, Lnew, Dk] of the S sequences `ids` (row s: the queries of the last Lnew
   * positions of ids[s]) against each sequence's own positions, causal and bottom-right aligned on
   * its own length; returns [S, Hq, Lnew, Dv]. GQA: Hq any multiple of Hkv.
   */
  attend(ids: readonly number[], q: Tensor, options?: PagedKVAttendOptions): Tensor {
    const sequences = this.parseIds(ids);
    const plan = this.planAttend(
      sequences,
      q,
      options,
      sequences.map((sequence) => sequence.length),
      sequences.map((sequence) => sequence.startPage),
    );
    return this.applyAttend(sequences, plan, q);
  }

  /** append then attend, both checked before anything is stored: a refused step changes nothing. */
  step(ids: readonly number[], q: Tensor, k: Tensor, v: Tensor, options?: PagedKVAttendOptions): Tensor {
    const sequences = this.parseIds(ids);
    const append = this.planAppend(sequences, k, v);
    const attend = this.planAttend(sequences, q, options, append.newLength, append.newStartPage);
    const keys = this.rotated(
      k,
      sequences.map((sequence) => sequence.length),
    );
    this.reserve(append);
    this.applyAppend(sequences, append, keys, v);
    return this.applyAttend(sequences, attend, q);
  }

  /** Removes every sequence (the pool keeps its pages for the next ones). */
  reset(): void {
    for (const id of [...this.sequences.keys()]) this.removeSequence(id);
  }

  /**
   * The sequences `ids` as one batch (core's AttentionCache: batch = ids.length), e.g. for mha's
   * decoder: `createKVCache: () => cache.view(ids)`. Its reset() clears those sequences only.
   */
  view(ids: readonly number[]): PagedKVView {
    this.parseIds(ids);
    return new PagedKVView(this, [...ids]);
  }
}

/** A batch of a paged cache's sequences behind core's AttentionCache contract. */
export class PagedKVView implements AttentionCache {
  readonly batch: number;

  constructor(
    private readonly store: PagedKVStore,
    readonly ids: readonly number[],
  ) {
    this.batch = ids.length;
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
  /** Positions of the longest sequence of the view (all equal when they only ever step together). */
  get length(): number {
    return Math.max(...this.ids.map((id) => this.store.length(id)));
  }
  append(k: Tensor, v: Tensor): void {
    this.store.append(this.ids, k, v);
  }
  attend(q: Tensor, options?: AttentionOptions): Tensor {
    return this.store.attend(this.ids, q, options as PagedKVAttendOptions);
  }
  step(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Tensor {
    return this.store.step(this.ids, q, k, v, options as PagedKVAttendOptions);
  }
  checkAttendOptions(options?: unknown): void {
    this.store.checkAttendOptions(options);
  }
  reset(): void {
    for (const id of this.ids) this.store.clearSequence(id);
  }
}
