/**
 * One tile of scores from scaled dot products to masked logits (docs/design.md, Masks, "Order of
 * operations"), shared by the banded step (dense, causal, sliding-window, the caches) and flash:
 *   s = scale · q·k (gemmNT, by the caller) + bias → ALiBi / softcap / score functions in order → mask.
 * and the pieces tiled loops plan with: which keys a block of rows can see at all (the union), which
 * every row sees (the intersection), and whether a tile is empty, full or partial under the whole
 * mask (range part ∧ general part, core's visibility.ts), so empty tiles are skipped and full ones
 * run without a mask.
 *
 * Kernels used: addTile (bias), addAlibi, softcapScores, maskBand (a plain band) or maskRanges
 * (documents, prefix-LM); a score function and a partial block of the general part are applied by
 * typed-array loops here (O(tile) each; the general part only touches its partial 64 × 64 blocks).
 * Time O(rows · cols) per tile; memory: 2 · rows floats of the running thread's arena for the row
 * ranges (rangeScratchFloats, counted in each variant's item scratch), released before returning.
 */
import {
  type AttentionProblem,
  BLOCK_EMPTY,
  BLOCK_FULL,
  BLOCK_PARTIAL,
  type BlockMask,
  blockIndex,
  emptyRowRange,
  MASK_BLOCK,
  queryPosition,
  rowRange,
  type ScoreFunction,
  type ScoreMod,
  scoreModList,
} from '@attnkit/core';
import { alignFloats } from '../engine/arena.js';
import type { Engine } from '../engine/engine.js';

export { BLOCK_EMPTY, BLOCK_FULL, BLOCK_PARTIAL };

/** What a tile's scoring needs besides the problem: the running head and its bias rows. */
export interface TileHead {
  /** Query head index h. */
  readonly head: number;
  /** Arena offset of this (b, h)'s bias rows ([Lq, Lk]), −1 without a bias. */
  readonly bias: number;
}

/** Floats of arena scratch scoreTile takes for a tile of `rows` rows: the row ranges, under documents or prefix-LM only. */
export function rangeScratchFloats(problem: AttentionProblem, rows: number): number {
  return rangesNeeded(problem) ? alignFloats(2 * rows) : 0;
}

/** True when the problem's range part is more than a plain band (documents or prefix-LM): maskRanges, not maskBand. */
function rangesNeeded(problem: AttentionProblem): boolean {
  return problem.documents !== null || problem.prefixLength >= 0;
}

/** The score functions of the call running on this thread (a call with one runs on the calling thread only). */
let scoreFunctions: readonly ScoreFunction[] = [];

/** The functions of options.scoreMod by their index there (identity where a built-in sits: never called). */
export function scoreFunctionsOf(scoreMod: ScoreMod | readonly ScoreMod[] | undefined): ScoreFunction[] {
  return scoreModList(scoreMod).map((mod) => (mod.kind === 'scoreFunction' ? mod.fn : (s: number) => s));
}

/** Sets the call's score functions, by their index in options.scoreMod (define-variant does, around the items). */
export function setScoreFunctions(functions: readonly ScoreFunction[]): void {
  scoreFunctions = functions;
}

const range = emptyRowRange();

/** Rows [rowStart, rowEnd) of batch entry b: the union and intersection of their visible ranges. */
export interface RowSpan {
  /** Union [first, end): keys outside it are hidden from every row (empty when end <= first). */
  first: number;
  end: number;
  /** Intersection [fullFirst, fullEnd): every row's range part sees these (may be empty). */
  fullFirst: number;
  fullEnd: number;
}

export function emptyRowSpan(): RowSpan {
  return { first: 0, end: 0, fullFirst: 0, fullEnd: 0 };
}

