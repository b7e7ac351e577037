/**
 * The multi-head attention layer over any AttentionVariant (Vaswani et al. 2017, with GQA/MQA):
 *   q = x·Wq + bq,  k = c·Wk + bk,  v = c·Wv + bv      (c = context for cross-attention, else x)
 *   heads: [B, L, H·d] → [B, H, L, d]                   (one copy per projection)
 *   o_h = attention(q_h, k_{h / (Hq/Hkv)}, v_{…})       (the variant, BHSD, GQA native)
 *   y = concat_h(o_h)·Wo + bo                            (one copy back, one GEMM)
 * The four projections run on the kernels' gemmNN over the engine's arena; the attention runs in
 * the variant, which places its own inputs in the same arena (stack discipline: our marks are
 * released before it runs, or sit below its own).
 * Time O(B·L·dModel·(Hq·dk + Hkv·(dk + dv)) + B·L·Hq·dv·dModel) for the projections plus the
 * variant's own (O(B·Hq·L·Lk·(dk + dv)) for exact softmax attention);
 * extra memory: the projected q, k, v and the attention output (B·(Hq·L·(dk + dv) + Hkv·Lk·(dk + dv))
 * floats) plus, in the arena, x (and the context) with one weight and its projection at a time.
 */
import {
  AttentionInputError,
  type AttentionOptions,
  type AttentionVariant,
  type Tensor,
} from '@attnkit/core';
import { flash } from '@attnkit/flash';
import { type Engine, getEngine } from '@attnkit/kernels';
import { mergeHeads, splitHeads } from './heads.js';
import { projectRows } from './projection.js';
import {
  type LayerShape,
  type MultiHeadWeights,
  renamedError,
  type VariantOptionsOf,
  validateLayerCall,
} from './validate.js';

export interface MultiHeadAttentionOptions<O extends AttentionOptions = AttentionOptions> {
  /** Query heads Hq. dk = (columns of wq) / heads. */
  heads: number;
  /** Key/value heads Hkv (default heads); a divisor of heads: GQA, or 1 for MQA. */
  kvHeads?: number;
  /** The attention that runs per head (default: flash from @attnkit/flash). */
  variant?: AttentionVariant<O>;
  /** GPT-style mask, bottom-right aligned (docs/design.md, Masks). Passed to the variant as options.causal. */
  causal?: boolean;
  /** [B, Lk, dModel]: keys and values are projected from it (cross-attention). Default: x. */
  context?: Tensor;
  /** The variant's own options, passed through (window, blockQ, featureMap, backend, kvLengths, scale, lse...). */
  variantOptions?: VariantOptionsOf<O>;
}

/** Query, key and value heads in BHSD layout, ready for any variant. */
export interface ProjectedHeads {
  readonly q: Tensor;
  readonly k: Tensor;
  readonly v: Tensor;
}

/**
 * Multi-head attention: x [B, L, dModel] → [B, L, dModel].
 *
 * ```ts
 * const weights = initMultiHeadWeights({ dModel: 256, heads: 8, kvHeads: 2, headDim: 32, seed: 1 });
 * const y = multiHeadAttention(x, weights, { heads: 8, kvHeads: 2, causal: true });
 * ```
 */
export function multiHeadAttention<O extends AttentionOptions = AttentionOptions>(
  x: Tensor,
  weights: MultiHeadWeights,
  options: MultiHeadAttentionOptions<O>,
): Tensor {
  const call = validateLayerCall(x, weights, options);
  const engine = getEngine(call.backend);
  const { shape, batch, length } = call;
  const { q, k, v } = projectInputs(
    engine,
    shape,
    weights,
    x,
    call.context,
    batch,
    length,
    call.contextLength,
  );
  const variant = (call.variant ?? flash) as AttentionVariant;
  const attended = runVariant(variant, q, k, v, call.variantOptions);
  return projectOutput(engine, shape, attended, weights, batch, length);
}

