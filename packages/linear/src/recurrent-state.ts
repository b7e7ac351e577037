/**
 * The recurrent form of causal linear attention, for decoding (Katharopoulos et al. 2020, §3.4):
 * per (batch, kv head) the state is S = Σ φ(k_j) v_jᵀ [m × dv] and z = Σ φ(k_j) [m] over the tokens
 * seen so far; `step(q, k, v)` takes Lnew new tokens, answers them causally (token t sees every
 * earlier token and itself) through the chunked routine with S, z preloaded, and folds them in.
 * A step's documentMask resets S, z and the stabiliser at each document after its first (packed
 * sequences streamed through one state: the chunked form's documents, paused anywhere).
 *
 * FAVOR+'s key stabiliser is the same running max as in the one-shot forms (head-group.ts), kept
 * per (batch, kv head) between steps: S, z and the stabiliser are the chunked form's, paused.
 *
 * The state lives in plain Float32Arrays owned by this object (the arena is a per-call stack), and
 * is copied into the arena and back on each step.
 * Time per step O(B·Hkv·m·dv + B·Hq·Lnew·(m·(d + dv) + C·(m + dv))): per token O(m·dv), flat in the
 * number of tokens so far. Memory: the state, B·Hkv·m·(dv + 1) floats.
 */
import {
  AttentionInputError,
  type AttentionMask,
  type DocumentMask,
  isAttentionMask,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
  z,
} from '@attnkit/core';
import {
  type BackendChoice,
  type Engine,
  engineOptionsSchema,
  finishAttention,
  getEngine,
  placeAttention,
} from '@attnkit/kernels/runtime';
import { causalHeadGroup } from './chunked-form.js';
import { sharedFavorProjection } from './favor-projection.js';
import { featureMapPlan } from './feature-maps.js';
import type { HeadGroup } from './head-group.js';
import {
  type FeatureMap,
  type LinearSettings,
  linearUnsupportedReasons,
  MAX_CHUNK_SIZE,
  MAX_FEATURES,
  resolveSettings,
} from './options.js';
import { allocateBuffers, bufferSizes } from './workspace.js';

const dimension = z.number().int().min(1).max(MAX_FEATURES);

const stateConfigSchema = z
  .strictObject({
    batch: z.number().int().min(1),
    qHeads: z.number().int().min(1),
    kvHeads: z.number().int().min(1),
    headDim: dimension,
    valueDim: dimension,
    featureMap: z.enum(['elu', 'relu', 'favor']).optional(),
    features: z.number().int().min(1).max(MAX_FEATURES).optional(),
    seed: z.number().int().optional(),
    /** FAVOR+ only; default 1/√headDim. */
    scale: z
      .number()
      .refine((x) => x !== 0, { error: 'a finite, non-zero number' })
      .optional(),
    chunkSize: z.number().int().min(1).max(MAX_CHUNK_SIZE).optional(),
    eps: z.number().positive().optional(),
    backend: engineOptionsSchema.shape.backend,
  })
  .refine((config) => config.qHeads % config.kvHeads === 0, {
    message: 'qHeads must be a multiple of kvHeads (GQA)',
    path: ['qHeads'],
  });

const stepOptionsSchema = z.strictObject({
  mask: z
    .custom<AttentionMask>(isAttentionMask, { error: "a documentMask over the step's new tokens" })
    .optional(),
});

export interface LinearStepOptions {
  /**
   * documentMask(offsets) over the step's new tokens: every document after the first starts from an
   * empty state (the first continues the tokens before the step), so a packed stream fed in any
   * pieces gives linearAttention's result with causal and the stream's documentMask.
   */
  mask?: DocumentMask;
}

export interface LinearStateConfig {
  batch: number;
  qHeads: number;
  kvHeads: number;
  headDim: number;
  valueDim: number;
  /** Default 'elu'. */
  featureMap?: FeatureMap;
  /** FAVOR+ features m. Default 256. */
  features?: number;
  /** FAVOR+ projection seed. Default 0. */
  seed?: number;
  /** FAVOR+ only: the softmax scale it estimates. Default 1/√headDim. */
  scale?: number;
  /** Rows per chunk when a step brings several tokens. Default 64. */
  chunkSize?: number;
  /** Denominator guard. Default 1e-6 (elu / relu), 1e-30 (FAVOR+). */
  eps?: number;
  backend?: BackendChoice;
}

