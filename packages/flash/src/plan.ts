/**
 * Block skipping: which keys a query block must visit, and which of its key tiles need a mask.
 *
 * Algorithm: every query row i sees the contiguous key range [first_i, end_i) (core's
 * firstVisibleKey / visibleKeyEnd, docs/design.md, Masks). Both ends are non-decreasing in i, so for the rows
 * [rowStart, rowEnd) of a query block
 *   - the union of their ranges is [first of the first non-empty row, end of the last non-empty row):
 *     keys outside it are hidden from every row and never computed;
 *   - the intersection is [first_{rowEnd-1}, end_{rowStart}): a key tile inside it is visible to every
 *     row, so it skips the mask (FlashAttention's "no masking step" blocks, FlexAttention's full blocks).
 * Key tiles are laid from the union's start in steps of blockK (the last one may be short).
 * Time O(rowEnd - rowStart) per query block; memory O(1).
 */
import { type AttentionProblem, firstVisibleKey, visibleKeyEnd } from '@attnkit/core';

/** The problem's mask, for one batch entry: its window and that entry's valid keys (kvLengths[b]). */
export type MaskGeometry = Pick<AttentionProblem, 'qLength' | 'kvLength' | 'windowLeft' | 'windowRight'> & {
  readonly validKeys: number;
};

export interface KeyBlockPlan {
  /** Union of the rows' visible keys: [keyStart, keyEnd). Empty (keyEnd <= keyStart) when no row sees a key. */
  keyStart: number;
  keyEnd: number;
  /** Keys every row of the block sees: [fullStart, fullEnd) (may be empty). Tiles inside it need no mask. */
  fullStart: number;
  fullEnd: number;
}

/** A fresh plan object to pass as `into` (so a loop over query blocks allocates once). */
export function emptyKeyBlockPlan(): KeyBlockPlan {
  return { keyStart: 0, keyEnd: 0, fullStart: 0, fullEnd: 0 };
}

/** The visible-key union and the fully visible intersection for query rows [rowStart, rowEnd). */
export function planKeyBlocks(
  geometry: MaskGeometry,
  rowStart: number,
  rowEnd: number,
  into: KeyBlockPlan = emptyKeyBlockPlan(),
): KeyBlockPlan {
  const { qLength, kvLength, windowLeft, windowRight, validKeys } = geometry;
  let keyStart = 0;
  let keyEnd = 0;
  let seen = false;
  for (let row = rowStart; row < rowEnd; row++) {
    const first = firstVisibleKey(row, qLength, kvLength, windowLeft);
    const end = visibleKeyEnd(row, qLength, kvLength, windowRight, validKeys);
    if (end <= first) continue; // this row sees nothing
    if (!seen) {
      keyStart = first;
      seen = true;
    }
    keyEnd = end; // ends are non-decreasing in the row, so the last non-empty row's end is the max
  }
  into.keyStart = keyStart;
  into.keyEnd = keyEnd;
  if (rowEnd > rowStart) {
    into.fullStart = firstVisibleKey(rowEnd - 1, qLength, kvLength, windowLeft);
    into.fullEnd = visibleKeyEnd(rowStart, qLength, kvLength, windowRight, validKeys);
  } else {
    into.fullStart = 0;
    into.fullEnd = 0;
  }
  return into;
}

/** Number of key tiles of width blockK a plan visits. */
export function visitedTiles(plan: KeyBlockPlan, blockK: number): number {
  return plan.keyEnd > plan.keyStart ? Math.ceil((plan.keyEnd - plan.keyStart) / blockK) : 0;
}

/** True when tile [tileStart, tileEnd) holds a key that some row of the block may not see. */
export function tileNeedsMask(plan: KeyBlockPlan, tileStart: number, tileEnd: number): boolean {
  return tileStart < plan.fullStart || tileEnd > plan.fullEnd;
}

export interface KeyBlockCounts {
  /** Key tiles computed (gemmNT + online softmax + gemmNN). */
  readonly visited: number;
  /** Of those, tiles that also run maskBand. */
  readonly masked: number;
  /** Tiles a dense sweep would compute: queryBlocks · ceil(kvLength / blockK). */
  readonly dense: number;
}

/** Tile counts over all query blocks of one (batch, head): the work block skipping leaves. */
export function countKeyBlocks(geometry: MaskGeometry, blockQ: number, blockK: number): KeyBlockCounts {
  const plan = emptyKeyBlockPlan();
  const queryBlocks = Math.ceil(geometry.qLength / blockQ);
  let visited = 0;
  let masked = 0;
  for (let block = 0; block < queryBlocks; block++) {
    const rowStart = block * blockQ;
    planKeyBlocks(geometry, rowStart, Math.min(rowStart + blockQ, geometry.qLength), plan);
    for (let tileStart = plan.keyStart; tileStart < plan.keyEnd; tileStart += blockK) {
      visited++;
      if (tileNeedsMask(plan, tileStart, Math.min(tileStart + blockK, plan.keyEnd))) masked++;
    }
  }
  return { visited, masked, dense: queryBlocks * Math.ceil(geometry.kvLength / blockK) };
}
