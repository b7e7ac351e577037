/**
 * Mask semantics (docs/design.md, Masks), the single source of truth every variant and test materialises.
 * Bottom-right aligned (flash-attention >= 2.1): query i sits at key position p = i + Lk − Lq and
 * sees key j iff j < validKeys and p − left <= j <= p + right (causal: right = 0). The visible keys
 * of a row are therefore one contiguous range [firstVisibleKey, visibleKeyEnd), possibly empty.
 * Predicates are FlexAttention-style (b, h, qIdx, kvIdx) → boolean, composed with andMasks.
 * Time O(1) per predicate call; materializeMask / maskToString O(Lq·Lk).
 */
import type { AttentionProblem } from './types.js';

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

/** Causal (GPT) mask, bottom-right aligned: query i sees keys j <= i + Lk − Lq. */
export function causalMask(qLength: number, kvLength: number): MaskPredicate {
  return windowMask(qLength, kvLength, Number.POSITIVE_INFINITY, 0);
}

/** Band mask: query i sees keys in [p − left, p + right] (Infinity = unbounded on that side). */
export function windowMask(qLength: number, kvLength: number, left: number, right: number): MaskPredicate {
  return (_b, _h, qIdx, kvIdx) => isVisible(qIdx, kvIdx, qLength, kvLength, left, right, kvLength);
}

/** Padding mask: batch entry b sees keys j < kvLengths[b]. */
export function kvLengthMask(kvLengths: ArrayLike<number>): MaskPredicate {
  return (b, _h, _qIdx, kvIdx) => kvIdx < kvLengths[b]!;
}

/** Visible iff every mask says visible (no masks: everything visible). */
export function andMasks(...masks: MaskPredicate[]): MaskPredicate {
  return (b, h, qIdx, kvIdx) => {
    for (const mask of masks) if (!mask(b, h, qIdx, kvIdx)) return false;
    return true;
  };
}

/** The mask a validated problem applies (window with causal folded in, and kvLengths). */
export function maskForProblem(problem: AttentionProblem): MaskPredicate {
  const { qLength, kvLength, windowLeft, windowRight, validKeys } = problem;
  return (b, _h, qIdx, kvIdx) =>
    isVisible(qIdx, kvIdx, qLength, kvLength, windowLeft, windowRight, validKeys[b]!);
}

/** The mask of one (b, h) as bytes, row-major [Lq, Lk]: 1 = visible. */
export function materializeMask(
  mask: MaskPredicate,
  qLength: number,
  kvLength: number,
  b = 0,
  h = 0,
): Uint8Array {
  const bytes = new Uint8Array(qLength * kvLength);
  for (let i = 0; i < qLength; i++) {
    for (let j = 0; j < kvLength; j++) bytes[i * kvLength + j] = mask(b, h, i, j) ? 1 : 0;
  }
  return bytes;
}

/** An ASCII picture of one (b, h): '#' visible, '.' hidden, one line per query. */
export function maskToString(mask: MaskPredicate, qLength: number, kvLength: number, b = 0, h = 0): string {
  const lines: string[] = [];
  for (let i = 0; i < qLength; i++) {
    let line = '';
    for (let j = 0; j < kvLength; j++) line += mask(b, h, i, j) ? '#' : '.';
    lines.push(line);
  }
  return lines.join('\n');
}

/** Σ over (b, h, i) of the keys row i sees: the pair count of the FLOP model (docs/design.md, FLOP model). */
export function visiblePairs(problem: AttentionProblem): number {
  const { batch, qHeads, qLength, kvLength, windowLeft, windowRight, validKeys } = problem;
  let pairs = 0;
  for (let b = 0; b < batch; b++) {
    let perHead = 0;
    for (let i = 0; i < qLength; i++) {
      const first = firstVisibleKey(i, qLength, kvLength, windowLeft);
      const end = visibleKeyEnd(i, qLength, kvLength, windowRight, validKeys[b]!);
      if (end > first) perHead += end - first;
    }
    pairs += perHead * qHeads;
  }
  return pairs;
}
