/**
 * Incremental (KV-cache) decoding of the layer, the way GPT-style models generate: each step
 * projects only the new positions, appends their keys and values to a cache, attends the new
 * queries against everything cached (bottom-right aligned causal mask, so a multi-token prefill
 * is causal among itself too) and projects the result. Equal to the full causal pass token by token.
 *
 * The cache factory is an option (any cache with length/step/reset, core's AttentionCache),
 * defaulting to createKVCache from @attnkit/causal, so a rolling or ragged cache can take its place,
 * or a view of causal's paged cache (createKVCache: () => paged.view(ids): the decoder's batch rows
 * are those sequences, forks of one prompt included, with RoPE applied by the cache if it has it).
 * A refused step changes nothing: the cache's step checks its attend before it appends, and the
 * attend options are checked once, when the decoder is created.
 * Time per step of T new positions: O(B·T·dModel·(Hq·dk + Hkv·(dk + dv) + Hq·dv)) for the
 * projections plus the cache's attend, O(B·Hq·T·(n + T)·(dk + dv)) after n cached positions;
 * extra memory: the cache (B·Hkv·capacity·(dk + dv) floats) and the step's projections.
 */
import { createKVCache as createCausalKVCache } from '@attnkit/causal';
import { AttentionInputError, describeValue, parseOptions, type Tensor, z } from '@attnkit/core';
import { type BackendChoice, engineOptionsSchema, getEngine } from '@attnkit/kernels';
import { projectInputs, projectOutput } from './multi-head-attention.js';
import {
  checkTensorArgument,
  type LayerShape,
  type MultiHeadWeights,
  parseHeads,
  renamedError,
  validateWeights,
} from './validate.js';

/** What the decoder asks of a cache factory (createKVCache from @attnkit/causal takes exactly these). */
export interface DecoderCacheSpec {
  batch: number;
  kvHeads: number;
  headDim: number;
  valueDim: number;
  capacity: number;
  backend?: BackendChoice;
}

/** The part of a KV cache the decoder uses (core's AttentionCache: causal's and sliding-window's caches have it). */
export interface DecoderKVCache {
  /** Positions cached so far. */
  readonly length: number;
  /**
   * Appends k [B, Hkv, T, dk] and v [B, Hkv, T, dv], then attends q [B, Hq, T, dk] against every
   * cached position (causal, bottom-right aligned) → [B, Hq, T, dv]. Both are checked before the
   * append: a refused step must change nothing, so a refused decoder step leaves no trace.
   */
  step(q: Tensor, k: Tensor, v: Tensor, options?: Record<string, unknown>): Tensor;
  /** Throws what attend would throw for these options (naming options.<key>); called once at creation. */
  checkAttendOptions?(options?: unknown): void;
  /** Forgets every position. */
  reset(): void;
}

export interface MultiHeadDecoderOptions {
  heads: number;
  kvHeads?: number;
  /** Sequences decoded side by side (default 1). */
  batch?: number;
  /** Positions the cache preallocates (default 256; createKVCache grows it by doubling). */
  capacity?: number;
  /** Makes the cache. Default: `createKVCache` from @attnkit/causal (grows by doubling). */
  createKVCache?: (spec: DecoderCacheSpec) => DecoderKVCache;
  /**
   * Options for every attend of the cache (e.g. scale, window for a local causal window, blockQ).
   * Checked by the cache when the decoder is created; refusals name options.attendOptions.<key>.
   */
  attendOptions?: Record<string, unknown>;
  /** Engine for the projections (and passed to the cache): 'auto' (default, as getEngine()), 'native', 'wasm' or 'js'. */
  backend?: BackendChoice;
}

export interface MultiHeadDecoder {
  /** Positions decoded so far. */
  readonly length: number;
  /** The layer's output for the new positions xNew [B, T, dModel] → [B, T, dModel], causal over all so far. */
  step(xNew: Tensor): Tensor;
  /** Starts a new sequence (the cache forgets every position). */
  reset(): void;
}

const decoderOptionsSchema = z.strictObject({
  heads: z.number().int().positive(),
  kvHeads: z.number().int().positive().optional(),
  batch: z.number().int().positive().optional(),
  capacity: z.number().int().positive().optional(),
  createKVCache: z
    .custom<(spec: DecoderCacheSpec) => DecoderKVCache>((f) => typeof f === 'function', {
      error: "a cache factory such as createKVCache from '@attnkit/causal'",
    })
    .optional(),
  attendOptions: z.record(z.string(), z.unknown()).optional(),
  backend: engineOptionsSchema.shape.backend,
});

