/**
 * The per-item loop of flash attention (FlashAttention-2 order), shared by the one-thread path and
 * the worker pool: one item = one (batch, query head, query block).
 *
 * Algorithm, for the block's rows (≤ blockQ of them), with rowMax = −∞, rowSum = 0 and the
 * accumulator = 0:
 *   for each key tile of ≤ blockK keys inside the rows' visible union (plan.ts):
 *     S = scale · Q_rows · K_tileᵀ                       (gemmNT into a blockQ × blockK scratch tile)
 *     hide the keys some row may not see, only if the tile is not fully visible (maskBand)
 *     P = exp(S − m_new), rescale acc and rowSum by exp(m_old − m_new)   (onlineSoftmaxStep)
 *     acc += P · V_tile                                   (gemmNN, beta = 1)
 *   out_rows = acc / rowSum, lse = rowMax + log(rowSum)   (finishRows: one division at the end;
 *                                                           rows that saw nothing → zeros, −∞)
 * Values near FLT_MAX can overflow the unnormalised accumulator where the result does not; such an
 * item runs the tiles once more with P divided by the final row sums (see attendQueryBlock, step 5).
 * The accumulator IS the block's rows of the arena output: they belong to this item alone, and
 * finishRows may divide in place, so no accumulator tile is needed.
 * Time O(rows · visibleKeys · (Dk + Dv)) per item; extra memory per running item (so per thread):
 * one blockQ × blockK score tile + 3 · blockQ row statistics (scratchFloats), independent of N.
 */
import { type AttentionProblem, documentOf, kvHeadRow, MASK_BLOCK, queryPosition } from '@attnkit/core';
import {
  type ArenaOffsets,
  alignFloats,
  anyNotFinite,
  attendValuesByRow,
  BLOCK_EMPTY,
  BLOCK_FULL,
  BLOCK_PARTIAL,
  createQueryBlockItem,
  type Engine,
  emptyRowSpan,
  type FlashBlockArgs,
  flashBlockScratchFloats,
  generalClass,
  hiddenValuesNotFinite,
  locateQueryBlockItem,
  NativeKernelOps,
  nextVisibleKey,
  rangeScratchFloats,
  rowSpan,
  type SplitParams,
  scoreTile,
  splitOffsets,
  type VariantPayload,
  visibleRunEnd,
} from '@attnkit/kernels/runtime';
import { emptyKeyTile, nextKeyTile } from './plan.js';

/**
 * Flash's own part of the payload (the rest is the problem and the arena offsets).
 * Split-KV (kernels' split-kv.ts): ranges of splitKeys keys (a multiple of blockK), merged at the end.
 */
export interface FlashParams extends SplitParams {
  readonly blockQ: number;
  readonly blockK: number;
  /** ceil(qLength / blockQ): items are numbered (b · Hq + h) · queryBlocks + block, times keySplits. */
  readonly queryBlocks: number;
  /** The plan chose the fused native kernel (native backend, a problem it covers: fusedCovers). */
  readonly fused: boolean;
  /**
   * Arena offset of one float per kv head (b · Hkv + kvh), placed once per call: 1 when that head's
   * values are all finite, so its items run the fused kernel, 0 when they need the generic loop
   * (hidden non-finite values are left out row by row there). −1: the call runs the generic loop.
   */
  readonly fusedHeads: number;
}

export type FlashPayload = VariantPayload<FlashParams>;

/**
 * The fused native kernel (packages/native, OP_FLASH_BLOCK) runs a whole query block in one call. It
 * covers the band part of the mask (causal, window, kvLengths, Lq ≠ Lk), packed documents (one row
 * segment per document, the document's first key as every row's lower bound), a general mask whose
 * non-empty key runs are full for the segment (a block-sparse layout: the runs are tiled, nothing
 * masked; a segment with a partial run takes the generic loop) and up to two built-in score
 * modifiers (ALiBi, softcap, in order; ALiBi's distances below 2²⁴, exact in float32, as the tile
 * primitive's vector path): no prefix-LM, no score function, no bias.
 * Sinks are applied to finished rows by the runtime, so they are covered.
 */