export interface LinearState {
  readonly batch: number;
  readonly qHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly featureMap: FeatureMap;
  /** m. */
  readonly features: number;
  /** Tokens folded in since the state was last empty (created, reset, or a document started). */
  readonly length: number;
  /**
   * Attends the new tokens q [B, Hq, Lnew, Dk], k [B, Hkv, Lnew, Dk], v [B, Hkv, Lnew, Dv] (causal
   * among themselves, after every earlier token) and adds them to the state. Returns [B, Hq, Lnew, Dv].
   * With `mask: documentMask(offsets)` (offsets over the new tokens) the state resets at each
   * document after the first: documentMask([0, 0, Lnew]) starts a new sequence with this step.
   */
  step(q: Tensor, k: Tensor, v: Tensor, options?: LinearStepOptions): Tensor;
  /** Forgets every token (a new sequence, same configuration). */
  reset(): void;
}

class RecurrentLinearState implements LinearState {
  readonly batch: number;
  readonly qHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly featureMap: FeatureMap;
  readonly features: number;
  private tokens = 0;
  private readonly settings: LinearSettings;
  private readonly scale: number;
  private readonly backend: BackendChoice | undefined;
  /** S per (b, kv head), [B·Hkv × m × dv]. */
  private readonly sums: Float32Array;
  /** z per (b, kv head), [B·Hkv × m]. */
  private readonly normalisers: Float32Array;
  /** FAVOR+ running key stabiliser per (b, kv head); −∞ before the first key. */
  private readonly stabilisers: Float64Array;

  constructor(config: z.infer<typeof stateConfigSchema>) {
    this.batch = config.batch;
    this.qHeads = config.qHeads;
    this.kvHeads = config.kvHeads;
    this.headDim = config.headDim;
    this.valueDim = config.valueDim;
    this.settings = resolveSettings(config, config.headDim);
    this.featureMap = this.settings.featureMap;
    this.features = this.settings.features;
    this.scale = config.scale ?? 1 / Math.sqrt(config.headDim);
    this.backend = config.backend;
    const heads = config.batch * config.kvHeads;
    this.sums = new Float32Array(heads * this.features * config.valueDim);
    this.normalisers = new Float32Array(heads * this.features);
    this.stabilisers = new Float64Array(heads).fill(Number.NEGATIVE_INFINITY);
  }

  get length(): number {
    return this.tokens;
  }

  reset(): void {
    this.tokens = 0;
    this.sums.fill(0);
    this.normalisers.fill(0);
    this.stabilisers.fill(Number.NEGATIVE_INFINITY);
  }

  step(q: Tensor, k: Tensor, v: Tensor, options?: LinearStepOptions): Tensor {
    const { mask } = parseOptions(stepOptionsSchema, options);
    const documents = mask === undefined ? undefined : stepDocuments(mask);
    const problem = validateAttentionInputs(q, k, v, { causal: true });
    this.checkShapes(problem.batch, problem.qHeads, problem.kvHeads, problem.headDim, problem.valueDim);
    if (problem.qLength !== problem.kvLength) {
      throw new AttentionInputError(
        'k',
        `as many new tokens as q (${problem.qLength})`,
        `${problem.kvLength} tokens`,
        'A step brings the same new tokens as queries, keys and values.',
      );
    }
    if (documents && documents.qOffsets.at(-1) !== problem.qLength) {
      throw new AttentionInputError(
        'options.mask',
        `document offsets ending at the step's ${problem.qLength} new tokens`,
        `offsets ending at ${documents.qOffsets.at(-1)}`,
        "The offsets split this step's tokens: [0, …, Lnew].",
      );
    }
    const engine = getEngine(this.backend);
    const offsets = documents?.qOffsets ?? null;
    const output = this.run(engine, problem.qLength, q, k, v, problem, offsets);
    const documentCount = offsets === null ? 1 : offsets.length - 1;
    // after a reset inside the step the state holds only the last document's tokens
    this.tokens =
      documentCount === 1 ? this.tokens + problem.qLength : problem.qLength - offsets![documentCount - 1]!;
    return output;
  }

  private checkShapes(
    batch: number,
    qHeads: number,
    kvHeads: number,
    headDim: number,
    valueDim: number,
  ): void {
    const expect = (argument: string, name: string, wanted: number, got: number) => {
      if (wanted !== got) {
        throw new AttentionInputError(
          argument,
          `${name} ${wanted} (the state's configuration)`,
          String(got),
          'Pass tensors shaped like the ones the state was created for, or create a new state.',
        );
      }
    };
    expect('q', 'batch', this.batch, batch);
    expect('q', 'query heads', this.qHeads, qHeads);
    expect('k', 'kv heads', this.kvHeads, kvHeads);
    expect('q', 'head dim', this.headDim, headDim);
    expect('v', 'value dim', this.valueDim, valueDim);
  }

