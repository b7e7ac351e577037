/**
 * The per-item loop of linear attention, run by the caller and, with threads > 1, by the kernels'
 * worker pool (which imports this module by URL): item = one (batch, kv head) group, so the kv side
 * (φ(K), S, z) is computed once for the group's query heads, and items write disjoint output rows.
 * Each item takes its scratch from the running thread's arena (the call's arena on the caller, the
 * worker's private region in a worker) and releases it, so threads never share scratch; every item
 * computes the same thing whichever thread runs it, so the result does not depend on the thread count.
 * Under a document mask an item runs each of its documents in turn, from empty sums.
 * Time per item O(Lk·m·(d + dv) + G·Lq·m·(d + dv)) (+ causal O(G·Lq·C·(m + dv))); extra memory per
 * running item: itemScratchFloats.
 */
import { kvHeadRow, queryHeadRow } from '@attnkit/core';
import type { Engine, VariantPayload } from '@attnkit/kernels/runtime';
import { causalHeadGroup } from './chunked-form.js';
import { type FeatureMapPlan, featureMapPlan, queriesNeedBound } from './feature-maps.js';
import type { HeadGroup } from './head-group.js';
import { noncausalHeadGroup } from './noncausal-form.js';
import type { FeatureMap } from './options.js';
import {
  allocateBuffers,
  type BufferSizes,
  bufferSizes,
  type LinearBuffers,
  totalFloats,
} from './workspace.js';

/** Linear's own part of the payload (the rest is the problem and the arena offsets). */
export interface LinearParams {
  readonly featureMap: FeatureMap;
  readonly features: number;
  /** The chunked causal form (the mask is causal); otherwise the non-causal form. */
  readonly causal: boolean;
  /** Rows per block (non-causal) or per chunk (causal), capped by the sequence lengths. */
  readonly blockRows: number;
  readonly eps: number;
  /** Arena offset of W for FAVOR+, −1 otherwise. */
  readonly projection: number;
}

export type LinearPayload = VariantPayload<LinearParams>;

type BufferShape = Pick<LinearParams, 'causal' | 'blockRows' | 'features' | 'featureMap'> & {
  readonly valueDim: number;
};

export function itemBufferSizes(shape: BufferShape): BufferSizes {
  return bufferSizes(
    shape.causal,
    shape.blockRows,
    shape.features,
    shape.valueDim,
    shape.featureMap === 'favor',
  );
}

/** Floats one running item allocates, with each buffer's 64-byte alignment (9 buffers, ≤ 15 floats each). */
export function itemScratchFloats(shape: BufferShape): number {
  return totalFloats(itemBufferSizes(shape)) + 9 * 15;
}

export function runItem(engine: Engine, payload: LinearPayload, item: number): void {
  const { arena } = engine;
  const mark = arena.mark();
  const { problem, params, at } = payload;
  try {
    const buffers = allocateBuffers(arena, itemBufferSizes({ ...params, valueDim: problem.valueDim }));
    const b = Math.floor(item / problem.kvHeads);
    const kvHead = item - b * problem.kvHeads;
    const { headDim: d, valueDim: dv, qLength, kvLength, groupSize } = problem;
    const m = params.features;
    // The group's first query head is kvHead · groupSize; its kv rows are those of head (b, that head).
    const firstHead = kvHead * groupSize;
    const kvRow = kvHeadRow(problem, b, firstHead);
    const qRow = queryHeadRow(problem, b, firstHead);
    const group: HeadGroup = {
      q: at.q + qRow * d,
      out: at.out + qRow * dv,
      k: at.k + kvRow * d,
      v: at.v + kvRow * dv,
      groupSize,
      qStride: qLength,
      qLength,
      kvLength,
      validKeys: problem.validKeys[b]!,
      headDim: d,
      valueDim: dv,
      features: m,
    };
    const boundQueries =
      params.featureMap !== 'favor' &&
      queriesNeedBound(engine, group.q, groupSize * qLength * d, buffers.rowStat);
    const plan = featureMapPlan(params.featureMap, d, m, problem.scale, params.projection, boundQueries);
    const docs = problem.documents;
    if (docs === null) {
      runGroup(engine, plan, buffers, group, params);
      return;
    }
    // Each document is a sequence of its own: the group is moved onto its rows and keys, and the
    // sums start from zero (a chunk never crosses a document boundary: chunks start at each document).
    const { q: q0, out: out0, k: k0, v: v0 } = group;
    const validKeys = problem.validKeys[b]!;
    for (let doc = 0; doc + 1 < docs.q.length; doc++) {
      const qs = docs.q[doc]!;
      const rows = docs.q[doc + 1]! - qs;
      if (rows === 0) continue;
      const ks = docs.kv[doc]!;
      const keys = docs.kv[doc + 1]! - ks;
      group.q = q0 + qs * d;
      group.out = out0 + qs * dv;
      group.k = k0 + ks * d;
      group.v = v0 + ks * dv;
      group.qLength = rows;
      group.kvLength = keys;
      // kvLengths cuts across documents: this document's valid keys are those below validKeys
      group.validKeys = Math.min(keys, Math.max(0, validKeys - ks));
      runGroup(engine, plan, buffers, group, params);
    }
  } finally {
    arena.release(mark);
  }
}

/** One sequence of a head group (the whole call, or one document) from empty sums. */
function runGroup(
  engine: Engine,
  plan: FeatureMapPlan,
  buffers: LinearBuffers,
  group: HeadGroup,
  params: LinearParams,
): void {
  if (params.causal) {
    const heap = engine.arena.heap;
    heap.fill(0, buffers.state, buffers.state + group.features * group.valueDim);
    heap.fill(0, buffers.normaliser, buffers.normaliser + group.features);
    causalHeadGroup(engine, plan, buffers, group, params.blockRows, params.eps, Number.NEGATIVE_INFINITY);
  } else {
    noncausalHeadGroup(engine, plan, buffers, group, params.blockRows, params.eps);
  }
}