export function fusedCovers(problem: AttentionProblem): boolean {
  const mods = problem.scoreMods;
  return (
    problem.prefixLength < 0 &&
    problem.bias === null &&
    mods.length <= 2 &&
    mods.every((mod) => mod.kind === 'alibi' || mod.kind === 'softcap') &&
    (!mods.some((mod) => mod.kind === 'alibi') || problem.qLength + problem.kvLength < 2 ** 24)
  );
}

/** A modifier's code and value for the fused kernel (0: none; 1: ALiBi and head h's slope; 2: softcap). */
function modCode(problem: AttentionProblem, index: number): number {
  const mod = problem.scoreMods[index];
  return mod === undefined ? 0 : mod.kind === 'alibi' ? 1 : 2;
}

function modValue(problem: AttentionProblem, index: number, h: number): number {
  const mod = problem.scoreMods[index];
  if (mod === undefined) return 0;
  return mod.kind === 'alibi' ? mod.slopes[h]! : mod.kind === 'softcap' ? mod.cap : 0;
}

/**
 * Whether calls may take the fused native kernel (default true). A switch for tests and
 * measurements comparing it with the generic loop on native: read when a call is planned, so pool
 * workers follow the caller through the params.
 */
let fusedEnabled = true;

export function setFusedFlash(enabled: boolean): void {
  fusedEnabled = enabled;
}

export function fusedFlashEnabled(): boolean {
  return fusedEnabled;
}

/**
 * Row segments this thread ran with the fused kernel, and of those, how many overflowed and were
 * rerun on the generic loop (for tests: run them on one thread to count every item).
 */
export const fusedFlashCounts = { segments: 0, overflows: 0 };

/** Floats of the generic loop's scratch: the score tile, then rowMax, rowSum and the final row sums. */
function genericScratchFloats(blockQ: number, blockK: number): number {
  return alignFloats(blockQ * blockK) + 3 * alignFloats(blockQ);
}

/** Floats one running item takes: the generic loop's, or the fused kernel's work buffer if larger. */
function itemScratchFloats(
  problem: AttentionProblem,
  blockQ: number,
  blockK: number,
  fused: boolean,
): number {
  const generic = genericScratchFloats(blockQ, blockK);
  if (!fused) return generic;
  // the fused work buffer, then the key runs of a general mask (at most one per 64-key column)
  const runs = problem.generalMask === null ? 0 : alignFloats(2 * Math.ceil(problem.kvLength / MASK_BLOCK));
  return Math.max(
    generic,
    alignFloats(flashBlockScratchFloats(blockQ, problem.headDim, problem.valueDim, blockK)) + runs,
  );
}

/**
 * Floats of per-item scratch: the score tile, then rowMax, rowSum and the final row sums a
 * normalised second pass divides by (each start 64-byte aligned) — or, when the call is fused, the
 * larger of that and the fused kernel's work buffer — then the row ranges scoreTile takes for a tile
 * under documents or prefix-LM.
 */
export function scratchFloats(
  problem: AttentionProblem,
  blockQ: number,
  blockK: number,
  fused = false,
): number {
  return itemScratchFloats(problem, blockQ, blockK, fused) + rangeScratchFloats(problem, blockQ);
}

/** Floats the fused path places once per call: one finiteness flag per kv head (0 unfused). */
export function fusedSharedFloats(problem: AttentionProblem, fused: boolean): number {
  return fused ? alignFloats(problem.batch * problem.kvHeads) : 0;
}

/**
 * The place hook's part for the fused kernel: one flag per kv head, 1 when its values are all finite
 * (the engine's notFinite over the head, once per call). Returns the params' fusedHeads offset, −1
 * when the call runs the generic loop.
 */
