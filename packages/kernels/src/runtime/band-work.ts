/**
 * The work module of banded attention, for any variant whose rows attend one contiguous key range
 * each (a window [left, right], unbounded or causal, with kvLengths): one item = one (batch, query
 * head, query block), attended against its rows' visible key union (attendBand). Items write disjoint
 * out/lse rows and each is computed start to end by one thread, so threads = n gives the bits of 1.
 * Time per item O(rows · (rows + left + right) · (Dk + Dv)); extra memory per running item: one scores
 * buffer of bandScoreFloats floats from the running thread's arena, released when the item ends.
 */
import type { AttentionProblem } from '@attnkit/core';
import type { Engine } from '../engine/engine.js';
import { attendBand, bandScoreFloats } from './attention-io.js';
import {
  createQueryBlockItem,
  locateQueryBlockItem,
  queryBlockItems,
  type VariantPayload,
} from './variant-runtime.js';

export interface BandParams {
  /** Query rows per item. */
  readonly blockQ: number;
  /** ceil(Lq / blockQ): items are numbered per head (locateQueryBlockItem). */
  readonly queryBlocks: number;
}

// One located item per module instance (per thread), reused: nothing is allocated per item.
const located = createQueryBlockItem();

/** Floats of one item's scores buffer. */
export function bandItemScratchFloats(problem: AttentionProblem, blockQ: number): number {
  return bandScoreFloats(blockQ, problem.kvLength, problem.windowLeft, problem.windowRight);
}

/** Runs item `item` (one query block of one head) to completion, writing its out and lse rows. */
export function runBandItem(engine: Engine, payload: VariantPayload<BandParams>, item: number): void {
  const { problem, params } = payload;
  locateQueryBlockItem(payload, params.blockQ, params.queryBlocks, item, located);
  // Scores from the running thread's arena: the call's arena on the caller, the worker's private
  // region in a pool worker, so threads never share a buffer.
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const scores = arena.alloc(bandItemScratchFloats(problem, params.blockQ));
    attendBand(engine, problem, located, located.b, located.rowStart, located.rowEnd, scores);
  } finally {
    arena.release(mark);
  }
}

/** What a pool worker that imports this module by URL calls. */
export { runBandItem as runItem };

/** The plan of a banded call with blocks of `blockQ` rows (clipped to Lq). */
export function planBand(problem: AttentionProblem, blockQ: number) {
  const rows = Math.max(1, Math.min(blockQ, problem.qLength));
  return {
    items: queryBlockItems(problem, rows),
    scratchFloats: bandItemScratchFloats(problem, rows),
    params: { blockQ: rows, queryBlocks: Math.ceil(problem.qLength / rows) } satisfies BandParams,
  };
}
