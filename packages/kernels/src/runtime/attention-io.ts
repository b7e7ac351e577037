/**
 * The bookkeeping every variant shares around its kernel loop: place q, k, v in the arena once per
 * call (docs/design.md, Engine and threads: never per tile), reserve the output and lse rows, and copy the result back out
 * into the caller's tensor. Layout in the arena matches the tensors (BHSD, row-major), so
 * head (b, h) of q starts at qOffset + ((b · Hq + h) · Lq) · Dk.
 */
import {
  type AttentionProblem,
  documentOf,
  emptyRowRange,
  generalAllows,
  rowRange,
  type Tensor,
} from '@attnkit/core';
import type { Engine } from '../engine/engine.js';
import { NativeKernelOps } from '../engine/native-ops.js';
import { BLOCK_FULL, emptyRowSpan, rowSpan, scoreTile, tileClass } from './score-tile.js';
import type { HeadOffsets } from './variant-runtime.js';

/** Where a call's tensors sit in the arena (float offsets). */
export interface ArenaOffsets {
  readonly q: number;
  readonly k: number;
  readonly v: number;
  /** [B, Hq, Lq, Dv] output rows. */
  readonly out: number;
  /** [B, Hq, Lq] log-sum-exp rows. */
  readonly lse: number;
  /** The score bias [B|1, Hq|1, Lq, Lk] (options.bias), −1 without one. */
  readonly bias: number;
}

export interface PlacedAttention extends ArenaOffsets {
  /** Arena mark to release when the call ends. */
  readonly mark: number;
}

/**
 * Copies q, k, v into the engine's arena and reserves out and lse. The caller releases the arena
 * in a `finally`: `try { ...; return finishAttention(...) } finally { engine.arena.release(placed.mark) }`.
 */
export function placeAttention(
  engine: Engine,
  problem: AttentionProblem,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  bias?: Tensor,
): PlacedAttention {
  const { arena } = engine;
  const mark = arena.mark();
  const qOffset = putData(engine, q.data);
  const kOffset = putData(engine, k.data);
  const vOffset = putData(engine, v.data);
  const rows = problem.batch * problem.qHeads * problem.qLength;
  const out = arena.alloc(rows * problem.valueDim);
  const lse = arena.alloc(rows);
  const biasOffset = problem.bias && bias ? putData(engine, bias.data) : -1;
  return { mark, q: qOffset, k: kOffset, v: vOffset, out, lse, bias: biasOffset };
}

/** arena.put, with the native addon's memcpy on native (V8's copy into shared memory is 2.7× slower). */
function putData(engine: Engine, data: Float32Array): number {
  return engine.ops instanceof NativeKernelOps ? engine.ops.put(data) : engine.arena.put(data);
}

/** Floats of the call's bias (options.bias) in the arena; 0 without one. */
export function biasFloats(
  problem: Pick<AttentionProblem, 'bias' | 'batch' | 'qHeads' | 'qLength' | 'kvLength'>,
): number {
  const bias = problem.bias;
  if (!bias) return 0;
  if (bias.batchStride > 0) return problem.batch * bias.batchStride;
  return (bias.headStride > 0 ? problem.qHeads : 1) * problem.qLength * problem.kvLength;
}

/** The call's result tensor: `out` when the caller passed one, else a new zeroed [B, Hq, Lq, Dv] tensor. */
export function outputTensor(problem: AttentionProblem, out: Tensor | null): Tensor {
  if (out) return out;
  const rows = problem.batch * problem.qHeads * problem.qLength;
  const shape = [problem.batch, problem.qHeads, problem.qLength, problem.valueDim];
  return { data: new Float32Array(rows * problem.valueDim), shape };
}

/**
 * Writes one float of each 4 KiB page of a fresh array (zeros over zeros): its first-touch page
 * faults, which cost about as much as copying the result into it (0.7 ms for 2 MiB here), then
 * happen wherever this runs. Variants run it on the caller while the pool's workers start on the
 * items (runWorkItems' callerFirst), so with threads > 1 they are no longer serial after the job.
 */
export function touchPages(data: Float32Array): void {
  const length = data.length;
  for (let i = 0; i < length; i += 1024) data[i] = 0;
  if (length > 0) data[length - 1] = 0;
}

/** Copies the result out of the arena into `target.out` (or a new tensor) and `target.lse`. */
export function finishAttention(
  engine: Engine,
  problem: AttentionProblem,
  placed: ArenaOffsets,
  target: { readonly out: Tensor | null; readonly lse: Float32Array | null },
): Tensor {
  const { arena } = engine;
  const rows = problem.batch * problem.qHeads * problem.qLength;
  const out = outputTensor(problem, target.out);
  const outData =
    out.data.length === rows * problem.valueDim ? out.data : out.data.subarray(0, rows * problem.valueDim);
  if (engine.ops instanceof NativeKernelOps) engine.ops.read(placed.out, outData);
  else arena.read(placed.out, rows * problem.valueDim, out.data);
  if (target.lse) arena.read(placed.lse, rows, target.lse);
  return out;
}