  private run(
    engine: Engine,
    newTokens: number,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    problem: ReturnType<typeof validateAttentionInputs>,
    offsets: readonly number[] | null,
  ): Tensor {
    const { settings } = this;
    const { headDim: d, valueDim: dv, features: m } = this;
    const groupSize = this.qHeads / this.kvHeads;
    const blockRows = Math.min(newTokens, settings.chunkSize);
    const favor = settings.featureMap === 'favor';
    const projection = favor ? sharedFavorProjection(d, m, settings.seed) : null;
    const placed = placeAttention(engine, problem, q, k, v);
    try {
      const { arena } = engine;
      const plan = featureMapPlan(
        settings.featureMap,
        d,
        m,
        this.scale,
        projection ? arena.put(projection) : -1,
      );
      const buffers = allocateBuffers(arena, bufferSizes(true, blockRows, m, dv, favor));
      const stateFloats = m * dv;
      for (let b = 0; b < this.batch; b++) {
        for (let kvHead = 0; kvHead < this.kvHeads; kvHead++) {
          const head = b * this.kvHeads + kvHead;
          const kvRow = head * newTokens;
          const qRow = (b * this.qHeads + kvHead * groupSize) * newTokens;
          const group: HeadGroup = {
            q: placed.q + qRow * d,
            out: placed.out + qRow * dv,
            k: placed.k + kvRow * d,
            v: placed.v + kvRow * dv,
            groupSize,
            qStride: newTokens,
            qLength: newTokens,
            kvLength: newTokens,
            validKeys: newTokens,
            headDim: d,
            valueDim: dv,
            features: m,
          };
          // 1. this head's state into the arena (heap re-read: allocations may have grown memory)
          const heap = arena.heap;
          heap.set(this.sums.subarray(head * stateFloats, (head + 1) * stateFloats), buffers.state);
          heap.set(this.normalisers.subarray(head * m, (head + 1) * m), buffers.normaliser);
          // 2. the new tokens, answered and folded in by the chunked routine, one document at a time:
          //    the first continues the state, each later one starts from empty sums
          let stabiliser = this.stabilisers[head]!;
          const documents = offsets === null ? 1 : offsets.length - 1;
          const { q: q0, out: out0, k: k0, v: v0 } = group;
          for (let doc = 0; doc < documents; doc++) {
            const start = offsets === null ? 0 : offsets[doc]!;
            const tokens = offsets === null ? newTokens : offsets[doc + 1]! - start;
            if (doc > 0) {
              heap.fill(0, buffers.state, buffers.state + stateFloats);
              heap.fill(0, buffers.normaliser, buffers.normaliser + m);
              stabiliser = Number.NEGATIVE_INFINITY;
            }
            if (tokens === 0) continue;
            group.q = q0 + start * d;
            group.out = out0 + start * dv;
            group.k = k0 + start * d;
            group.v = v0 + start * dv;
            group.qLength = tokens;
            group.kvLength = tokens;
            group.validKeys = tokens;
            stabiliser = causalHeadGroup(engine, plan, buffers, group, blockRows, settings.eps, stabiliser);
          }
          this.stabilisers[head] = stabiliser;
          // 3. the state back out
          arena.read(buffers.state, stateFloats, this.sums, head * stateFloats);
          arena.read(buffers.normaliser, m, this.normalisers, head * m);
        }
      }
      return finishAttention(engine, problem, placed, { out: null, lse: null });
    } finally {
      engine.arena.release(placed.mark);
    }
  }
}

/** The step's documents: a documentMask whose queries and keys are packed alike (they are the same tokens). */
function stepDocuments(mask: AttentionMask): DocumentMask {
  if (mask.kind !== 'document') {
    throw new AttentionInputError(
      'options.mask',
      'a documentMask (the recurrent state resets at each document; it honours no other mask)',
      `a ${mask.kind} mask`,
      'Pass documentMask(offsets) over the new tokens, or use linearAttention for a whole sequence.',
    );
  }
  const same =
    mask.qOffsets.length === mask.kvOffsets.length && mask.qOffsets.every((x, i) => x === mask.kvOffsets[i]);
  if (!same) {
    throw new AttentionInputError(
      'options.mask',
      'one set of offsets (a step brings the same new tokens as queries and keys)',
      `qOffsets [${mask.qOffsets.join(', ')}] and kvOffsets [${mask.kvOffsets.join(', ')}]`,
      'Pass documentMask(offsets) with one offsets array.',
    );
  }
  return mask;
}

/**
 * A recurrent linear-attention state for decoding: `state.step(q, k, v)` attends new tokens to
 * everything seen so far at a cost per token that does not grow with the sequence.
 * Same feature maps, seeds and eps as `linearAttention(…, { causal: true })`, which it matches.
 */
export function createLinearState(config: LinearStateConfig): LinearState {
  const parsed = parseOptions(stateConfigSchema, config, 'config');
  const reasons = linearUnsupportedReasons(null, config, 'config');
  if (reasons.length > 0) {
    throw new AttentionInputError('config', 'options the linear state can honour', reasons.join('; '));
  }
  return new RecurrentLinearState(parsed);
}
