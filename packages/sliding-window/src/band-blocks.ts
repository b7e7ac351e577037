/**
 * The banded block step: a block of query rows of one (batch, query head) attends only its band's
 * key range [firstVisibleKey(first row), visibleKeyEnd(last row)) through
 * kernels' attendRows (scores → band mask → softmax → P·V). Keys outside the band are never touched.
 *
 * Time O(Lq · (blockQ + left + right) · (Dk + Dv)) per head — linear in the sequence for a fixed
 * window. Extra memory: the caller's scores buffer of blockQ · min(Lk, blockQ + left + right) floats.
 */
import { type AttentionProblem, firstVisibleKey, visibleKeyEnd } from '@attnkit/core';
import { attendRows, type Engine, type HeadOffsets } from '@attnkit/kernels';

/** Rows per block actually used: the requested size, clipped to the query length. */
export function effectiveBlockQ(qLength: number, blockQ: number): number {
  return Math.max(1, Math.min(blockQ, qLength));
}

/**
 * Widest key range a block of `blockRows` rows visits: its rows' positions span blockRows − 1, and
 * each row reaches `left` keys back and `right` ahead: blockRows + left + right keys (at most Lk).
 */
export function maxBandKeys(blockRows: number, kvLength: number, left: number, right: number): number {
  return Math.min(kvLength, blockRows + left + right);
}

/** Attends query rows [rowStart, rowEnd) of head `head` (batch entry b) against their band. */
export function attendBandBlock(
  engine: Engine,
  problem: AttentionProblem,
  head: HeadOffsets,
  b: number,
  rowStart: number,
  rowEnd: number,
  scores: number,
): void {
  const { qLength, kvLength, windowLeft, windowRight } = problem;
  // Positions grow with the row, so the first row starts the band's range and the last row ends it.
  const keyStart = firstVisibleKey(rowStart, qLength, kvLength, windowLeft);
  const keyEnd = visibleKeyEnd(rowEnd - 1, qLength, kvLength, windowRight, problem.validKeys[b]!);
  // An empty range still runs: attendRows writes zeros and lse = −∞ for rows that see nothing.
  attendRows(engine, problem, head, b, rowStart, rowEnd, keyStart, Math.max(keyStart, keyEnd), scores);
}