/**
 * Exact softmax attention of query rows [rowStart, rowEnd) of one head against the contiguous key
 * range [keyStart, keyEnd), materialising their scores in `scores` (an arena offset with room for
 * (rowEnd - rowStart) · (keyEnd - keyStart) floats). Keys inside the range that a row may not see
 * (docs/design.md, Masks: band and kvLengths) are masked; keys outside the range are taken as hidden, so callers
 * pass the union of the rows' visible ranges. Writes the rows' output and lse.
 *
 * The shared step of every materialising variant: all rows against all keys, or row blocks against
 * their visible key range.
 * Time O(rows · cols · (Dk + Dv)); memory: the caller's `scores` buffer.
 */
export function attendRows(
  engine: Engine,
  problem: AttentionProblem,
  head: HeadOffsets,
  b: number,
  rowStart: number,
  rowEnd: number,
  keyStart: number,
  keyEnd: number,
  scores: number,
): void {
  const { ops } = engine;
  const { headDim, valueDim } = problem;
  const rows = rowEnd - rowStart;
  const cols = Math.max(0, keyEnd - keyStart);
  if (rows <= 0) return;
  // 1. scores = scale · Q_rows · K_rangeᵀ
  ops.gemmNT(
    rows,
    cols,
    headDim,
    head.q + rowStart * headDim,
    headDim,
    head.k + keyStart * headDim,
    headDim,
    scores,
    cols,
    problem.scale,
    0,
  );
  // 2. bias and modifiers, then hide what the mask hides inside the range (score-tile.ts)
  rowSpan(problem, b, rowStart, rowEnd, span);
  const masked = tileClass(problem, span, b, head.head, rowStart, rowEnd, keyStart, keyEnd) !== BLOCK_FULL;
  scoreTile(engine, problem, head, b, rowStart, rows, keyStart, cols, scores, cols, masked);
  // 3. probabilities (empty rows → zeros, lse −∞)
  ops.softmaxRows(scores, cols, rows, cols, head.lse + rowStart);
  // 4. out_rows = P · V_range (cols == 0 writes zeros); keys a row cannot see are left out of its
  //    sum, not multiplied by zero, when a value there is not finite (0 · NaN = NaN)
  if (
    masked &&
    cols > 0 &&
    hiddenValuesNotFinite(engine, problem, head, b, rowStart, rowEnd, keyStart, keyEnd)
  ) {
    attendValuesByRow(engine, problem, head, b, rowStart, rowEnd, keyStart, keyEnd, scores, cols, 0);
    return;
  }
  ops.gemmNN(
    rows,
    valueDim,
    cols,
    scores,
    cols,
    head.v + keyStart * valueDim,
    valueDim,
    head.out + rowStart * valueDim,
    valueDim,
    1,
    0,
  );
}

// One span and one range per module instance (per thread), reused.
const span = emptyRowSpan();
const rowKeys = emptyRowRange();

/**
 * True when a value row that some of rows [rowStart, rowEnd) cannot see, inside keys [keyStart,
 * keyEnd), holds a NaN or an infinity. Only the keys outside the rows' common range are read
 * (O(ragged keys · Dv), next to the O(rows · keys · Dv) product it guards).
 */
export function hiddenValuesNotFinite(
  engine: Engine,
  problem: AttentionProblem,
  head: HeadOffsets,
  b: number,
  rowStart: number,
  rowEnd: number,
  keyStart: number,
  keyEnd: number,
): boolean {
  const { valueDim } = problem;
  // A general part may hide any key of the tile: check them all (O(keys · Dv), next to the product).
  if (problem.generalMask !== null) {
    return anyNotFinite(engine, head.v + keyStart * valueDim, head.v + keyEnd * valueDim);
  }
  // Keys every row sees: the rows' intersection.
  rowSpan(problem, b, rowStart, rowEnd, span);
  const fullStart = Math.max(keyStart, span.fullFirst);
  const fullEnd = Math.min(keyEnd, span.fullEnd);
  if (fullEnd <= fullStart)
    return anyNotFinite(engine, head.v + keyStart * valueDim, head.v + keyEnd * valueDim);
  return (
    anyNotFinite(engine, head.v + keyStart * valueDim, head.v + fullStart * valueDim) ||
    anyNotFinite(engine, head.v + fullEnd * valueDim, head.v + keyEnd * valueDim)
  );
}

