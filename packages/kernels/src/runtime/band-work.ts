/**
 * The work module of banded attention, for any variant whose rows attend one contiguous key range
 * each (a window [left, right], unbounded or causal, with kvLengths): one item = one (batch, query
 * head, query block), attended against its rows' visible key union (attendBand). Items write disjoint
 * out/lse rows and each is computed start to end by one thread, so threads = n gives the bits of 1.
 * Time per item O(rows · (rows + left + right) · (Dk + Dv)); extra memory per running item: one scores
 * buffer of bandScoreFloats floats from the running thread's arena, released when the item ends.
 */
import type { AttentionProblem } from '@attnkit/core';
import { alignFloats } from '../engine/arena.js';
import type { Engine } from '../engine/engine.js';
import { type ArenaOffsets, attendBand, bandScoreFloats } from './attention-io.js';
import { rangeScratchFloats } from './score-tile.js';
import { planBandSplits, type SplitParams, splitFloats, splitOffsets } from './split-kv.js';
import {
  createQueryBlockItem,
  locateQueryBlockItem,
  queryBlockItems,
  type VariantPayload,
} from './variant-runtime.js';

export interface BandParams extends SplitParams {
  /** Query rows per item. */
  readonly blockQ: number;
  /** ceil(Lq / blockQ): items are numbered per head (locateQueryBlockItem), times keySplits. */
  readonly queryBlocks: number;
}

// One located item, one payload view and one offsets object per module instance (per thread),
// reused: nothing is allocated per item.
const located = createQueryBlockItem();
const splitAt = { q: 0, k: 0, v: 0, out: 0, lse: 0, bias: -1 };
const view: { problem: AttentionProblem; at: ArenaOffsets; params: null } = {
  problem: null as unknown as AttentionProblem,
  at: null as unknown as ArenaOffsets,
  params: null,
};

/** Floats of one item's scores buffer. */
export function bandItemScratchFloats(problem: AttentionProblem, blockQ: number): number {
  // scores, then the row ranges scoreTile takes above them
  return (
    alignFloats(bandScoreFloats(blockQ, problem.kvLength, problem.windowLeft, problem.windowRight)) +
    rangeScratchFloats(problem, blockQ)
  );
}

/** Runs item `item` (one query block of one head) to completion, writing its out and lse rows. */
export function runBandItem(engine: Engine, payload: VariantPayload<BandParams>, item: number): void {
  const { problem, params } = payload;
  const splits = params.keySplits;
  const block = splits === 1 ? item : Math.floor(item / splits);
  const split = item - block * splits;
  view.problem = problem;
  view.at = splits === 1 ? payload.at : splitOffsets(problem, payload.at, params, split, splitAt);
  locateQueryBlockItem(view, params.blockQ, params.queryBlocks, block, located);
  // Scores from the running thread's arena: the call's arena on the caller, the worker's private
  // region in a pool worker, so threads never share a buffer.
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const scores = arena.alloc(
      bandScoreFloats(params.blockQ, problem.kvLength, problem.windowLeft, problem.windowRight),
    );
    const keysFrom = splits === 1 ? 0 : split * params.splitKeys;
    const keysTo = splits === 1 ? Number.POSITIVE_INFINITY : keysFrom + params.splitKeys;
    attendBand(
      engine,
      problem,
      located,
      located.b,
      located.rowStart,
      located.rowEnd,
      scores,
      keysFrom,
      keysTo,
    );
  } finally {
    arena.release(mark);
  }
}

/** What a pool worker that imports this module by URL calls. */
export { runBandItem as runItem };

/**
 * The plan of a banded call with blocks of `blockQ` rows (clipped to Lq), splitting its keys when it
 * has few items (split-kv.ts). The spec's place and finish hooks are placeSplits and mergeSplits.
 */
export function planBand(problem: AttentionProblem, blockQ: number) {
  const rows = Math.max(1, Math.min(blockQ, problem.qLength));
  const items = queryBlockItems(problem, rows);
  const split = planBandSplits(problem, items, 64);
  return {
    items: items * split.keySplits,
    scratchFloats: bandItemScratchFloats(problem, rows),
    params: { blockQ: rows, queryBlocks: Math.ceil(problem.qLength / rows), ...split } satisfies BandParams,
    sharedFloats: splitFloats(problem, split),
  };
}