export function placeFusedHeads(
  engine: Engine,
  problem: AttentionProblem,
  at: ArenaOffsets,
  fused: boolean,
): number {
  if (!fused || !(engine.ops instanceof NativeKernelOps)) return -1;
  const heads = problem.batch * problem.kvHeads;
  const flags = engine.arena.alloc(heads);
  const floats = problem.kvLength * problem.valueDim;
  for (let i = 0; i < heads; i++) {
    const finite = !anyNotFinite(engine, at.v + i * floats, at.v + (i + 1) * floats);
    engine.arena.heap[flags + i] = finite ? 1 : 0;
  }
  return flags;
}

// One located item and one row span per module instance (per thread), reused across items: nothing
// is allocated per item or per tile.
const located = createQueryBlockItem();
const span = emptyRowSpan();
const tile = emptyKeyTile();
const locatedPayload: { problem: AttentionProblem; at: ArenaOffsets; params: null } = {
  problem: null as unknown as AttentionProblem,
  at: null as unknown as ArenaOffsets,
  params: null,
};

/**
 * Runs item `item` (one query block of one head; kernels' locateQueryBlockItem numbers them, longest
 * causal blocks first) to completion, writing its out and lse rows. Every item computes the same thing
 * whichever thread runs it, so results do not depend on the thread count.
 */
export function runItem(engine: Engine, payload: FlashPayload, item: number): void {
  const splits = payload.params.keySplits;
  // The score tile and running statistics come from the engine's arena: on the caller thread that is
  // the call's arena (released below), in a pool worker its private region, so threads never share it.
  const { arena } = engine;
  const mark = arena.mark();
  const { params } = payload;
  const scratch = arena.alloc(
    itemScratchFloats(payload.problem, params.blockQ, params.blockK, params.fusedHeads >= 0),
  );
  try {
    if (splits === 1)
      attendQueryBlock(engine, payload, payload.at, item, 0, Number.POSITIVE_INFINITY, scratch);
    else {
      // Item = (query-block item, split): the split's partial result goes to its own out/lse rows.
      const block = Math.floor(item / splits);
      const split = item - block * splits;
      const splitKeys = payload.params.splitKeys;
      const at = splitOffsets(payload.problem, payload.at, payload.params, split, splitAt);
      attendQueryBlock(engine, payload, at, block, split * splitKeys, (split + 1) * splitKeys, scratch);
    }
  } finally {
    arena.release(mark);
  }
}

const splitAt = { q: 0, k: 0, v: 0, out: 0, lse: 0, bias: -1 };

/**
 * One query block against the keys [keysFrom, keysTo) of its visible range (everything unsplit),
 * writing out and lse at `at`'s offsets. Under packed documents the block runs one segment of rows
 * per document, so a tile never mixes two documents' keys.
 */
function attendQueryBlock(
  engine: Engine,
  payload: FlashPayload,
  at: ArenaOffsets,
  item: number,
  keysFrom: number,
  keysTo: number,
  scratch: number,
): void {
  const { problem } = payload;
  const { blockQ, queryBlocks } = payload.params;
  locatedPayload.problem = problem;
  locatedPayload.at = at;
  const { rowStart, rowEnd } = locateQueryBlockItem(locatedPayload, blockQ, queryBlocks, item, located);
  const docs = problem.documents;
  if (docs === null) {
    attendSegment(engine, payload, rowStart, rowEnd, keysFrom, keysTo, scratch);
    return;
  }
  for (let segment = rowStart; segment < rowEnd; ) {
    const segmentEnd = Math.min(rowEnd, docs.q[documentOf(docs.q, segment) + 1]!);
    attendSegment(engine, payload, segment, segmentEnd, keysFrom, keysTo, scratch);
    segment = segmentEnd;
  }
}

