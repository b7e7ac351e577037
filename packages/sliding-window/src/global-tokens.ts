/**
 * Longformer global tokens on top of the band. Visibility (README "Global tokens"): query i at key
 * position p sees key j iff j < validKeys and
 *   (p − left <= j <= p + right)  or  ((p or j is global) and (not causal or j <= p)).
 * A row's visible keys are then no longer one contiguous range, so each block of rows computes one
 * softmax over three key segments laid side by side in its scores buffer:
 *   [band range of the block | global keys left of it | global keys right of it (not causal)],
 * the outer two read from a small gathered copy of the head's global keys and values. Inside the
 * band range the band mask is applied run by run, skipping the global columns (which only hide
 * padding, and the future when causal). The outer segments are visible to every row of the block (left
 * of every row's band, so in its past; right of it only without causal), so they need no mask.
 * Global query rows then attend every key — one contiguous range [0, end) each — through attendRows,
 * overwriting what the band pass wrote for them.
 *
 * Time O(Lq · (blockQ + left + right + G) · (Dk + Dv) + G · Lk · (Dk + Dv)) per head for G global
 * tokens: linear in the sequence for a fixed window and G. Extra memory: the gathered global keys
 * and values (G · (Dk + Dv) floats) and a scores buffer of max(blockQ · (band + G), Lk) floats.
 */
import {
  AttentionInputError,
  type AttentionProblem,
  describeValue,
  firstVisibleKey,
  visibleKeyEnd,
} from '@attnkit/core';
import { alignFloats, attendRows, type Engine, type HeadOffsets } from '@attnkit/kernels/runtime';

/** Widest key range of a band block: blockRows + left + right keys (at most Lk). */
function maxBandKeys(blockRows: number, kvLength: number, left: number, right: number): number {
  return Math.min(kvLength, blockRows + left + right);
}

/** The global key positions, sorted and without repeats; each must be a key position (< Lk). */
export function globalPositions(tokens: readonly number[] | undefined, kvLength: number): Int32Array {
  if (!tokens || tokens.length === 0) return new Int32Array(0);
  for (const token of tokens) {
    if (token >= kvLength) {
      throw new AttentionInputError(
        'options.globalTokens',
        `key positions in [0, ${kvLength}) (Lk)`,
        `${describeValue(token)} in ${describeValue(tokens)}`,
        'Global tokens are named by key position; a query row is global when its own position p = i + Lk − Lq is listed.',
      );
    }
  }
  return Int32Array.from(new Set(tokens)).sort();
}

/** Floats of the scores buffer the global path needs (band rows plus the global columns; a whole key row). */
export function globalScoreFloats(
  blockRows: number,
  kvLength: number,
  left: number,
  right: number,
  globals: number,
): number {
  return Math.max(blockRows * (maxBandKeys(blockRows, kvLength, left, right) + globals), kvLength);
}

