/**
 * Decoding with a rolling (ring-buffer) KV cache for causal windows (Mistral-style): a query at
 * position p sees keys [p − window, p], so only the last window + maxStepTokens positions are ever
 * needed — window + 1 entries when decoding one token per step. Position t lives in slot t mod capacity.
 *
 * Layout: the ring lives in a private engine's memory (kernels' createEngine: a memory of its own, garbage-collected with the cache, never the shared bump arena) as
 * K [B, Hkv, capacity, Dk] and V [B, Hkv, capacity, Dv]. The keys the new queries may see, [first, total), occupy at most two
 * contiguous runs of slots (the ring wraps once), so attend computes their scores side by side —
 * run 1 then run 2, i.e. in position order — applies the band mask once, one softmax, and P·V as two
 * gemms (the second accumulating). Nothing is copied but q in and out/lse back.
 * Time per attend: O(B · Hq · Lnew · (window + Lnew) · (Dk + Dv)), independent of how long the
 * sequence has grown. Append: O(B · Hkv · min(Lnew, capacity) · (Dk + Dv)).
 * Extra memory: the ring (B · Hkv · capacity · (Dk + Dv) floats) plus per attend the copies of q, out,
 * lse and Lnew · (window + Lnew) scores.
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
  MAX_ARENA_BYTES,
  parseCacheAppend,
} from '@attnkit/kernels';

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
  /** Engine the ring is stored in and attended with (a private one): 'wasm' or 'js'; default as getEngine(). */
  backend?: Backend;
}

export interface RollingKVCacheAttendOptions {
  scale?: number;
  /** Always causal; false is refused. */
  causal?: boolean;
  out?: Tensor;
  lse?: Float32Array;
}

export interface RollingKVCache {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly window: number;
  readonly maxStepTokens: number;
  readonly backend: Backend;
  /** Slots in the ring: window + maxStepTokens. */
  readonly capacity: number;
  /** Positions appended so far (the sequence length; may exceed the capacity). */
  readonly length: number;
  /** Appends k [B, Hkv, Lnew, Dk], v [B, Hkv, Lnew, Dv]; only the last `capacity` positions are kept. */
  append(k: Tensor, v: Tensor): void;
  /**
   * Attends q [B, Hq, Lnew, Dk] (Lnew <= maxStepTokens; the queries of the last Lnew positions) against
   * the keys each may see; returns [B, Hq, Lnew, Dv].
   */
  attend(q: Tensor, options?: RollingKVCacheAttendOptions): Tensor;
  /** Forgets every position (keeps the storage). */
  reset(): void;
}

const dimension = z.number().int().positive();
const rollingOptionsSchema = z.strictObject({
  batch: dimension,
  kvHeads: dimension,
  headDim: dimension,
  valueDim: dimension,
  window: z.number().int().nonnegative(),
  maxStepTokens: dimension.optional(),
  backend: z.enum(['wasm', 'js']).optional(),
});

// The window and the engine belong to the cache; anything else here would be ignored, so refuse it.
const attendOptionsSchema = attentionOptionsSchema
  .pick({ scale: true, causal: true, out: true, lse: true })
  .strict();

class RingKVCache implements RollingKVCache {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly window: number;
  readonly maxStepTokens: number;
  readonly capacity: number;
  readonly backend: Backend;
  private readonly engine: Engine;
  private readonly keys: number;
  private readonly values: number;
  private total = 0;

  constructor(options: RollingKVCacheOptions) {
    this.batch = options.batch;
    this.kvHeads = options.kvHeads;
    this.headDim = options.headDim;
    this.valueDim = options.valueDim;
    this.window = options.window;
    this.maxStepTokens = options.maxStepTokens ?? 1;
    this.capacity = this.window + this.maxStepTokens;
    const heads = this.batch * this.kvHeads;
    const floats =
      alignFloats(heads * this.capacity * this.headDim) + alignFloats(heads * this.capacity * this.valueDim);
    if (4 * floats > MAX_ARENA_BYTES) {
      throw new AttentionInputError(
        'options.window',
        `a ring of at most ${(MAX_ARENA_BYTES / 2 ** 30).toFixed(2)} GiB (the WebAssembly memory limit)`,
        `${this.capacity} positions needing ${((4 * floats) / 2 ** 30).toFixed(2)} GiB`,
        'Use a smaller window or split the batch over several caches.',
      );
    }
    this.engine = createEngine(options.backend, { initialBytes: 4 * floats });
    this.backend = this.engine.backend;
    this.keys = this.engine.arena.alloc(heads * this.capacity * this.headDim);
    this.values = this.engine.arena.alloc(heads * this.capacity * this.valueDim);
  }

  get length(): number {
    return this.total;
  }

  append(k: Tensor, v: Tensor): void {
    const added = parseCacheAppend(k, v, this);
    // Only the last `capacity` of the new positions can still be needed; earlier ones would be overwritten.
    const kept = Math.min(added, this.capacity);
    const firstKept = this.total + added - kept;
    const heads = this.batch * this.kvHeads;
    for (let head = 0; head < heads; head++) {
      this.writeRun(k.data, this.keys, this.headDim, head, added, firstKept - this.total, firstKept, kept);
      this.writeRun(v.data, this.values, this.valueDim, head, added, firstKept - this.total, firstKept, kept);
    }
    this.total += added;
  }