/** Rows [rowStart, rowEnd) of the located head against their visible keys in [keysFrom, keysTo). */
function attendSegment(
  engine: Engine,
  payload: FlashPayload,
  rowStart: number,
  rowEnd: number,
  keysFrom: number,
  keysTo: number,
  scratch: number,
): void {
  const { problem } = payload;
  const { valueDim } = problem;
  const { blockQ, blockK } = payload.params;
  const rows = rowEnd - rowStart;
  const acc = located.out + rowStart * valueDim;
  const lse = located.lse + rowStart;
  const rowMax = scratch + alignFloats(blockQ * blockK);
  const rowSum = rowMax + alignFloats(blockQ);
  const finalSum = rowSum + alignFloats(blockQ);

  // 0. the fused native kernel, when the call planned it and this kv head's values are finite; it
  //    hands the rows back (overflow) only for values near FLT_MAX, which the loop below handles
  const fusedHeads = payload.params.fusedHeads;
  if (
    fusedHeads >= 0 &&
    engine.arena.heap[fusedHeads + kvHeadRow(problem, located.b, located.h) / problem.kvLength] === 1 &&
    engine.ops instanceof NativeKernelOps &&
    attendSegmentFused(engine.ops, engine.arena.heap, payload, rowStart, rowEnd, keysFrom, keysTo, scratch)
  ) {
    return;
  }

  // 1. fresh running statistics and accumulator for these rows (the scratch was allocated before and
  //    nothing is allocated below but scoreTile's row ranges, which it releases, so this heap view
  //    stays valid for the whole item)
  const heap = engine.arena.heap;
  heap.fill(Number.NEGATIVE_INFINITY, rowMax, rowMax + rows);
  heap.fill(0, rowSum, rowSum + rows);
  heap.fill(0, acc, acc + rows * valueDim);

  // 2. which keys the rows visit: their visible union, clipped to a split's keys (a row with none
  //    there: zeros, lse −∞, no weight in the merge)
  rowSpan(problem, located.b, rowStart, rowEnd, span);
  const keyStart = Math.max(span.first, keysFrom);
  const keyEnd = Math.min(span.end, keysTo);

  // 3. key tiles, FlashAttention-2 inner loop; 4. one division per row at the end, lse straight
  //    into the arena's lse rows
  attendKeyTiles(engine, payload, rowStart, rowEnd, keyStart, keyEnd, scratch, -1);
  engine.ops.finishRows(acc, valueDim, rows, valueDim, rowMax, rowSum, acc, valueDim, lse);

  // 5. The unnormalised accumulator holds up to rowSum · max|v|: with values near FLT_MAX it can
  //    overflow where the result (a convex combination of values) does not. Only then, a second
  //    pass with the final max and row sums known divides P by the row sum before P·V, so every
  //    partial sum stays within max|v|. lse from the first pass is already right.
  if (engine.ops.notFinite(acc, rows * valueDim) === 0) return;
  if (!accumulatorOverflowed(heap, acc, rows, valueDim, rowSum)) return;
  for (let r = 0; r < rows; r++) heap[finalSum + r] = heap[rowSum + r]!;
  heap.fill(0, rowSum, rowSum + rows);
  heap.fill(0, acc, acc + rows * valueDim);
  attendKeyTiles(engine, payload, rowStart, rowEnd, keyStart, keyEnd, scratch, finalSum);
  for (let r = 0; r < rows; r++) {
    if (heap[finalSum + r] === 0) heap.fill(0, acc + r * valueDim, acc + (r + 1) * valueDim); // saw no key
  }
}

// The fused kernel's arguments, reused (one per module instance, so per thread).
const fusedArgs: FlashBlockArgs = {
  q: 0,
  k: 0,
  v: 0,
  out: 0,
  lse: 0,
  rows: 0,
  headDim: 0,
  valueDim: 0,
  keyStart: 0,
  keyEnd: 0,
  blockK: 0,
  scale: 0,
  firstQueryPos: 0,
  left: 0,
  right: 0,
  validKeys: 0,
  fullFirst: 0,
  fullEnd: 0,
  work: 0,
  mod0: 0,
  mod0Value: 0,
  mod1: 0,
  mod1Value: 0,
  keyLow: 0,
  runs: -1,
  runCount: 0,
};

