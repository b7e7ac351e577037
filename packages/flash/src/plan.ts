/**
 * Block skipping: the key tiles a query block visits, and which of them need a mask.
 *
 * Algorithm: the rows [rowStart, rowEnd) of a query block see, under the range part of the mask
 * (core's rowRange: band, kvLengths, documents, prefix-LM), the union of their ranges; keys outside it
 * are hidden from every row and never computed, and a tile inside the rows' intersection needs no
 * range mask (FlashAttention's "no masking step" blocks, FlexAttention's full blocks). Under a general
 * part (block-sparse, predicates, …) tiles are laid over runs of 64-key columns that part does not hide
 * entirely, at most blockK keys each, so its empty blocks are skipped. kernels' score-tile.ts
 * classifies each tile empty, full or partial under both parts; this file lays them.
 * Time O(rows + tiles · covered mask blocks) per query block; memory O(1).
 */
import type { AttentionProblem } from '@attnkit/core';
import {
  BLOCK_EMPTY,
  BLOCK_PARTIAL,
  emptyRowSpan,
  nextVisibleKey,
  type RowSpan,
  rowSpan,
  tileClass,
  visibleRunEnd,
} from '@attnkit/kernels/runtime';

/** One key tile: keys [start, end) and its class (BLOCK_EMPTY, BLOCK_FULL or BLOCK_PARTIAL). */
export interface KeyTile {
  start: number;
  end: number;
  cls: number;
}

export function emptyKeyTile(): KeyTile {
  return { start: 0, end: 0, cls: BLOCK_EMPTY };
}

/**
 * The first tile of rows [rowStart, rowEnd) of (b, h) at or after key `from`, below keyEnd, into
 * `into`; false when there is none. `span` is the rows' rowSpan.
 */
export function nextKeyTile(
  problem: AttentionProblem,
  span: RowSpan,
  b: number,
  h: number,
  rowStart: number,
  rowEnd: number,
  from: number,
  keyEnd: number,
  blockK: number,
  into: KeyTile,
): boolean {
  const start = nextVisibleKey(problem, b, h, rowStart, rowEnd, from, keyEnd);
  if (start >= keyEnd) return false;
  const end = visibleRunEnd(problem, b, h, rowStart, rowEnd, start, Math.min(start + blockK, keyEnd));
  into.start = start;
  into.end = end;
  into.cls = tileClass(problem, span, b, h, rowStart, rowEnd, start, end);
  return true;
}

export interface KeyBlockCounts {
  /** Key tiles computed (gemmNT + online softmax + gemmNN). */
  readonly visited: number;
  /** Of those, tiles that are also masked. */
  readonly masked: number;
  /** Tiles a dense sweep would compute: queryBlocks · ceil(kvLength / blockK). */
  readonly dense: number;
}

/** Tile counts over all query blocks of (b, h): the work block skipping leaves. */
export function countKeyBlocks(
  problem: AttentionProblem,
  blockQ: number,
  blockK: number,
  b = 0,
  h = 0,
): KeyBlockCounts {
  const span = emptyRowSpan();
  const tile = emptyKeyTile();
  const queryBlocks = Math.ceil(problem.qLength / blockQ);
  let visited = 0;
  let masked = 0;
  for (let block = 0; block < queryBlocks; block++) {
    const rowStart = block * blockQ;
    const rowEnd = Math.min(rowStart + blockQ, problem.qLength);
    rowSpan(problem, b, rowStart, rowEnd, span);
    let from = span.first;
    while (nextKeyTile(problem, span, b, h, rowStart, rowEnd, from, span.end, blockK, tile)) {
      if (tile.cls !== BLOCK_EMPTY) visited++;
      if (tile.cls === BLOCK_PARTIAL) masked++;
      from = tile.end;
    }
  }
  return { visited, masked, dense: queryBlocks * Math.ceil(problem.kvLength / blockK) };
}