/** Fills `into` with the rows' union and intersection of range parts. Time O(rows · log documents). */
export function rowSpan(
  problem: AttentionProblem,
  b: number,
  rowStart: number,
  rowEnd: number,
  into: RowSpan,
): RowSpan {
  let first = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  let fullFirst = Number.NEGATIVE_INFINITY;
  let fullEnd = Number.POSITIVE_INFINITY;
  for (let row = rowStart; row < rowEnd; row++) {
    rowRange(problem, b, row, range);
    if (range.first > fullFirst) fullFirst = range.first;
    if (range.end < fullEnd) fullEnd = range.end;
    if (range.end <= range.first) continue;
    if (range.first < first) first = range.first;
    if (range.end > end) end = range.end;
  }
  if (end === Number.NEGATIVE_INFINITY) {
    into.first = 0;
    into.end = 0;
  } else {
    into.first = first;
    into.end = end;
  }
  if (rowEnd <= rowStart || fullEnd <= fullFirst) {
    into.fullFirst = 0;
    into.fullEnd = 0;
  } else {
    into.fullFirst = fullFirst;
    into.fullEnd = fullEnd;
  }
  return into;
}

/**
 * The class of the general part over rows [rowStart, rowEnd) × keys [keyStart, keyEnd) of (b, h):
 * the combination of the 64 × 64 blocks it covers. BLOCK_FULL when the call has no general part.
 */
export function generalClass(
  problem: AttentionProblem,
  b: number,
  h: number,
  rowStart: number,
  rowEnd: number,
  keyStart: number,
  keyEnd: number,
): number {
  const mask = problem.generalMask;
  if (mask === null) return BLOCK_FULL;
  if (keyEnd <= keyStart || rowEnd <= rowStart) return BLOCK_EMPTY;
  let any = false;
  let all = true;
  const qb1 = Math.floor((rowEnd - 1) / MASK_BLOCK);
  const kb1 = Math.floor((keyEnd - 1) / MASK_BLOCK);
  for (let qb = Math.floor(rowStart / MASK_BLOCK); qb <= qb1; qb++) {
    for (let kb = Math.floor(keyStart / MASK_BLOCK); kb <= kb1; kb++) {
      const cls = mask.classes[blockIndex(mask, problem, b, h, qb, kb)]!;
      if (cls !== BLOCK_EMPTY) any = true;
      if (cls !== BLOCK_FULL) all = false;
    }
  }
  return all ? BLOCK_FULL : any ? BLOCK_PARTIAL : BLOCK_EMPTY;
}

/**
 * The class of tile rows [rowStart, rowEnd) × keys [keyStart, keyEnd) under the whole mask, given the
 * rows' span: empty (skip it), full (no mask) or partial (mask it). Partial is conservative: a tile
 * whose range and general parts each cover it partly may still be empty.
 */
export function tileClass(
  problem: AttentionProblem,
  span: RowSpan,
  b: number,
  h: number,
  rowStart: number,
  rowEnd: number,
  keyStart: number,
  keyEnd: number,
): number {
  if (keyEnd <= keyStart || keyEnd <= span.first || keyStart >= span.end) return BLOCK_EMPTY;
  const general = generalClass(problem, b, h, rowStart, rowEnd, keyStart, keyEnd);
  if (general === BLOCK_EMPTY) return BLOCK_EMPTY;
  const rangeFull = keyStart >= span.fullFirst && keyEnd <= span.fullEnd;
  return rangeFull && general === BLOCK_FULL ? BLOCK_FULL : BLOCK_PARTIAL;
}

/**
 * The first key >= from (below to) whose 64-key column the general part does not hide entirely from
 * rows [rowStart, rowEnd): tiled loops start a tile there (`to` when there is none). Without a
 * general part: from.
 */
export function nextVisibleKey(
  problem: AttentionProblem,
  b: number,
  h: number,
  rowStart: number,
  rowEnd: number,
  from: number,
  to: number,
): number {
  if (problem.generalMask === null) return from;
  let key = from;
  while (key < to) {
    const boundary = Math.min(to, (Math.floor(key / MASK_BLOCK) + 1) * MASK_BLOCK);
    if (generalClass(problem, b, h, rowStart, rowEnd, key, boundary) !== BLOCK_EMPTY) return key;
    key = boundary;
  }
  return to;
}

/**
 * The end of a tile that starts at `from` and may reach `to`: the first 64-key column after `from`
 * that the general part hides entirely from the rows (so a tile is a run of non-empty columns), else
 * `to`. Without a general part: to.
 */