/**
 * Rows [rowStart, rowEnd) of the located head in one native call: the same tiles (blockK keys over
 * the rows' union clipped to [keysFrom, keysTo), unmasked inside their intersection) and the same
 * semantics as steps 1–4 of attendSegment. False when the accumulator overflowed: the caller runs
 * the generic loop, whose step 5 handles it.
 */
function attendSegmentFused(
  ops: NativeKernelOps,
  heap: Float32Array,
  payload: FlashPayload,
  rowStart: number,
  rowEnd: number,
  keysFrom: number,
  keysTo: number,
  scratch: number,
): boolean {
  const { problem } = payload;
  const { headDim, valueDim } = problem;
  const b = located.b;
  rowSpan(problem, b, rowStart, rowEnd, span);
  const keyStart = Math.max(span.first, keysFrom);
  const keyEnd = Math.max(keyStart, Math.min(span.end, keysTo));
  const f = fusedArgs;
  // a general mask: its non-empty key runs, each full for these rows (else the generic loop masks)
  f.runs = -1;
  f.runCount = 0;
  if (problem.generalMask !== null) {
    const h = located.head;
    const runs =
      scratch +
      alignFloats(flashBlockScratchFloats(rowEnd - rowStart, headDim, valueDim, payload.params.blockK));
    let count = 0;
    let from = keyStart;
    for (;;) {
      const start = nextVisibleKey(problem, b, h, rowStart, rowEnd, from, keyEnd);
      if (start >= keyEnd) break;
      const end = visibleRunEnd(problem, b, h, rowStart, rowEnd, start, keyEnd);
      if (generalClass(problem, b, h, rowStart, rowEnd, start, end) !== BLOCK_FULL) return false;
      heap[runs + 2 * count] = start;
      heap[runs + 2 * count + 1] = end;
      count++;
      from = end;
    }
    f.runs = runs;
    f.runCount = count;
  }
  // packed documents: rowSpan and the rows are this segment's document; its keys bound every row
  const docs = problem.documents;
  const document = docs === null ? -1 : documentOf(docs.q, rowStart);
  f.q = located.q + rowStart * headDim;
  f.k = located.k;
  f.v = located.v;
  f.out = located.out + rowStart * valueDim;
  f.lse = located.lse + rowStart;
  f.rows = rowEnd - rowStart;
  f.headDim = headDim;
  f.valueDim = valueDim;
  f.keyStart = keyStart;
  f.keyEnd = keyEnd;
  f.blockK = payload.params.blockK;
  f.scale = problem.scale;
  f.firstQueryPos = queryPosition(problem, rowStart);
  f.left = problem.windowLeft;
  f.right = problem.windowRight;
  f.validKeys =
    docs === null ? problem.validKeys[b]! : Math.min(problem.validKeys[b]!, docs.kv[document + 1]!);
  f.keyLow = docs === null ? 0 : docs.kv[document]!;
  f.fullFirst = span.fullFirst;
  f.fullEnd = span.fullEnd;
  f.work = scratch;
  f.mod0 = modCode(problem, 0);
  f.mod0Value = modValue(problem, 0, located.head);
  f.mod1 = modCode(problem, 1);
  f.mod1Value = modValue(problem, 1, located.head);
  fusedFlashCounts.segments++;
  if (ops.flashBlock(f) === 0) return true;
  fusedFlashCounts.overflows++;
  return false;
}

