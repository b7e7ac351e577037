/**
 * Masks as values (docs/design.md, Masks): immutable descriptions of which keys each query sees,
 * passed through the `mask` option and ANDed with `causal`, `window` and `kvLengths`. Each is plain
 * data (a predicate mask carries its function), built by the constructors below, which check their
 * own arguments; what depends on the call (offsets summing to Lq and Lk, a layout covering the
 * blocks) is checked when a call parses its options (visibility.ts).
 *
 * Coordinates: i is the query row, j the key index, and p(i) the query's key position: i + Lk − Lq,
 * or, under a document mask, the position inside its own document aligned bottom-right
 * (ks + (i − qs) + (klen − qlen), an absolute key index). causal, window, prefix-LM, global
 * tokens and ALiBi all read p(i).
 */
import { AttentionInputError, describeValue } from './errors.js';
import type { MaskPredicate } from './masks.js';

/** Packed sequences (flash-attention's cu_seqlens): query document d is rows [q[d], q[d+1]), its keys [kv[d], kv[d+1]). */
export interface DocumentMask {
  readonly kind: 'document';
  readonly qOffsets: readonly number[];
  readonly kvOffsets: readonly number[];
}
/** Bidirectional over keys [0, prefixLength), causal after: visible iff j < prefixLength or j <= p(i). */
export interface PrefixLMMask {
  readonly kind: 'prefixLM';
  readonly prefixLength: number;
}
/** Longformer's global tokens (key indices): visible iff p(i) or j is one of them. */
export interface GlobalTokensMask {
  readonly kind: 'globalTokens';
  readonly indices: readonly number[];
}
/** A boolean layout over query blocks × key blocks (row-major, 1 = visible): BigBird and fixed sparse patterns. */
export interface BlockSparseMask {
  readonly kind: 'blockSparse';
  readonly layout: Uint8Array;
  readonly layoutRows: number;
  readonly layoutCols: number;
  readonly blockQ: number;
  readonly blockK: number;
}
/** The band [p(i) − left, p(i) + right] as a value (the `window` option's rule; Infinity = unbounded). */
export interface WindowMask {
  readonly kind: 'window';
  readonly left: number;
  readonly right: number;
}
/** Padding as a value: batch entry b sees keys j < lengths[b] (the `kvLengths` option's rule). */
export interface KvLengthsMask {
  readonly kind: 'kvLengths';
  readonly lengths: readonly number[];
}
/** Anything else: evaluated once per element to classify tiles, cached per shape (visibility.ts). */
export interface PredicateMask {
  readonly kind: 'predicate';
  readonly predicate: MaskPredicate;
  /** false: the predicate reads h and may differ between heads (evaluated per head). */
  readonly sameForEveryHead: boolean;
  /** false: it reads b and may differ between batch entries (evaluated per entry). */
  readonly sameForEveryBatch: boolean;
}
export interface AndMask {
  readonly kind: 'and';
  readonly masks: readonly AttentionMask[];
}
export interface OrMask {
  readonly kind: 'or';
  readonly masks: readonly AttentionMask[];
}
export interface NotMask {
  readonly kind: 'not';
  readonly mask: AttentionMask;
}

export type AttentionMask =
  | DocumentMask
  | PrefixLMMask
  | GlobalTokensMask
  | BlockSparseMask
  | WindowMask
  | KvLengthsMask
  | PredicateMask
  | AndMask
  | OrMask
  | NotMask;

/** True for a value made by this module's constructors (the `mask` option's schema check). */
export function isAttentionMask(value: unknown): value is AttentionMask {
  return typeof value === 'object' && value !== null && MADE.has(value as object);
}

// Values this module made: a mask is immutable and checked once, when it is built.
const MADE = new WeakSet<object>();

function made<T extends AttentionMask>(mask: T): T {
  Object.freeze(mask);
  MADE.add(mask);
  return mask;
}

function bad(argument: string, expected: string, received: unknown, fix?: string): never {
  throw new AttentionInputError(argument, expected, describeValue(received), fix);
}

function isCount(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0;
}

