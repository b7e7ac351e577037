/**
 * Mask semantics (docs/design.md, Masks), the single source of truth every variant and test materialises.
 * Bottom-right aligned (flash-attention >= 2.1): query i sits at key position p = i + Lk − Lq and
 * sees key j iff j < validKeys and p − left <= j <= p + right (causal: right = 0). The visible keys
 * of a row are therefore one contiguous range [firstVisibleKey, visibleKeyEnd), possibly empty.
 * Mask values (mask-values.ts) add documents, prefix-LM, global tokens, block-sparse layouts and
 * predicates; visibility.ts decides the whole mask of a call.
 * Time O(1) per predicate call; materializeMask / maskToString O(Lq·Lk).
 */
import type { AttentionMask } from './mask-values.js';
import type { AttentionProblem } from './types.js';
import {
  BLOCK_FULL,
  BLOCK_PARTIAL,
  type BlockMask,
  blockIndex,
  emptyRowRange,
  evaluateMask,
  isVisibleIn,
  MASK_BLOCK,
  rowRange,
} from './visibility.js';

export type MaskPredicate = (b: number, h: number, qIdx: number, kvIdx: number) => boolean;

/** The key position of query qIdx: p = qIdx + kvLength − qLength (may be negative when Lq > Lk). */
export function keyPosition(qIdx: number, qLength: number, kvLength: number): number {
  return qIdx + kvLength - qLength;
}

/** First key the row may see: max(0, p − left). */
export function firstVisibleKey(qIdx: number, qLength: number, kvLength: number, left: number): number {
  return Math.max(0, keyPosition(qIdx, qLength, kvLength) - left);
}

/** One past the last key the row may see: min(validKeys, p + right + 1). The row is empty when end <= first. */
export function visibleKeyEnd(
  qIdx: number,
  qLength: number,
  kvLength: number,
  right: number,
  validKeys: number,
): number {
  return Math.min(validKeys, keyPosition(qIdx, qLength, kvLength) + right + 1);
}

export function isVisible(
  qIdx: number,
  kvIdx: number,
  qLength: number,
  kvLength: number,
  left: number,
  right: number,
  validKeys: number,
): boolean {
  const p = keyPosition(qIdx, qLength, kvLength);
  return kvIdx >= 0 && kvIdx < validKeys && kvIdx >= p - left && kvIdx <= p + right;
}

/** The whole mask of a parsed call as a predicate (both parts: visibility.ts's isVisibleIn). */
export function maskForProblem(problem: AttentionProblem): MaskPredicate {
  return (b, h, qIdx, kvIdx) => isVisibleIn(problem, b, h, qIdx, kvIdx);
}

function predicateOf(mask: AttentionMask | MaskPredicate, qLength: number, kvLength: number): MaskPredicate {
  return typeof mask === 'function' ? mask : evaluateMask(mask, qLength, kvLength);
}

/** The mask of one (b, h) as bytes, row-major [Lq, Lk]: 1 = visible. */
export function materializeMask(
  mask: AttentionMask | MaskPredicate,
  qLength: number,
  kvLength: number,
  b = 0,
  h = 0,
): Uint8Array {
  const visible = predicateOf(mask, qLength, kvLength);
  const bytes = new Uint8Array(qLength * kvLength);
  for (let i = 0; i < qLength; i++) {
    for (let j = 0; j < kvLength; j++) bytes[i * kvLength + j] = visible(b, h, i, j) ? 1 : 0;
  }
  return bytes;
}

/**
 * An ASCII picture of one (b, h) of a mask value or predicate: '#' visible, '.' hidden, one line per
 * query. A mask value is drawn alone (not ANDed with any call's causal, window or kvLengths).
 */
export function maskToString(
  mask: AttentionMask | MaskPredicate,
  qLength: number,
  kvLength: number,
  b = 0,
  h = 0,
): string {
  const visible = predicateOf(mask, qLength, kvLength);
  const lines: string[] = [];
  for (let i = 0; i < qLength; i++) {
    let line = '';
    for (let j = 0; j < kvLength; j++) line += visible(b, h, i, j) ? '#' : '.';
    lines.push(line);
  }
  return lines.join('\n');
}

/** Σ over (b, h, i) of the keys row i sees: the pair count of the FLOP model (docs/design.md, FLOP model). */
export function visiblePairs(problem: AttentionProblem): number {
  const { batch, qHeads, qLength } = problem;
  const range = emptyRowRange();
  const general = problem.generalMask;
  let pairs = 0;
  for (let b = 0; b < batch; b++) {
    // without a general part every head sees the same keys
    const heads = general === null || !general.perHead ? 1 : qHeads;
    let counted = 0;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < qLength; i++) {
        rowRange(problem, b, i, range);
        if (general === null) counted += range.end - range.first;
        else counted += generalPairsInRow(problem, general, b, h, i, range.first, range.end);
      }
    }
    pairs += heads === 1 ? counted * qHeads : counted;
  }
  return pairs;
}

/** Keys in [first, end) the general part lets row i of (b, h) see: whole blocks by class, partial ones by byte. */
function generalPairsInRow(
  problem: AttentionProblem,
  general: BlockMask,
  b: number,
  h: number,
  i: number,
  first: number,
  end: number,
): number {
  let count = 0;
  for (let kb = Math.floor(first / MASK_BLOCK); kb * MASK_BLOCK < end; kb++) {
    const c0 = Math.max(first, kb * MASK_BLOCK);
    const c1 = Math.min(end, (kb + 1) * MASK_BLOCK);
    const index = blockIndex(general, problem, b, h, Math.floor(i / MASK_BLOCK), kb);
    const cls = general.classes[index]!;
    if (cls === BLOCK_FULL) count += c1 - c0;
    else if (cls === BLOCK_PARTIAL) {
      const base = general.partialAt[index]! * MASK_BLOCK * MASK_BLOCK + (i % MASK_BLOCK) * MASK_BLOCK;
      for (let j = c0; j < c1; j++) count += general.bits[base + (j % MASK_BLOCK)]!;
    }
  }
  return count;
}