export function visibleRunEnd(
  problem: AttentionProblem,
  b: number,
  h: number,
  rowStart: number,
  rowEnd: number,
  from: number,
  to: number,
): number {
  if (problem.generalMask === null) return to;
  let key = Math.min(to, (Math.floor(from / MASK_BLOCK) + 1) * MASK_BLOCK);
  while (key < to) {
    const boundary = Math.min(to, key + MASK_BLOCK);
    if (generalClass(problem, b, h, rowStart, rowEnd, key, boundary) === BLOCK_EMPTY) return key;
    key = boundary;
  }
  return to;
}

/**
 * Turns the tile's scaled scores (rows [rowStart, rowStart + rows) × keys [keyStart, keyStart + cols),
 * at `scores` with row stride lds) into masked logits: bias, modifiers in order, then, when `masked`
 * (the tile is partial), the range part and the general part. Writes −Infinity where hidden.
 */
export function scoreTile(
  engine: Engine,
  problem: AttentionProblem,
  tile: TileHead,
  b: number,
  rowStart: number,
  rows: number,
  keyStart: number,
  cols: number,
  scores: number,
  lds: number,
  masked: boolean,
): void {
  if (rows <= 0 || cols <= 0) return;
  const { ops } = engine;
  const h = tile.head;
  // 1. bias (rows of the (b, h) bias slice, stride Lk)
  if (tile.bias >= 0) {
    ops.addTile(
      scores,
      lds,
      rows,
      cols,
      tile.bias + rowStart * problem.kvLength + keyStart,
      problem.kvLength,
    );
  }
  // 2. modifiers in order
  for (const mod of problem.scoreMods) {
    if (mod.kind === 'softcap') ops.softcapScores(scores, lds, rows, cols, mod.cap);
    else if (mod.kind === 'alibi')
      addAlibiRows(engine, problem, mod.slopes[h]!, rowStart, rows, keyStart, cols, scores, lds);
    else
      applyScoreFunction(
        engine,
        scoreFunctions[mod.index]!,
        b,
        h,
        rowStart,
        rows,
        keyStart,
        cols,
        scores,
        lds,
      );
  }
  if (!masked) return;
  // 3. the range part: a band (with kvLengths) by maskBand; documents and prefix-LM by per-row ranges
  if (rangesNeeded(problem)) {
    const { arena } = engine;
    const mark = arena.mark();
    try {
      const ranges = arena.alloc(rangeScratchFloats(problem, rows));
      const heap = arena.heap;
      for (let r = 0; r < rows; r++) {
        rowRange(problem, b, rowStart + r, range);
        heap[ranges + 2 * r] = range.first;
        heap[ranges + 2 * r + 1] = range.end;
      }
      ops.maskRanges(scores, lds, rows, cols, keyStart, ranges);
    } finally {
      arena.release(mark);
    }
  } else {
    ops.maskBand(
      scores,
      lds,
      rows,
      cols,
      rowStart + problem.kvLength - problem.qLength,
      keyStart,
      problem.windowLeft,
      problem.windowRight,
      problem.validKeys[b]!,
    );
  }
  // 4. the general part's partial and empty blocks
  if (problem.generalMask !== null) {
    applyGeneralMask(
      engine.arena.heap,
      problem,
      problem.generalMask,
      b,
      h,
      rowStart,
      rows,
      keyStart,
      cols,
      scores,
      lds,
    );
  }
}

/** ALiBi over the tile: one kernel call per run of rows whose positions are consecutive (per document). */
function addAlibiRows(
  engine: Engine,
  problem: AttentionProblem,
  slope: number,
  rowStart: number,
  rows: number,
  keyStart: number,
  cols: number,
  scores: number,
  lds: number,
): void {
  if (problem.documents === null) {
    engine.ops.addAlibi(
      scores,
      lds,
      rows,
      cols,
      slope,
      rowStart + problem.kvLength - problem.qLength,
      keyStart,
    );
    return;
  }
  const offsets = problem.documents.q;
  let r = 0;
  while (r < rows) {
    // rows up to the next document start keep consecutive positions
    const row = rowStart + r;
    let next = rows;
    for (let d = 1; d < offsets.length; d++) {
      if (offsets[d]! > row) {
        next = Math.min(rows, offsets[d]! - rowStart);
        break;
      }
    }
    engine.ops.addAlibi(scores + r * lds, lds, next - r, cols, slope, queryPosition(problem, row), keyStart);
    r = next;
  }
}