function offsetsOf(value: unknown, argument: string): number[] {
  const ok =
    (Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))) &&
    (value as ArrayLike<unknown>).length >= 2;
  if (!ok) bad(argument, 'an array of offsets [0, l1, l1 + l2, …, T] (at least 2 entries)', value);
  const offsets = Array.from(value as ArrayLike<number>, Number);
  if (offsets[0] !== 0) bad(argument, 'offsets starting at 0', value, 'The first document starts at row 0.');
  for (let d = 1; d < offsets.length; d++) {
    if (!isCount(offsets[d]) || offsets[d]! < offsets[d - 1]!) {
      bad(
        argument,
        'non-decreasing integer offsets (a document may be empty)',
        value,
        `offsets[${d}] = ${offsets[d]} is below offsets[${d - 1}] = ${offsets[d - 1]} or not an integer.`,
      );
    }
  }
  return offsets;
}

/**
 * Packed documents: tokens see only their own document; causal and window apply inside each document,
 * bottom-right aligned per document (flash-attention's varlen functions). One offsets array when
 * queries and keys are packed alike (Lq = Lk = offsets.at(-1)); two when they differ (decoding several
 * sequences at once: qOffsets.at(-1) = Lq, kvOffsets.at(-1) = Lk, the same number of documents).
 */
export function documentMask(offsets: ArrayLike<number>, kvOffsets?: ArrayLike<number>): DocumentMask {
  const q = offsetsOf(offsets, kvOffsets === undefined ? 'offsets' : 'qOffsets');
  const kv = kvOffsets === undefined ? q : offsetsOf(kvOffsets, 'kvOffsets');
  if (kv.length !== q.length) {
    bad(
      'kvOffsets',
      `${q.length} offsets (as qOffsets: one document each)`,
      kvOffsets,
      'Query and key offsets describe the same documents.',
    );
  }
  return made({ kind: 'document', qOffsets: Object.freeze(q), kvOffsets: Object.freeze(kv) });
}

/** Prefix-LM (T5, UniLM): bidirectional over keys [0, prefixLength), causal after it. Use with causal: false. */
export function prefixLMMask(prefixLength: number): PrefixLMMask {
  if (!isCount(prefixLength)) bad('prefixLength', 'a non-negative integer', prefixLength);
  return made({ kind: 'prefixLM', prefixLength });
}

/** Global tokens (Longformer) at these key indices: they see every key and every query sees them. */
export function globalTokensMask(indices: ArrayLike<number>): GlobalTokensMask {
  const list = Array.from(indices ?? [], Number);
  if (!Array.isArray(indices) && !ArrayBuffer.isView(indices))
    bad('indices', 'an array of key indices', indices);
  for (const index of list) if (!isCount(index)) bad('indices', 'non-negative integer key indices', indices);
  const sorted = [...new Set(list)].sort((a, b) => a - b);
  return made({ kind: 'globalTokens', indices: Object.freeze(sorted) });
}

/**
 * Block-sparse attention: `layout[qb][kb]` (booleans or 0/1; an array of rows or a flat array with
 * `layoutCols` given by the rows) says whether query block qb sees key block kb. Blocks are
 * blockQ rows × blockK keys; the layout must cover ceil(Lq / blockQ) × ceil(Lk / blockK) blocks.
 */
export function blockSparseMask(
  layout: readonly (readonly (boolean | number)[])[],
  blockQ: number,
  blockK: number = blockQ,
): BlockSparseMask {
  if (!isCount(blockQ) || blockQ === 0) bad('blockQ', 'a positive integer', blockQ);
  if (!isCount(blockK) || blockK === 0) bad('blockK', 'a positive integer', blockK);
  if (!Array.isArray(layout) || layout.length === 0 || !layout.every((row) => Array.isArray(row))) {
    bad('layout', 'a non-empty array of rows of booleans (query blocks × key blocks)', layout);
  }
  const cols = layout[0]!.length;
  if (cols === 0 || !layout.every((row) => row.length === cols)) {
    bad('layout', `rows of equal, non-zero length (${cols} as the first row)`, layout);
  }
  const flat = new Uint8Array(layout.length * cols);
  layout.forEach((row, r) => {
    row.forEach((cell, c) => {
      if (cell !== true && cell !== false && cell !== 0 && cell !== 1) {
        bad('layout', 'booleans or 0/1', cell, `layout[${r}][${c}] is neither.`);
      }
      flat[r * cols + c] = cell ? 1 : 0;
    });
  });
  return made({
    kind: 'blockSparse',
    layout: flat,
    layoutRows: layout.length,
    layoutCols: cols,
    blockQ,
    blockK,
  });
}