/** Index of the first entry >= x in the sorted `values` (values.length when none). */
function lowerBound(values: Int32Array, x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where the global path keeps its gathered keys/values and its scores (arena offsets). */
export interface GlobalScratch {
  readonly keys: number;
  readonly values: number;
  readonly scores: number;
}

/** Floats of the global path's scratch: scores, then the gathered keys and values (64-byte aligned each). */
export function globalScratchFloats(
  blockRows: number,
  kvLength: number,
  left: number,
  right: number,
  globals: number,
  headDim: number,
  valueDim: number,
): number {
  return (
    alignFloats(globalScoreFloats(blockRows, kvLength, left, right, globals)) +
    alignFloats(globals * headDim) +
    alignFloats(globals * valueDim)
  );
}

/** Lays the global path's scratch out from one allocation of globalScratchFloats floats. */
export function globalScratchAt(
  offset: number,
  blockRows: number,
  kvLength: number,
  left: number,
  right: number,
  globals: number,
  headDim: number,
): GlobalScratch {
  const keys = offset + alignFloats(globalScoreFloats(blockRows, kvLength, left, right, globals));
  return { scores: offset, keys, values: keys + alignFloats(globals * headDim) };
}

/** Copies the head's global keys and values into the scratch's two small contiguous blocks. */
export function gatherGlobals(
  engine: Engine,
  head: HeadOffsets,
  globals: Int32Array,
  headDim: number,
  valueDim: number,
  scratch: GlobalScratch,
): void {
  const heap = engine.arena.heap;
  for (let i = 0; i < globals.length; i++) {
    const g = globals[i]!;
    heap.copyWithin(scratch.keys + i * headDim, head.k + g * headDim, head.k + (g + 1) * headDim);
    heap.copyWithin(scratch.values + i * valueDim, head.v + g * valueDim, head.v + (g + 1) * valueDim);
  }
}

/**
 * Band + global tokens for query rows [rowStart, rowEnd) of one head, whose global keys and values
 * gatherGlobals put in `scratch`. `globalRows` is `problem` without any mask (masked: false,
 * unbounded window): the global rows' key ranges are cut to exactly what they may see.
 */
export function attendBandWithGlobalsBlock(
  engine: Engine,
  problem: AttentionProblem,
  globalRows: AttentionProblem,
  head: HeadOffsets,
  b: number,
  rowStart: number,
  rowEnd: number,
  globals: Int32Array,
  scratch: GlobalScratch,
): void {
  const { ops } = engine;
  const { qLength, kvLength, headDim, valueDim, windowLeft, windowRight, causal, scale } = problem;
  const validKeys = problem.validKeys[b]!;
  const { keys: globalKeys, values: globalValues, scores } = scratch;
  // Global keys still hide the future when causal.
  const globalRight = causal ? 0 : Number.POSITIVE_INFINITY;
  const validGlobals = lowerBound(globals, validKeys);

  const rows = rowEnd - rowStart;
  const keyStart = firstVisibleKey(rowStart, qLength, kvLength, windowLeft);
  const keyEnd = Math.max(keyStart, visibleKeyEnd(rowEnd - 1, qLength, kvLength, windowRight, validKeys));
  const bandCols = keyEnd - keyStart;
  const insideStart = lowerBound(globals, keyStart);
  const insideEnd = lowerBound(globals, keyEnd);
  // globals [0, before) lie left of every row's band; [insideEnd, insideEnd + after) right of it
  const before = Math.min(insideStart, validGlobals);
  const after = causal ? 0 : Math.max(0, validGlobals - insideEnd);
  const cols = bandCols + before + after;
  const queries = head.q + rowStart * headDim;
  const output = head.out + rowStart * valueDim;
  const firstQueryPos = rowStart + kvLength - qLength;

  // 1. scores of the three segments, side by side: [band | globals before | globals after]
  ops.gemmNT(
    rows,
    bandCols,
    headDim,
    queries,
    headDim,
    head.k + keyStart * headDim,
    headDim,
    scores,
    cols,
    scale,
    0,
  );
  if (before > 0) {
    ops.gemmNT(
      rows,
      before,
      headDim,
      queries,
      headDim,
      globalKeys,
      headDim,
      scores + bandCols,
      cols,
      scale,
      0,
    );
  }
  if (after > 0) {
    ops.gemmNT(
      rows,
      after,
      headDim,
      queries,
      headDim,
      globalKeys + insideEnd * headDim,
      headDim,
      scores + bandCols + before,
      cols,
      scale,
      0,
    );
  }

  // 2. band mask run by run; a global column inside the band hides only padding (and the future when causal)
  let runStart = 0;
  for (let i = insideStart; i < insideEnd; i++) {
    const column = globals[i]! - keyStart;
    if (column > runStart) {
      ops.maskBand(
        scores + runStart,
        cols,
        rows,
        column - runStart,
        firstQueryPos,
        keyStart + runStart,
        windowLeft,
        windowRight,
        validKeys,
      );
    }
    ops.maskBand(
      scores + column,
      cols,
      rows,
      1,
      firstQueryPos,
      keyStart + column,
      Number.POSITIVE_INFINITY,
      globalRight,
      validKeys,
    );
    runStart = column + 1;
  }
  if (bandCols > runStart) {
    ops.maskBand(
      scores + runStart,
      cols,
      rows,
      bandCols - runStart,
      firstQueryPos,
      keyStart + runStart,
      windowLeft,
      windowRight,
      validKeys,
    );
  }

  // 3. one softmax over all segments (rows that see nothing: zeros, lse −∞)
  ops.softmaxRows(scores, cols, rows, cols, head.lse + rowStart);

  // 4. out = P_band · V_band + P_before · V_globals_before + P_after · V_globals_after
  ops.gemmNN(
    rows,
    valueDim,
    bandCols,
    scores,
    cols,
    head.v + keyStart * valueDim,
    valueDim,
    output,
    valueDim,
    1,
    0,
  );
  if (before > 0) {
    ops.gemmNN(
      rows,
      valueDim,
      before,
      scores + bandCols,
      cols,
      globalValues,
      valueDim,
      output,
      valueDim,
      1,
      1,
    );
  }
  if (after > 0) {
    ops.gemmNN(
      rows,
      valueDim,
      after,
      scores + bandCols + before,
      cols,
      globalValues + insideEnd * valueDim,
      valueDim,
      output,
      valueDim,
      1,
      1,
    );
  }

  // 5. global query rows of this block see every valid key (causal: up to their own position):
  //    one contiguous range each, overwriting what the band pass wrote for them
  const firstGlobal = lowerBound(globals, rowStart + kvLength - qLength);
  for (let i = firstGlobal; i < globals.length; i++) {
    const position = globals[i]!;
    const row = position - kvLength + qLength;
    if (row >= rowEnd) break;
    const end = causal ? Math.min(validKeys, position + 1) : validKeys;
    attendRows(engine, globalRows, head, b, row, row + 1, 0, end, scores);
  }
}
