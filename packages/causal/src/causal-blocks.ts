/**
 * The causal block loop shared by the full pass and the KV cache: for one (batch, query head), query
 * rows in blocks of `blockQ`, each attending only the keys its rows can see —
 * [firstVisibleKey(first row), visibleKeyEnd(last row)) — through kernels' attendRows (scores →
 * band mask → softmax → P·V). The hidden upper triangle outside that range is never computed.
 *
 * Time O(Σ_blocks rows · (visible range) · (Dk + Dv)) ≈ ½ · Lq · Lk · (Dk + Dv) for a full causal
 * mask (plus ≈ blockQ / 2 wasted keys per row on the diagonal), O(Lq · (left + blockQ) · D) with a
 * window of left reach. Extra memory: the caller's scores buffer of blockScoreFloats floats.
 */
import { type AttentionProblem, firstVisibleKey, visibleKeyEnd } from '@attnkit/core';
import { attendRows, type Engine, type HeadOffsets } from '@attnkit/kernels';

/** Rows per block actually used: the requested size, clipped to the query length. */
export function effectiveBlockQ(qLength: number, blockQ: number): number {
  return Math.max(1, Math.min(blockQ, qLength));
}

/**
 * Widest key range any block of `blockRows` rows visits: the rows' positions span blockRows − 1,
 * and each row reaches `left` keys back, so blockRows + left keys (never more than the keys there are).
 */
export function maxBlockKeys(blockRows: number, kvLength: number, windowLeft: number): number {
  return Math.min(kvLength, blockRows + windowLeft);
}

/** Floats of the scores buffer a call needs (one block's rows × its widest key range). */
export function blockScoreFloats(blockRows: number, kvLength: number, windowLeft: number): number {
  return blockRows * maxBlockKeys(blockRows, kvLength, windowLeft);
}

/**
 * Attends query rows [rowStart, rowEnd) of head `head` (batch entry b) against their visible keys.
 * `problem` must be causal (windowRight = 0); `scores` holds rows · maxBlockKeys(rows, ...) floats.
 */
export function attendCausalBlock(
  engine: Engine,
  problem: AttentionProblem,
  head: HeadOffsets,
  b: number,
  rowStart: number,
  rowEnd: number,
  scores: number,
): void {
  const { qLength, kvLength, windowLeft } = problem;
  // Positions grow with the row, so the first row starts the block's range and the last row ends it.
  const keyStart = firstVisibleKey(rowStart, qLength, kvLength, windowLeft);
  const keyEnd = visibleKeyEnd(rowEnd - 1, qLength, kvLength, 0, problem.validKeys[b]!);
  // An empty range (rows before the first key, or past kvLengths) still runs: attendRows writes
  // zeros and lse = −∞ for rows that see nothing.
  attendRows(engine, problem, head, b, rowStart, rowEnd, keyStart, Math.max(keyStart, keyEnd), scores);
}

/** Attends every query row of one head, block by block (the KV cache's single-thread loop). */
export function attendCausalHead(
  engine: Engine,
  problem: AttentionProblem,
  head: HeadOffsets,
  b: number,
  blockQ: number,
  scores: number,
): void {
  for (let rowStart = 0; rowStart < problem.qLength; rowStart += blockQ) {
    attendCausalBlock(
      engine,
      problem,
      head,
      b,
      rowStart,
      Math.min(problem.qLength, rowStart + blockQ),
      scores,
    );
  }
}
