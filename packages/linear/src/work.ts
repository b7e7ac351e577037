/**
 * The per-item loop of linear attention, run by the caller and, with threads > 1, by the kernels'
 * worker pool (which imports this module by URL): item = one (batch, kv head) group, so the kv side
 * (φ(K), S, z) is computed once for the group's query heads, and items write disjoint output rows.
 * Each item takes its scratch from the running thread's arena (the call's arena on the caller, the
 * worker's private region in a worker) and releases it, so threads never share scratch; every item
 * computes the same thing whichever thread runs it, so the result does not depend on the thread count.
 * Time per item O(Lk·m·(d + dv) + G·Lq·m·(d + dv)) (+ causal O(G·Lq·C·(m + dv))); extra memory per
 * running item: itemScratchFloats.
 */
import type { Engine } from '@attnkit/kernels';
import { causalHeadGroup } from './chunked-form.js';
import { featureMapPlan } from './feature-maps.js';
import type { HeadGroup } from './head-group.js';
import { noncausalHeadGroup } from './noncausal-form.js';
import type { FeatureMap } from './options.js';
import { allocateBuffers, type BufferSizes, bufferSizes, totalFloats } from './workspace.js';

/** Everything an item needs: numbers and arena offsets only (it crosses to workers). */
export interface LinearPayload {
  readonly batch: number;
  readonly qHeads: number;
  readonly kvHeads: number;
  readonly groupSize: number;
  readonly qLength: number;
  readonly kvLength: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly validKeys: readonly number[];
  readonly featureMap: FeatureMap;
  readonly features: number;
  readonly scale: number;
  readonly causal: boolean;
  /** Rows per block (non-causal) or per chunk (causal), capped by the sequence lengths. */
  readonly blockRows: number;
  readonly eps: number;
  /** Arena offsets (caller's allocations, visible to every thread). */
  readonly q: number;
  readonly k: number;
  readonly v: number;
  readonly out: number;
  /** W for FAVOR+, −1 otherwise. */
  readonly projection: number;
}

export function itemBufferSizes(payload: LinearPayload): BufferSizes {
  return bufferSizes(
    payload.causal,
    payload.blockRows,
    payload.features,
    payload.valueDim,
    payload.featureMap === 'favor',
  );
}

/** Floats one running item allocates, with each buffer's 64-byte alignment (9 buffers, ≤ 15 floats each). */
export function itemScratchFloats(payload: LinearPayload): number {
  return totalFloats(itemBufferSizes(payload)) + 9 * 15;
}

export function runItem(engine: Engine, payload: LinearPayload, item: number): void {
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const buffers = allocateBuffers(arena, itemBufferSizes(payload));
    const b = Math.floor(item / payload.kvHeads);
    const kvHead = item - b * payload.kvHeads;
    const { headDim: d, valueDim: dv, features: m, qLength, kvLength, groupSize } = payload;
    const kvRow = item * kvLength; // (b · Hkv + kvHead) · Lk
    const qRow = (b * payload.qHeads + kvHead * groupSize) * qLength;
    const group: HeadGroup = {
      q: payload.q + qRow * d,
      out: payload.out + qRow * dv,
      k: payload.k + kvRow * d,
      v: payload.v + kvRow * dv,
      groupSize,
      qLength,
      kvLength,
      validKeys: payload.validKeys[b]!,
      headDim: d,
      valueDim: dv,
      features: m,
    };
    const plan = featureMapPlan(payload.featureMap, d, m, payload.scale, payload.projection);
    if (payload.causal) {
      const heap = arena.heap;
      heap.fill(0, buffers.state, buffers.state + m * dv);
      heap.fill(0, buffers.normaliser, buffers.normaliser + m);
      causalHeadGroup(engine, plan, buffers, group, payload.blockRows, payload.eps, Number.NEGATIVE_INFINITY);
    } else {
      noncausalHeadGroup(engine, plan, buffers, group, payload.blockRows, payload.eps);
    }
  } finally {
    arena.release(mark);
  }
}