/** The band [p(i) − left, p(i) + right] as a mask value, for compositions (orMasks(windowMask(…), globalTokensMask(…))). */
export function windowMask(left: number, right: number): WindowMask {
  const bound = (x: unknown) => x === Number.POSITIVE_INFINITY || isCount(x);
  if (!bound(left)) bad('left', 'a non-negative integer or Infinity', left);
  if (!bound(right)) bad('right', 'a non-negative integer or Infinity', right);
  return made({ kind: 'window', left, right });
}

/** The causal mask as a value: windowMask(Infinity, 0). */
export function causalMask(): WindowMask {
  return windowMask(Number.POSITIVE_INFINITY, 0);
}

/** Padding as a mask value: batch entry b sees keys j < lengths[b]. */
export function kvLengthMask(lengths: ArrayLike<number>): KvLengthsMask {
  const list = Array.from(lengths ?? [], Number);
  if (list.length === 0 || !list.every(isCount)) {
    bad('lengths', 'a non-empty array of non-negative integers (one per batch entry)', lengths);
  }
  return made({ kind: 'kvLengths', lengths: Object.freeze(list) });
}

export interface PredicateMaskOptions {
  /** The predicate ignores h (evaluated once for all heads). Default false. */
  sameForEveryHead?: boolean;
  /** The predicate ignores b (evaluated once for all batch entries). Default false. */
  sameForEveryBatch?: boolean;
}

/**
 * Any mask as a function (b, h, i, j) → boolean (FlexAttention's mask_mod). It must be pure: a call
 * evaluates it once per element and caches the result for the mask value and the call's shape
 * (docs/design.md, Masks), and a tile it classifies as empty or full is never evaluated again.
 * Declaring it the same for every head or batch entry saves evaluating it per head or entry.
 */
export function predicateMask(predicate: MaskPredicate, options: PredicateMaskOptions = {}): PredicateMask {
  if (typeof predicate !== 'function') bad('predicate', 'a function (b, h, i, j) => boolean', predicate);
  const known = new Set(['sameForEveryHead', 'sameForEveryBatch']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) bad(`options.${key}`, 'only sameForEveryHead or sameForEveryBatch', key);
  }
  return made({
    kind: 'predicate',
    predicate,
    sameForEveryHead: options.sameForEveryHead ?? false,
    sameForEveryBatch: options.sameForEveryBatch ?? false,
  });
}

function toMask(value: AttentionMask | MaskPredicate, argument: string): AttentionMask {
  if (typeof value === 'function') return predicateMask(value);
  if (!isAttentionMask(value)) {
    bad(argument, 'a mask value (documentMask, prefixLMMask, …) or a predicate function', value);
  }
  return value;
}

/** Visible iff every mask says so (no masks: everything visible). Functions are taken as predicate masks. */
export function andMasks(...masks: (AttentionMask | MaskPredicate)[]): AndMask {
  return made({ kind: 'and', masks: Object.freeze(masks.map((m, i) => toMask(m, `masks[${i}]`))) });
}

/** Visible iff any mask says so (no masks: nothing visible). */
export function orMasks(...masks: (AttentionMask | MaskPredicate)[]): OrMask {
  return made({ kind: 'or', masks: Object.freeze(masks.map((m, i) => toMask(m, `masks[${i}]`))) });
}

/** Visible iff the mask hides it. */
export function notMask(mask: AttentionMask | MaskPredicate): NotMask {
  return made({ kind: 'not', mask: toMask(mask, 'mask') });
}