/** True when arena floats [from, to) hold a NaN or an infinity (the engine's notFinite primitive). */
export function anyNotFinite(engine: Engine, from: number, to: number): boolean {
  return to > from && engine.ops.notFinite(from, to - from) !== 0;
}

/**
 * P·V one row at a time over exactly the keys each row sees (the slow path when hidden values are
 * not finite): row r of `scores` (leading dimension ld, column 0 = key keyStart) times its visible
 * value rows, run by run, into out row r (beta 0: overwrite; 1: accumulate).
 */
export function attendValuesByRow(
  engine: Engine,
  problem: AttentionProblem,
  head: HeadOffsets,
  b: number,
  rowStart: number,
  rowEnd: number,
  keyStart: number,
  keyEnd: number,
  scores: number,
  ld: number,
  beta: number,
): void {
  const { valueDim } = problem;
  const values = head.v;
  const out = head.out;
  for (let row = rowStart; row < rowEnd; row++) {
    rowRange(problem, b, row, rowKeys);
    const first = Math.max(keyStart, rowKeys.first);
    const end = Math.max(first, Math.min(keyEnd, rowKeys.end));
    const outRow = out + row * valueDim;
    if (beta === 0) engine.arena.heap.fill(0, outRow, outRow + valueDim);
    // runs of keys the general part lets the row see (one run without a general part)
    let run = first;
    while (run < end) {
      while (run < end && !generalAllows(problem, b, head.head, row, run)) run++;
      let runEnd = run;
      while (runEnd < end && generalAllows(problem, b, head.head, row, runEnd)) runEnd++;
      if (runEnd > run) {
        engine.ops.gemmNN(
          1,
          valueDim,
          runEnd - run,
          scores + (row - rowStart) * ld + (run - keyStart),
          ld,
          values + run * valueDim,
          valueDim,
          outRow,
          valueDim,
          1,
          1,
        );
      }
      run = runEnd;
    }
  }
}

/**
 * The banded block step shared by every materialising variant and the KV caches (a causal mask is the
 * window [∞, 0], no mask the window [∞, ∞]): query rows [rowStart, rowEnd) of one head attend the union
 * of their visible key ranges, [firstVisibleKey(first row), visibleKeyEnd(last row)) — both ends grow
 * with the row — through attendRows. Keys outside the union are never touched.
 * Time O(rows · (rows + left + right) · (Dk + Dv)), at most O(rows · Lk · (Dk + Dv)); extra memory:
 * the caller's `scores` buffer of bandScoreFloats(rows, …) floats.
 */
export function attendBand(
  engine: Engine,
  problem: AttentionProblem,
  head: HeadOffsets,
  b: number,
  rowStart: number,
  rowEnd: number,
  scores: number,
  keysFrom = 0,
  keysTo = Number.POSITIVE_INFINITY,
): void {
  // Packed documents: one segment of rows per document, so a union never spans two documents
  // (their positions jump, and the scores buffer holds one band's width).
  const docs = problem.documents;
  if (docs !== null) {
    let segment = rowStart;
    while (segment < rowEnd) {
      const d = documentOf(docs.q, segment);
      const segmentEnd = Math.min(rowEnd, docs.q[d + 1]!);
      attendSegment(engine, problem, head, b, segment, segmentEnd, scores, keysFrom, keysTo);
      segment = segmentEnd;
    }
    return;
  }
  attendSegment(engine, problem, head, b, rowStart, rowEnd, scores, keysFrom, keysTo);
}

function attendSegment(
  engine: Engine,
  problem: AttentionProblem,
  head: HeadOffsets,
  b: number,
  rowStart: number,
  rowEnd: number,
  scores: number,
  keysFrom: number,
  keysTo: number,
): void {
  // the rows' visible union, clipped to [keysFrom, keysTo) when the call splits its keys
  rowSpan(problem, b, rowStart, rowEnd, span);
  const keyStart = Math.max(keysFrom, span.first);
  const keyEnd = Math.min(keysTo, span.end);
  // An empty range still runs: attendRows writes zeros and lse = −∞ for rows that see nothing.
  attendRows(engine, problem, head, b, rowStart, rowEnd, keyStart, Math.max(keyStart, keyEnd), scores);
}

/**
 * Floats of the scores buffer of a block of `blockRows` rows: its rows' positions span blockRows − 1
 * and each reaches `left` keys back and `right` ahead, so blockRows + left + right keys (at most Lk).
 */
export function bandScoreFloats(blockRows: number, kvLength: number, left: number, right: number): number {
  return blockRows * Math.min(kvLength, blockRows + left + right);
}