/**
 * q from x, k and v from the context (or x), each split into heads: BHSD tensors for the variant.
 * x (and the context) are placed in the arena once for the three projections; each weight and its
 * projection only while that projection runs.
 */
export function projectInputs(
  engine: Engine,
  shape: LayerShape,
  weights: MultiHeadWeights,
  x: Tensor,
  context: Tensor | null,
  batch: number,
  length: number,
  contextLength: number,
): ProjectedHeads {
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const xOffset = arena.put(x.data);
    const sourceOffset = context ? arena.put(context.data) : xOffset;
    const { dModel, heads, kvHeads, headDim, valueDim } = shape;
    return {
      q: projectHeads(engine, xOffset, batch, length, dModel, weights.wq, weights.bq, heads, headDim),
      k: projectHeads(
        engine,
        sourceOffset,
        batch,
        contextLength,
        dModel,
        weights.wk,
        weights.bk,
        kvHeads,
        headDim,
      ),
      v: projectHeads(
        engine,
        sourceOffset,
        batch,
        contextLength,
        dModel,
        weights.wv,
        weights.bv,
        kvHeads,
        valueDim,
      ),
    };
  } finally {
    arena.release(mark);
  }
}

/**
 * Rows of the input at arena offset `input` ([B, L, dModel]) · w + bias, split into heads:
 * returns [B, heads, L, dim]. The weight and the projection sit in the arena only for this call.
 */
function projectHeads(
  engine: Engine,
  input: number,
  batch: number,
  length: number,
  dModel: number,
  w: Tensor,
  bias: Tensor | undefined,
  heads: number,
  dim: number,
): Tensor {
  const { arena } = engine;
  const rows = batch * length;
  const width = heads * dim;
  const mark = arena.mark();
  try {
    const wOffset = arena.put(w.data);
    const yOffset = arena.alloc(rows * width);
    projectRows(engine, rows, dModel, width, input, wOffset, bias ? bias.data : null, yOffset);
    const data = new Float32Array(rows * width);
    splitHeads(arena.heap, yOffset, data, batch, length, heads, dim);
    return { data, shape: [batch, heads, length, dim] };
  } finally {
    arena.release(mark);
  }
}

/** concat_h(attended[b, h, l, :])·Wo + bo: [B, Hq, L, dv] → [B, L, dModel]. */
export function projectOutput(
  engine: Engine,
  shape: LayerShape,
  attended: Tensor,
  weights: MultiHeadWeights,
  batch: number,
  length: number,
): Tensor {
  const { arena } = engine;
  const rows = batch * length;
  const width = shape.heads * shape.valueDim;
  const mark = arena.mark();
  try {
    const merged = arena.alloc(rows * width);
    mergeHeads(attended.data, arena.heap, merged, batch, length, shape.heads, shape.valueDim);
    const wOffset = arena.put(weights.wo.data);
    const yOffset = arena.alloc(rows * shape.dModel);
    projectRows(
      engine,
      rows,
      width,
      shape.dModel,
      merged,
      wOffset,
      weights.bo ? weights.bo.data : null,
      yOffset,
    );
    const data = new Float32Array(rows * shape.dModel);
    arena.read(yOffset, rows * shape.dModel, data);
    return { data, shape: [batch, length, shape.dModel] };
  } finally {
    arena.release(mark);
  }
}

/**
 * The variant's forward, with its option errors renamed to where the caller put them
 * (`options.window` → `options.variantOptions.window`).
 */
export function runVariant(
  variant: AttentionVariant,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: Record<string, unknown>,
): Tensor {
  try {
    return variant.forward(q, k, v, options as AttentionOptions);
  } catch (error) {
    if (error instanceof AttentionInputError && /^options(\.|$)/.test(error.argument)) {
      const argument = error.argument.replace(/^options/, 'options.variantOptions');
      throw renamedError(error, argument, `the ${variant.name} variant`);
    }
    throw error;
  }
}
