/**
 * What layer.bench.ts needs to time the layer: named shapes (after the models they come from),
 * seeded inputs and weights for a shape, and the FLOP model (docs/design.md, "Benchmarks and the
 * harness", for the attention; 2·rows·in·out per projection). Bench-only: neither exported nor
 * built (tsconfig.json excludes it); it compiles with the bench script into build/bench and uses
 * only the package's public entry.
 * Time O(B·L·dModel + dModel·(Hq + 2·Hkv)·d) to build inputs; memory: the returned tensors.
 */
import { AttentionInputError, randn, type Tensor } from '@attnkit/core';
import { initMultiHeadWeights, type MultiHeadWeights } from '@attnkit/mha';

export interface MhaBenchShape {
  /** Where the shape comes from. */
  readonly source: string;
  readonly batch: number;
  readonly length: number;
  readonly dModel: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
}

/** Layer shapes named after the models that use them; `length` is a default the caller may override. */
export const mhaBenchShapes = {
  /** GPT-2 small: dModel 768, 12 heads of 64, context 1024. */
  'gpt2-small': {
    source: 'GPT-2 small (Radford et al. 2019)',
    batch: 1,
    length: 1024,
    dModel: 768,
    heads: 12,
    kvHeads: 12,
    headDim: 64,
    valueDim: 64,
  },
  /** Llama 3 8B attention: dModel 4096, GQA 32 query / 8 kv heads of 128 (one layer; a short default L). */
  'llama3-8b-gqa': {
    source: 'Llama 3 8B (GQA 32/8, d 128)',
    batch: 1,
    length: 512,
    dModel: 4096,
    heads: 32,
    kvHeads: 8,
    headDim: 128,
    valueDim: 128,
  },
  /** Falcon-style multi-query attention at GPT-2 small width: 12 query heads share one kv head. */
  'mqa-768': {
    source: 'MQA at GPT-2 small width (Shazeer 2019)',
    batch: 1,
    length: 1024,
    dModel: 768,
    heads: 12,
    kvHeads: 1,
    headDim: 64,
    valueDim: 64,
  },
  /** A toy layer that runs in milliseconds (smoke runs, CI). */
  tiny: { source: 'toy', batch: 1, length: 128, dModel: 64, heads: 4, kvHeads: 4, headDim: 16, valueDim: 16 },
} as const satisfies Record<string, MhaBenchShape>;

export type MhaBenchShapeName = keyof typeof mhaBenchShapes;

export interface MhaBenchInputs {
  readonly name: string;
  readonly shape: MhaBenchShape;
  /** [B, L, dModel], N(0, 1) */
  readonly x: Tensor;
  readonly weights: MultiHeadWeights;
  /** The layer's own options for the shape (add variant, causal, variantOptions). */
  readonly options: { heads: number; kvHeads: number };
}

/** Seeded inputs and Xavier weights (with zero biases) for a named shape; length and batch may be overridden. */
export function makeMhaBenchInputs(
  name: MhaBenchShapeName | MhaBenchShape,
  overrides: { length?: number; batch?: number; seed?: number } = {},
): MhaBenchInputs {
  const base = typeof name === 'string' ? (mhaBenchShapes as Record<string, MhaBenchShape>)[name] : name;
  if (!base) {
    throw new AttentionInputError(
      'name',
      `one of ${Object.keys(mhaBenchShapes).join(', ')} or a shape object`,
      String(name),
    );
  }
  const shape: MhaBenchShape = {
    ...base,
    length: overrides.length ?? base.length,
    batch: overrides.batch ?? base.batch,
  };
  const seed = overrides.seed ?? 1;
  const x = randn([shape.batch, shape.length, shape.dModel], seed);
  const weights = initMultiHeadWeights({
    dModel: shape.dModel,
    heads: shape.heads,
    kvHeads: shape.kvHeads,
    headDim: shape.headDim,
    valueDim: shape.valueDim,
    bias: true,
    seed: seed + 1,
  });
  return {
    name: typeof name === 'string' ? name : shape.source,
    shape,
    x,
    weights,
    options: { heads: shape.heads, kvHeads: shape.kvHeads },
  };
}

/** Σ over query rows of the keys each sees (docs/design.md, Masks, Lq = Lk = L): the attention's pair count per (b, h). */
export function visiblePairsPerHead(
  length: number,
  causal: boolean,
  window?: readonly [number, number],
): number {
  const left = window ? window[0] : Number.POSITIVE_INFINITY;
  const right = Math.min(
    window ? window[1] : Number.POSITIVE_INFINITY,
    causal ? 0 : Number.POSITIVE_INFINITY,
  );
  let pairs = 0;
  for (let i = 0; i < length; i++) {
    const first = Math.max(0, i - left);
    const end = Math.min(length, i + right + 1);
    if (end > first) pairs += end - first;
  }
  return pairs;
}

/**
 * FLOPs of one layer call: projections 2·B·L·dModel·(Hq·dk + Hkv·dk + Hkv·dv) + 2·B·L·Hq·dv·dModel,
 * attention 2·B·Hq·pairs·(dk + dv) over the visible pairs (docs/design.md, FLOP model).
 */
export function mhaLayerFlops(
  shape: MhaBenchShape,
  mask: { causal?: boolean; window?: readonly [number, number] } = {},
): { projections: number; attention: number; total: number } {
  const { batch, length, dModel, heads, kvHeads, headDim, valueDim } = shape;
  const projections =
    2 * batch * length * dModel * (heads * headDim + kvHeads * headDim + kvHeads * valueDim) +
    2 * batch * length * heads * valueDim * dModel;
  const pairs = visiblePairsPerHead(length, mask.causal ?? false, mask.window);
  const attention = 2 * batch * heads * pairs * (headDim + valueDim);
  return { projections, attention, total: projections + attention };
}