/** The cache a factory made, if it has what the decoder calls (a missing step would fail at the first one). */
function checkCache(cache: unknown, batch: number): DecoderKVCache {
  const candidate = cache as Partial<DecoderKVCache> | null;
  const missing = ['step', 'reset'].filter(
    (name) => typeof candidate?.[name as 'step' | 'reset'] !== 'function',
  );
  if (missing.length > 0 || typeof candidate?.length !== 'number') {
    throw new AttentionInputError(
      'options.createKVCache',
      "a factory whose caches have length, step(q, k, v, options) and reset() (core's AttentionCache)",
      `a factory that returned ${describeValue(cache)}`,
      "Use createKVCache or a createPagedKVCache view from '@attnkit/causal', createRollingKVCache from '@attnkit/sliding-window', or give your cache a step that checks its attend before it appends.",
    );
  }
  // A cache that says its batch (core's AttentionCache does) must hold the decoder's rows: a paged
  // cache's view of other sequences would otherwise fail only at the first step, naming xNew.
  const cacheBatch = (cache as { batch?: unknown }).batch;
  if (typeof cacheBatch === 'number' && cacheBatch !== batch) {
    throw new AttentionInputError(
      'options.createKVCache',
      `a factory whose caches hold the decoder's batch of ${batch} sequences`,
      `a cache of batch ${cacheBatch}`,
      'Give the decoder batch: ids.length, or view as many sequences as the decoder has rows.',
    );
  }
  return cache as DecoderKVCache;
}

/**
 * A complaint of the cache, named where the decoder's caller put it: the cache's options are
 * options.attendOptions, and its q, k, v are projected from xNew.
 */
function fromCache(error: unknown): unknown {
  if (!(error instanceof AttentionInputError)) return error;
  if (/^options(\.|$)/.test(error.argument)) {
    return renamedError(
      error,
      error.argument.replace(/^options/, 'options.attendOptions'),
      "the decoder's KV cache",
    );
  }
  if (/^[qkv](\.|$)/.test(error.argument)) {
    return renamedError(error, 'xNew', `the decoder's KV cache, about ${error.argument} projected from xNew`);
  }
  return error;
}

class CachedMultiHeadDecoder implements MultiHeadDecoder {
  private readonly cache: DecoderKVCache;

  constructor(
    private readonly weights: MultiHeadWeights,
    private readonly shape: LayerShape,
    private readonly batch: number,
    createCache: (spec: DecoderCacheSpec) => DecoderKVCache,
    capacity: number,
    private readonly attendOptions: Record<string, unknown>,
    private readonly backend: BackendChoice | undefined,
  ) {
    const spec: DecoderCacheSpec = {
      batch,
      kvHeads: shape.kvHeads,
      headDim: shape.headDim,
      valueDim: shape.valueDim,
      capacity,
    };
    if (backend !== undefined) spec.backend = backend;
    this.cache = checkCache(createCache(spec), batch);
    try {
      this.cache.checkAttendOptions?.(attendOptions);
    } catch (error) {
      throw fromCache(error);
    }
  }

  get length(): number {
    return this.cache.length;
  }

  step(xNew: Tensor): Tensor {
    const x = checkTensorArgument(xNew, 'xNew', 3, '[B, T, dModel]');
    const [batch, steps, width] = x.shape as [number, number, number];
    if (batch !== this.batch || width !== this.shape.dModel) {
      throw new AttentionInputError(
        'xNew',
        `shape [B, T, dModel] = [${this.batch}, T, ${this.shape.dModel}] (the decoder's batch and the weights' dModel)`,
        `shape [${x.shape.join(', ')}]`,
        'Pass the new positions of every sequence at once.',
      );
    }
    const engine = getEngine(this.backend);
    const { weights, shape } = this;
    const { q, k, v } = projectInputs(engine, shape, weights, x, null, batch, steps, steps);
    let attended: Tensor;
    try {
      attended = this.cache.step(q, k, v, this.attendOptions);
    } catch (error) {
      throw fromCache(error);
    }
    return projectOutput(engine, shape, attended, weights, batch, steps);
  }

  reset(): void {
    this.cache.reset();
  }
}

/**
 * A decoder for one layer: `step(xNew)` returns the layer's causal output for the new positions,
 * reusing the keys and values of every earlier position from the cache.
 *
 * ```ts
 * const decoder = createMultiHeadDecoder(weights, { heads: 8, kvHeads: 2 }); // causal's growing KV cache
 * for (const token of tokens) y = decoder.step(embed(token)); // [1, 1, dModel] each
 * ```
 */
export function createMultiHeadDecoder(
  weights: MultiHeadWeights,
  options: MultiHeadDecoderOptions,
): MultiHeadDecoder {
  const own = parseOptions(decoderOptionsSchema, options, 'options');
  const kvHeads = parseHeads(own.heads, own.kvHeads);
  const shape = validateWeights(weights, own.heads, kvHeads);
  return new CachedMultiHeadDecoder(
    weights,
    shape,
    own.batch ?? 1,
    own.createKVCache ?? createCausalKVCache,
    own.capacity ?? 256,
    own.attendOptions ?? {},
    own.backend,
  );
}