  /** Copies `count` rows (of `depth` floats) of one head, from source row `fromRow`, into the ring at position `position` onwards. */
  private writeRun(
    source: Float32Array,
    ring: number,
    depth: number,
    head: number,
    sourceRows: number,
    fromRow: number,
    position: number,
    count: number,
  ): void {
    const heap = this.engine.arena.heap;
    const slot = position % this.capacity;
    const firstRun = Math.min(count, this.capacity - slot); // up to the end of the ring, then wrap to slot 0
    const from = (head * sourceRows + fromRow) * depth;
    const headRing = ring + head * this.capacity * depth;
    heap.set(source.subarray(from, from + firstRun * depth), headRing + slot * depth);
    if (count > firstRun) heap.set(source.subarray(from + firstRun * depth, from + count * depth), headRing);
  }

  attend(q: Tensor, options?: RollingKVCacheAttendOptions): Tensor {
    if (options !== null && typeof options === 'object' && options.causal === false) {
      throw new AttentionInputError(
        'options.causal',
        'true or undefined (a rolling cache serves causal windows)',
        'false',
        'Use slidingWindowAttention for non-causal windows.',
      );
    }
    parseOptions(attendOptionsSchema, options);
    if (this.total === 0) {
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
    // Work relative to the first key any new query may see: positions [first, total) become
    // [0, span), a problem of span keys (the band mask is translation invariant).
    const qLength = typeof queries === 'number' ? queries : 1;
    const first = Math.max(0, this.total - qLength - this.window);
    const span = this.total - first;
    const heads = this.batch * this.kvHeads;
    // Shape-only views for the shared validation (it checks shapes, lengths and aliasing, never the
    // contents; the keys are read from the ring below).
    const heap = this.engine.arena.heap;
    const kView = {
      data: heap.subarray(this.keys, this.keys + heads * span * this.headDim),
      shape: [this.batch, this.kvHeads, span, this.headDim],
    };
    const vView = {
      data: heap.subarray(this.values, this.values + heads * span * this.valueDim),
      shape: [this.batch, this.kvHeads, span, this.valueDim],
    };
    const problem = validateAttentionInputs(q, kView, vView, {
      ...options,
      causal: true,
      window: [this.window, 0],
    });
    return this.attendRing(
      q,
      problem.scale,
      problem.qHeads,
      problem.groupSize,
      first,
      span,
      problem.out,
      problem.lse,
    );
  }

  private attendRing(
    q: Tensor,
    scale: number,
    qHeads: number,
    groupSize: number,
    first: number,
    span: number,
    out: Tensor | null,
    lse: Float32Array | null,
  ): Tensor {
    const { arena, ops } = this.engine;
    const { batch, headDim, valueDim, capacity, window } = this;
    const qLength = q.shape[2]!;
    const rows = batch * qHeads * qLength;
    // The span's slots: run 1 from first's slot to the ring's end (or the span's end), run 2 wraps to slot 0.
    const slot = first % capacity;
    const run1 = Math.min(span, capacity - slot);
    const run2 = span - run1;
    const firstQueryPos = span - qLength;
    const mark = arena.mark();
    try {
      const queries = arena.put(q.data);
      const output = arena.alloc(rows * valueDim);
      const lseRows = arena.alloc(rows);
      const scores = arena.alloc(qLength * span);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < qHeads; h++) {
          const row = (b * qHeads + h) * qLength;
          const kvHead = b * this.kvHeads + Math.floor(h / groupSize);
          const qRows = queries + row * headDim;
          const outRows = output + row * valueDim;
          const ringKeys = this.keys + kvHead * capacity * headDim;
          const ringValues = this.values + kvHead * capacity * valueDim;
          // 1. scores in position order: run 1 then run 2
          ops.gemmNT(
            qLength,
            run1,
            headDim,
            qRows,
            headDim,
            ringKeys + slot * headDim,
            headDim,
            scores,
            span,
            scale,
            0,
          );
          if (run2 > 0) {
            ops.gemmNT(
              qLength,
              run2,
              headDim,
              qRows,
              headDim,
              ringKeys,
              headDim,
              scores + run1,
              span,
              scale,
              0,
            );
          }
          // 2. causal band (relative positions: keys [0, span), queries at span − Lnew ...)
          ops.maskBand(scores, span, qLength, span, firstQueryPos, 0, window, 0, span);
          // 3. softmax (rows before the first position see nothing: zeros, lse −∞)
          ops.softmaxRows(scores, span, qLength, span, lseRows + row);
          // 4. out = P_run1 · V_run1 + P_run2 · V_run2
          ops.gemmNN(
            qLength,
            valueDim,
            run1,
            scores,
            span,
            ringValues + slot * valueDim,
            valueDim,
            outRows,
            valueDim,
            1,
            0,
          );
          if (run2 > 0) {
            ops.gemmNN(
              qLength,
              valueDim,
              run2,
              scores + run1,
              span,
              ringValues,
              valueDim,
              outRows,
              valueDim,
              1,
              1,
            );
          }
        }
      }
      const result = out ?? {
        data: new Float32Array(rows * valueDim),
        shape: [batch, qHeads, qLength, valueDim],
      };
      arena.read(output, rows * valueDim, result.data);
      if (lse) arena.read(lseRows, rows, lse);
      return result;
    } finally {
      arena.release(mark);
    }
  }

  reset(): void {
    this.total = 0;
  }
}

/**
 * A rolling KV cache for decoding with a causal window of left reach `window`: a ring of
 * window + maxStepTokens positions per (batch, kv head).
 */
export function createRollingKVCache(options: RollingKVCacheOptions): RollingKVCache {
  return new RingKVCache(parseOptions(rollingOptionsSchema, options));
}