/** True when a row with a finite, positive row sum came out non-finite (the accumulator overflowed). */
function accumulatorOverflowed(
  heap: Float32Array,
  out: number,
  rows: number,
  valueDim: number,
  rowSum: number,
): boolean {
  for (let r = 0; r < rows; r++) {
    const sum = heap[rowSum + r]!;
    if (!(sum > 0 && sum < Number.POSITIVE_INFINITY)) continue; // empty or NaN rows are what they are
    for (let i = out + r * valueDim, end = i + valueDim; i < end; i++) {
      const x = heap[i]!;
      if (x - x !== 0) return true;
    }
  }
  return false;
}

/**
 * The tile loop over keys [keyStart, keyEnd): tiles of at most blockK keys, each a run of key columns
 * the general part does not hide entirely (score-tile.ts: empty tiles are skipped, full ones run
 * unmasked, partial ones masked). `normaliser` < 0: the online pass (running max and sums,
 * acc += P·V). `normaliser` ≥ 0: the normalised pass, rowMax already final (so no rescaling), P
 * divided by the final row sums at `normaliser` before acc += P·V.
 */
function attendKeyTiles(
  engine: Engine,
  payload: FlashPayload,
  rowStart: number,
  rowEnd: number,
  keyStart: number,
  keyEnd: number,
  scratch: number,
  normaliser: number,
): void {
  const { problem } = payload;
  const { blockQ, blockK } = payload.params;
  const { b } = located;
  const h = located.head;
  const scores = scratch;
  const rowMax = scratch + alignFloats(blockQ * blockK);
  const rowSum = rowMax + alignFloats(blockQ);
  let from = keyStart;
  while (nextKeyTile(problem, span, b, h, rowStart, rowEnd, from, keyEnd, blockK, tile)) {
    if (tile.cls !== BLOCK_EMPTY) {
      const masked = tile.cls === BLOCK_PARTIAL;
      attendTile(
        engine,
        payload,
        rowStart,
        rowEnd,
        tile.start,
        tile.end,
        masked,
        scores,
        rowMax,
        rowSum,
        normaliser,
      );
    }
    from = tile.end;
  }
}

/** One tile: scores, bias/modifiers/mask, the online softmax step, acc += P·V. */
function attendTile(
  engine: Engine,
  payload: FlashPayload,
  rowStart: number,
  rowEnd: number,
  tileStart: number,
  tileEnd: number,
  masked: boolean,
  scores: number,
  rowMax: number,
  rowSum: number,
  normaliser: number,
): void {
  const { ops } = engine;
  const { problem } = payload;
  const { headDim, valueDim } = problem;
  const { blockK } = payload.params;
  const { b } = located;
  const rows = rowEnd - rowStart;
  const cols = tileEnd - tileStart;
  const acc = located.out + rowStart * valueDim;
  ops.gemmNT(
    rows,
    cols,
    headDim,
    located.q + rowStart * headDim,
    headDim,
    located.k + tileStart * headDim,
    headDim,
    scores,
    blockK,
    problem.scale,
    0,
  );
  scoreTile(engine, problem, located, b, rowStart, rows, tileStart, cols, scores, blockK, masked);
  ops.onlineSoftmaxStep(scores, blockK, rows, cols, rowMax, rowSum, acc, valueDim, valueDim);
  if (normaliser >= 0) ops.divideRows(scores, blockK, rows, cols, normaliser, 0);
  // A key some row cannot see is left out of that row's sum, not multiplied by zero, when its value
  // is not finite (0 · NaN = NaN); only a masked tile can hold one, and the banded step's own check
  // reads only the keys that need it.
  if (masked && hiddenValuesNotFinite(engine, problem, located, b, rowStart, rowEnd, tileStart, tileEnd)) {
    attendValuesByRow(engine, problem, located, b, rowStart, rowEnd, tileStart, tileEnd, scores, blockK, 1);
    return;
  }
  ops.gemmNN(
    rows,
    valueDim,
    cols,
    scores,
    blockK,
    located.v + tileStart * valueDim,
    valueDim,
    acc,
    valueDim,
    1,
    1,
  );
}
