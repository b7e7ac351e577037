/**
 * The bookkeeping every variant shares around its kernel loop: place q, k, v in the arena once per
 * call (DESIGN §4: never per tile), reserve the output and lse rows, and copy the result back out
 * into the caller's tensor. Layout in the arena matches the tensors (BHSD, row-major), so
 * head (b, h) of q starts at qOffset + ((b · Hq + h) · Lq) · Dk.
 */
import type { AttentionProblem, Tensor } from '@attnkit/core';
import type { Engine } from './engine.js';

export interface PlacedAttention {
  /** Arena mark to release when the call ends. */
  readonly mark: number;
  readonly q: number;
  readonly k: number;
  readonly v: number;
  /** [B, Hq, Lq, Dv] output rows. */
  readonly out: number;
  /** [B, Hq, Lq] log-sum-exp rows. */
  readonly lse: number;
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
): PlacedAttention {
  const { arena } = engine;
  const mark = arena.mark();
  const qOffset = arena.put(q.data);
  const kOffset = arena.put(k.data);
  const vOffset = arena.put(v.data);
  const rows = problem.batch * problem.qHeads * problem.qLength;
  const out = arena.alloc(rows * problem.valueDim);
  const lse = arena.alloc(rows);
  return { mark, q: qOffset, k: kOffset, v: vOffset, out, lse };
}

/** Offsets of head (b, h) for q/out/lse (query head h) and k/v (its kv head, GQA). */
export function headOffsets(problem: AttentionProblem, placed: PlacedAttention, b: number, h: number) {
  const kvHead = Math.floor(h / problem.groupSize);
  const qRow = (b * problem.qHeads + h) * problem.qLength;
  const kvRow = (b * problem.kvHeads + kvHead) * problem.kvLength;
  return {
    q: placed.q + qRow * problem.headDim,
    out: placed.out + qRow * problem.valueDim,
    lse: placed.lse + qRow,
    k: placed.k + kvRow * problem.headDim,
    v: placed.v + kvRow * problem.valueDim,
  };
}

/** Copies the result out of the arena into `problem.out` (or a new tensor) and `problem.lse`. */
export function finishAttention(engine: Engine, problem: AttentionProblem, placed: PlacedAttention): Tensor {
  const { arena } = engine;
  const rows = problem.batch * problem.qHeads * problem.qLength;
  const shape = [problem.batch, problem.qHeads, problem.qLength, problem.valueDim];
  const out = problem.out ?? { data: new Float32Array(rows * problem.valueDim), shape };
  arena.read(placed.out, rows * problem.valueDim, out.data);
  if (problem.lse) arena.read(placed.lse, rows, problem.lse);
  return out;
}

export type HeadOffsets = ReturnType<typeof headOffsets>;

/**
 * Exact softmax attention of query rows [rowStart, rowEnd) of one head against the contiguous key
 * range [keyStart, keyEnd), materialising their scores in `scores` (an arena offset with room for
 * (rowEnd - rowStart) · (keyEnd - keyStart) floats). Keys inside the range that a row may not see
 * (DESIGN §3 band and kvLengths) are masked; keys outside the range are taken as hidden, so callers
 * pass the union of the rows' visible ranges. Writes the rows' output and lse.
 *
 * The shared step of every materialising variant: dense (all rows, all keys), causal (row blocks
 * against their visible prefix), sliding-window (row blocks against their band).
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
  // 2. hide what the band or kvLengths hide inside the range
  if (problem.masked && cols > 0) {
    const firstQueryPos = rowStart + problem.kvLength - problem.qLength;
    ops.maskBand(
      scores,
      cols,
      rows,
      cols,
      firstQueryPos,
      keyStart,
      problem.windowLeft,
      problem.windowRight,
      problem.validKeys[b]!,
    );
  }
  // 3. probabilities (empty rows → zeros, lse −∞)
  ops.softmaxRows(scores, cols, rows, cols, head.lse + rowStart);
  // 4. out_rows = P · V_range (cols == 0 writes zeros)
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