/** A score function over the tile: s = fn(s, b, h, i, j) (the slow path: one JS call per element). */
function applyScoreFunction(
  engine: Engine,
  fn: ScoreFunction,
  b: number,
  h: number,
  rowStart: number,
  rows: number,
  keyStart: number,
  cols: number,
  scores: number,
  lds: number,
): void {
  const heap = engine.arena.heap;
  for (let r = 0; r < rows; r++) {
    const row = scores + r * lds;
    for (let c = 0; c < cols; c++) heap[row + c] = fn(heap[row + c]!, b, h, rowStart + r, keyStart + c);
  }
}

/** −Infinity over what the general part hides in the tile: empty blocks whole, partial ones by byte. */
function applyGeneralMask(
  heap: Float32Array,
  problem: AttentionProblem,
  mask: BlockMask,
  b: number,
  h: number,
  rowStart: number,
  rows: number,
  keyStart: number,
  cols: number,
  scores: number,
  lds: number,
): void {
  const rowEnd = rowStart + rows;
  const keyEnd = keyStart + cols;
  const area = MASK_BLOCK * MASK_BLOCK;
  for (let qb = Math.floor(rowStart / MASK_BLOCK); qb * MASK_BLOCK < rowEnd; qb++) {
    const r0 = Math.max(rowStart, qb * MASK_BLOCK);
    const r1 = Math.min(rowEnd, (qb + 1) * MASK_BLOCK);
    for (let kb = Math.floor(keyStart / MASK_BLOCK); kb * MASK_BLOCK < keyEnd; kb++) {
      const c0 = Math.max(keyStart, kb * MASK_BLOCK);
      const c1 = Math.min(keyEnd, (kb + 1) * MASK_BLOCK);
      const index = blockIndex(mask, problem, b, h, qb, kb);
      const cls = mask.classes[index]!;
      if (cls === BLOCK_FULL) continue;
      if (cls === BLOCK_EMPTY) {
        for (let i = r0; i < r1; i++) {
          const row = scores + (i - rowStart) * lds - keyStart;
          heap.fill(Number.NEGATIVE_INFINITY, row + c0, row + c1);
        }
        continue;
      }
      const base = mask.partialAt[index]! * area;
      for (let i = r0; i < r1; i++) {
        const row = scores + (i - rowStart) * lds - keyStart;
        const bits = base + (i - qb * MASK_BLOCK) * MASK_BLOCK - kb * MASK_BLOCK;
        for (let j = c0; j < c1; j++) if (mask.bits[bits + j] === 0) heap[row + j] = Number.NEGATIVE_INFINITY;
      }
    }
  }
}

/**
 * Sinks (docs/design.md, Masks): one logit per query head that joins every row's softmax with no
 * value. Applied to finished rows: lse' = log(e^lse + e^sink), out ·= e^(lse − lse'). An empty row
 * (lse = −∞) gets zeros and lse = sink; a NaN row stays NaN. Time O(rows · Dv), on the calling thread.
 */
export function applySinks(engine: Engine, problem: AttentionProblem, out: number, lse: number): void {
  const sinks = problem.sinks;
  if (sinks === null) return;
  const heap = engine.arena.heap;
  const { qHeads, qLength, valueDim } = problem;
  for (let b = 0; b < problem.batch; b++) {
    for (let h = 0; h < qHeads; h++) {
      const sink = sinks[h]!;
      const first = (b * qHeads + h) * qLength;
      for (let row = first; row < first + qLength; row++) {
        const l = heap[lse + row]!;
        const max = l > sink ? l : sink;
        const merged = max + Math.log(Math.exp(l - max) + Math.exp(sink - max));
        const factor = l === Number.NEGATIVE_INFINITY ? 0 : Math.exp(l - merged);
        heap[lse + row] = merged;
        if (factor === 1) continue;
        for (let i = out + row * valueDim, end = i + valueDim; i < end; i++) heap[i] = heap[i]! * factor;
      }
    }
  }
}
