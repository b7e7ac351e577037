/**
 * Split-KV (docs/design.md, Engine and threads): a call with fewer (batch, head, query-block) items
 * than SPLIT_TARGET_ITEMS — decoding a few tokens against a long context — also cuts its keys into
 * ranges, each its own work item writing a partial result (out and lse) to a buffer of its own; the
 * calling thread then merges them in split order with the LSE merge (core's mergeAttentionRows).
 * The number of ranges depends on the shape only, never on the thread count, so results are the
 * same bits at every thread count. Memory: keySplits × (B·Hq·Lq·Dv + B·Hq·Lq) floats.
 */
import { type AttentionProblem, mergeAttentionRows } from '@attnkit/core';
import { alignFloats } from '../engine/arena.js';
import type { Engine } from '../engine/engine.js';
import type { ArenaOffsets } from './attention-io.js';

/** Below this many items a call also splits its keys. */
export const SPLIT_TARGET_ITEMS = 16;

export interface SplitParams {
  /** Key ranges (1: no split). */
  readonly keySplits: number;
  /** Keys per range (a multiple of the variant's alignment). */
  readonly splitKeys: number;
  /** Arena offsets of the partial outputs [keySplits × rows × Dv] and lse [keySplits × rows] (−1 unsplit). */
  readonly partialOut: number;
  readonly partialLse: number;
}

/** No split: one range of all the keys. */
export function noSplit(problem: AttentionProblem): SplitParams {
  return { keySplits: 1, splitKeys: problem.kvLength, partialOut: -1, partialLse: -1 };
}

/**
 * The split of a call with `items` items: at most enough ranges to reach SPLIT_TARGET_ITEMS, each of
 * at least `minKeys` keys, sizes rounded up to a multiple of `align`.
 */
export function planSplits(
  problem: AttentionProblem,
  items: number,
  minKeys: number,
  align: number,
): SplitParams {
  const none = noSplit(problem);
  if (items >= SPLIT_TARGET_ITEMS) return none;
  const target = Math.min(Math.ceil(SPLIT_TARGET_ITEMS / items), Math.floor(problem.kvLength / minKeys));
  if (target < 2) return none;
  const splitKeys = Math.ceil(Math.ceil(problem.kvLength / target) / align) * align;
  return { keySplits: Math.ceil(problem.kvLength / splitKeys), splitKeys, partialOut: -1, partialLse: -1 };
}

/** Keys per split of a banded call at least (its scores are materialised: blocks × this many). */
export const MIN_SPLIT_KEYS = 512;

/**
 * The split of a banded call (the banded variants and every KV cache's attend: one rule), ranges
 * aligned to `align` keys (64 for the variants; a cache's tile size, so a range is whole tiles).
 */
export function planBandSplits(problem: AttentionProblem, items: number, align: number): SplitParams {
  return planSplits(problem, items, MIN_SPLIT_KEYS, align);
}

/** Floats the partial results of a split call take (0 unsplit): the plan's sharedFloats. */
export function splitFloats(problem: AttentionProblem, split: SplitParams): number {
  if (split.keySplits === 1) return 0;
  const rows = problem.batch * problem.qHeads * problem.qLength;
  return alignFloats(split.keySplits * rows * problem.valueDim) + alignFloats(split.keySplits * rows);
}

/** Allocates the partial results (the spec's place hook); returns the params with their offsets. */
export function placeSplits<P extends SplitParams>(engine: Engine, problem: AttentionProblem, params: P): P {
  if (params.keySplits === 1) return params;
  const rows = problem.batch * problem.qHeads * problem.qLength;
  const partialOut = engine.arena.alloc(params.keySplits * rows * problem.valueDim);
  const partialLse = engine.arena.alloc(params.keySplits * rows);
  return { ...params, partialOut, partialLse };
}

/** Where split `split` writes: the call's q, k, v, and its own out and lse rows (`into`, reused). */
export function splitOffsets(
  problem: AttentionProblem,
  at: ArenaOffsets,
  params: SplitParams,
  split: number,
  into: { q: number; k: number; v: number; out: number; lse: number; bias: number },
): ArenaOffsets {
  const rows = problem.batch * problem.qHeads * problem.qLength;
  into.bias = at.bias;
  into.q = at.q;
  into.k = at.k;
  into.v = at.v;
  into.out = params.partialOut + split * rows * problem.valueDim;
  into.lse = params.partialLse + split * rows;
  return into;
}

/** Merges the partial results into the call's out and lse rows (the spec's finish hook). */
export function mergeSplits(
  engine: Engine,
  problem: AttentionProblem,
  at: ArenaOffsets,
  params: SplitParams,
): void {
  if (params.keySplits === 1) return;
  const rows = problem.batch * problem.qHeads * problem.qLength;
  const dv = problem.valueDim;
  const heap = engine.arena.heap;
  const outs: Float32Array[] = [];
  const lses: Float32Array[] = [];
  for (let s = 0; s < params.keySplits; s++) {
    outs.push(heap.subarray(params.partialOut + s * rows * dv, params.partialOut + (s + 1) * rows * dv));
    lses.push(heap.subarray(params.partialLse + s * rows, params.partialLse + (s + 1) * rows));
  }
  mergeAttentionRows(
    outs,
    lses,
    rows,
    dv,
    heap.subarray(at.out, at.out + rows * dv),
    heap.subarray(at.lse, at.lse + rows),
  );
}

/** The place and finish hooks of a spec whose params carry a split: spread them into the spec. */
export const splitKvHooks = {
  place: <P extends SplitParams>(
    engine: Engine,
    problem: AttentionProblem,
    _options: unknown,
    params: P,
  ): P => placeSplits(engine, problem, params),
  finish: mergeSplits,
};
