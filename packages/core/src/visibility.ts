/**
 * Which keys a row of a parsed call sees (docs/design.md, Masks), the single source of truth for the
 * oracle, the FLOP model and every kernel. A call's mask has two parts:
 *   - the RANGE part, where every row sees one contiguous key range [first, end): causal, window and
 *     kvLengths (options), and the top-level document, prefix-LM, window and kvLengths terms of the
 *     `mask` option. rowRange computes it in O(log documents);
 *   - the GENERAL part: every other term (global tokens, block-sparse, predicates, or/not), compiled
 *     once per call shape into a BlockMask: each MASK_BLOCK × MASK_BLOCK block of (query, key) is
 *     empty, full or partial, and a partial block keeps one byte per element. Tiled kernels skip empty
 *     blocks, run full ones unmasked and mask only partial ones.
 * A key is visible iff both parts say so. The compiled BlockMask is cached per mask value (object
 * identity: mask values are immutable) and call shape (B, Hq, Lq, Lk and the document offsets), the
 * last MASK_CACHE_SHAPES shapes per value, so a predicate is evaluated once per shape, not per call.
 *
 * Costs: compiling the general part O(groups · (Lq/64 · Lk/64) · 64) to classify plus 64² per block a
 * classifier cannot decide (every block of a predicate, once); memory one byte per block plus 4 KiB
 * per partial block per group (groups = heads × batch entries a predicate distinguishes, else 1).
 */
import { AttentionInputError, describeValue } from './errors.js';
import {
  type AttentionMask,
  type BlockSparseMask,
  type DocumentMask,
  type GlobalTokensMask,
  isAttentionMask,
} from './mask-values.js';
import type { AttentionProblem } from './types.js';

/** Side of a general mask's blocks (rows and keys). */
export const MASK_BLOCK = 64;
/** Shapes remembered per mask value (a decoder's growing Lk must not grow the cache without end). */
export const MASK_CACHE_SHAPES = 8;

export const BLOCK_EMPTY = 0;
export const BLOCK_FULL = 1;
export const BLOCK_PARTIAL = 2;

/** Queries and keys packed in documents: query document d is rows [q[d], q[d+1]), its keys [kv[d], kv[d+1]). */
export interface ProblemDocuments {
  readonly q: readonly number[];
  readonly kv: readonly number[];
}

/**
 * The general part of a call's mask, compiled (plain typed arrays: it crosses to pool workers).
 * Block (g, qb, kb) is classes[(g · qBlocks + qb) · kBlocks + kb]; a partial block's bytes start at
 * partialAt[same index] · MASK_BLOCK² in `bits`, row-major MASK_BLOCK × MASK_BLOCK, 1 = visible.
 * Group g = (perBatch ? b : 0) · (perHead ? Hq : 1) + (perHead ? h : 0).
 */
export interface BlockMask {
  readonly qBlocks: number;
  readonly kBlocks: number;
  readonly perBatch: boolean;
  readonly perHead: boolean;
  readonly classes: Uint8Array;
  readonly partialAt: Int32Array;
  readonly bits: Uint8Array;
}

/** The range part of a mask option, folded (what AttentionProblem keeps of it). */
export interface FoldedMask {
  documents: DocumentMask | null;
  /** min over prefix-LM terms; −1 when there is none. */
  prefixLength: number;
  windowLeft: number;
  windowRight: number;
  /** Per-batch key limits of kvLengths terms (null when there is none). */
  kvLimits: number[] | null;
  /** The terms left for the general part. */
  general: AttentionMask[];
}

/** Splits a mask option into its range part and the general terms (top-level ands are flattened). */
export function foldMask(mask: AttentionMask): FoldedMask {
  const folded: FoldedMask = {
    documents: null,
    prefixLength: -1,
    windowLeft: Number.POSITIVE_INFINITY,
    windowRight: Number.POSITIVE_INFINITY,
    kvLimits: null,
    general: [],
  };
  const visit = (term: AttentionMask) => {
    switch (term.kind) {
      case 'and':
        for (const inner of term.masks) visit(inner);
        return;
      case 'document':
        if (folded.documents === null) folded.documents = term;
        else folded.general.push(term);
        return;
      case 'prefixLM':
        folded.prefixLength =
          folded.prefixLength < 0 ? term.prefixLength : Math.min(folded.prefixLength, term.prefixLength);
        return;
      case 'window':
        folded.windowLeft = Math.min(folded.windowLeft, term.left);
        folded.windowRight = Math.min(folded.windowRight, term.right);
        return;
      case 'kvLengths':
        folded.kvLimits = folded.kvLimits
          ? folded.kvLimits.map((x, b) => Math.min(x, term.lengths[b] ?? x))
          : [...term.lengths];
        return;
      default:
        folded.general.push(term);
    }
  };
  visit(mask);
  return folded;
}

function maskError(expected: string, received: string, fix: string): never {
  throw new AttentionInputError('options.mask', expected, received, fix);
}

/** The call-dependent rules of a mask value (offsets sum to Lq and Lk, a layout covers the blocks, …). */
export function checkMaskFits(
  mask: AttentionMask,
  dims: { batch: number; qLength: number; kvLength: number },
): void {
  const { batch, qLength, kvLength } = dims;
  switch (mask.kind) {
    case 'document': {
      const lastQ = mask.qOffsets.at(-1)!;
      const lastKv = mask.kvOffsets.at(-1)!;
      if (lastQ !== qLength) {
        maskError(
          `document offsets ending at Lq = ${qLength}`,
          `offsets ending at ${lastQ}`,
          'The last offset is the packed length: documentMask(offsets) needs Lq = Lk = offsets.at(-1); pass documentMask(qOffsets, kvOffsets) when they differ.',
        );
      }
      if (lastKv !== kvLength) {
        maskError(
          `key offsets ending at Lk = ${kvLength}`,
          `offsets ending at ${lastKv}`,
          'Pass documentMask(qOffsets, kvOffsets) when queries and keys are packed differently.',
        );
      }
      return;
    }
    case 'prefixLM':
      if (mask.prefixLength > kvLength) {
        maskError(
          `a prefix length <= Lk = ${kvLength}`,
          `${mask.prefixLength}`,
          'The prefix is counted in keys.',
        );
      }
      return;
    case 'globalTokens':
      if (mask.indices.length > 0 && mask.indices.at(-1)! >= kvLength) {
        maskError(
          `global token indices < Lk = ${kvLength}`,
          `index ${mask.indices.at(-1)}`,
          'Global tokens are named by key index.',
        );
      }
      return;
    case 'blockSparse': {
      const rows = Math.ceil(qLength / mask.blockQ);
      const cols = Math.ceil(kvLength / mask.blockK);
      if (mask.layoutRows !== rows || mask.layoutCols !== cols) {
        maskError(
          `a layout of ${rows} × ${cols} blocks (ceil(Lq / ${mask.blockQ}) × ceil(Lk / ${mask.blockK}))`,
          `${mask.layoutRows} × ${mask.layoutCols}`,
          'One layout row per query block, one column per key block.',
        );
      }
      return;
    }
    case 'kvLengths':
      if (mask.lengths.length !== batch || mask.lengths.some((n) => n > kvLength)) {
        maskError(
          `${batch} lengths (one per batch entry) in [0, ${kvLength}]`,
          describeValue(mask.lengths),
          'kvLengthMask counts the valid keys of each batch entry.',
        );
      }
      return;
    case 'and':
    case 'or':
      for (const inner of mask.masks) checkMaskFits(inner, dims);
      return;
    case 'not':
      checkMaskFits(mask.mask, dims);
      return;
    default:
      return;
  }
}

/** Index of the document holding row (or key) x: the last d with offsets[d] <= x, skipping empty documents. */
export function documentOf(offsets: readonly number[], x: number): number {
  let lo = 0;
  let hi = offsets.length - 2; // documents 0 .. D − 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** p(i): the key position of query row i (bottom-right aligned, per document under a document mask). */
export function queryPosition(
  problem: Pick<AttentionProblem, 'qLength' | 'kvLength' | 'documents'>,
  i: number,
): number {
  const docs = problem.documents;
  if (docs === null) return i + problem.kvLength - problem.qLength;
  const d = documentOf(docs.q, i);
  const qs = docs.q[d]!;
  const ks = docs.kv[d]!;
  return ks + (i - qs) + (docs.kv[d + 1]! - ks) - (docs.q[d + 1]! - qs);
}

/** A row's visible range (reused by callers: nothing is allocated per row). */
export interface RowRange {
  first: number;
  end: number;
}

export function emptyRowRange(): RowRange {
  return { first: 0, end: 0 };
}

/**
 * The range part of row i of batch entry b: keys [first, end) (end == first when it sees none):
 * its document's keys ∩ [p − left, p + right] ∩ [0, validKeys[b]) ∩ prefix-LM's [0, max(P, p + 1)).
 */
export function rowRange(problem: AttentionProblem, b: number, i: number, into: RowRange): RowRange {
  let first = 0;
  let end = problem.validKeys[b]!;
  let p: number;
  const docs = problem.documents;
  if (docs === null) p = i + problem.kvLength - problem.qLength;
  else {
    const d = documentOf(docs.q, i);
    const qs = docs.q[d]!;
    const ks = docs.kv[d]!;
    const ke = docs.kv[d + 1]!;
    p = ks + (i - qs) + (ke - ks) - (docs.q[d + 1]! - qs);
    first = ks;
    if (ke < end) end = ke;
  }
  if (p - problem.windowLeft > first) first = p - problem.windowLeft;
  if (p + problem.windowRight + 1 < end) end = p + problem.windowRight + 1;
  if (problem.prefixLength >= 0) {
    const reach = Math.max(problem.prefixLength, p + 1);
    if (reach < end) end = reach;
  }
  into.first = first;
  into.end = end > first ? end : first;
  return into;
}

/** Index of block (qb, kb) of (b, h) into classes and partialAt. */
export function blockIndex(
  mask: BlockMask,
  problem: AttentionProblem,
  b: number,
  h: number,
  qb: number,
  kb: number,
): number {
  const group = (mask.perBatch ? b : 0) * (mask.perHead ? problem.qHeads : 1) + (mask.perHead ? h : 0);
  return (group * mask.qBlocks + qb) * mask.kBlocks + kb;
}

/** Whether the general part lets row i of (b, h) see key j (true when the call has no general part). */
export function generalAllows(
  problem: AttentionProblem,
  b: number,
  h: number,
  i: number,
  j: number,
): boolean {
  const mask = problem.generalMask;
  if (mask === null) return true;
  const qb = Math.floor(i / MASK_BLOCK);
  const kb = Math.floor(j / MASK_BLOCK);
  const index = blockIndex(mask, problem, b, h, qb, kb);
  const cls = mask.classes[index]!;
  if (cls !== BLOCK_PARTIAL) return cls === BLOCK_FULL;
  return (
    mask.bits[
      mask.partialAt[index]! * MASK_BLOCK * MASK_BLOCK + (i % MASK_BLOCK) * MASK_BLOCK + (j % MASK_BLOCK)
    ] === 1
  );
}

const scratchRange = emptyRowRange();

/** Whether row i of (b, h) sees key j: the whole mask of the call (both parts). */
export function isVisibleIn(problem: AttentionProblem, b: number, h: number, i: number, j: number): boolean {
  rowRange(problem, b, i, scratchRange);
  return j >= scratchRange.first && j < scratchRange.end && generalAllows(problem, b, h, i, j);
}

// ---------------------------------------------------------------------------------------------
// Compiling the general part.

interface CompileContext {
  readonly problem: AttentionProblem;
  /** p(i) per query row. */
  readonly positions: Int32Array;
  /** Per global-tokens term: 1 at its key indices (length Lk), and its prefix counts (length Lk + 1). */
  readonly globals: Map<GlobalTokensMask, { marks: Uint8Array; counts: Int32Array }>;
}

function globalsOf(context: CompileContext, mask: GlobalTokensMask) {
  let entry = context.globals.get(mask);
  if (!entry) {
    const lk = context.problem.kvLength;
    const marks = new Uint8Array(lk);
    for (const index of mask.indices) marks[index] = 1;
    const counts = new Int32Array(lk + 1);
    for (let j = 0; j < lk; j++) counts[j + 1] = counts[j]! + marks[j]!;
    entry = { marks, counts };
    context.globals.set(mask, entry);
  }
  return entry;
}

/** Element rule of a general term. */
function allows(
  context: CompileContext,
  mask: AttentionMask,
  b: number,
  h: number,
  i: number,
  j: number,
): boolean {
  switch (mask.kind) {
    case 'document':
      return documentOf(mask.qOffsets, i) === documentOf(mask.kvOffsets, j) && j < mask.kvOffsets.at(-1)!;
    case 'prefixLM':
      return j < mask.prefixLength || j <= context.positions[i]!;
    case 'window': {
      const p = context.positions[i]!;
      return j >= p - mask.left && j <= p + mask.right;
    }
    case 'kvLengths':
      return j < mask.lengths[b]!;
    case 'globalTokens': {
      const { marks } = globalsOf(context, mask);
      const p = context.positions[i]!;
      return marks[j] === 1 || (p >= 0 && p < marks.length && marks[p] === 1);
    }
    case 'blockSparse':
      return mask.layout[Math.floor(i / mask.blockQ) * mask.layoutCols + Math.floor(j / mask.blockK)] === 1;
    case 'predicate': {
      const seen = mask.predicate(b, h, i, j);
      if (seen !== true && seen !== false) {
        throw new AttentionInputError(
          'options.mask',
          'a predicate returning true or false',
          `${describeValue(seen)} for (b, h, i, j) = (${b}, ${h}, ${i}, ${j})`,
          'Return a boolean: true = visible.',
        );
      }
      return seen;
    }
    case 'and':
      for (const inner of mask.masks) if (!allows(context, inner, b, h, i, j)) return false;
      return true;
    case 'or':
      for (const inner of mask.masks) if (allows(context, inner, b, h, i, j)) return true;
      return false;
    case 'not':
      return !allows(context, mask.mask, b, h, i, j);
  }
}

/** Class of a range-per-row rule over rows [r0, r1) and keys [c0, c1). */
function classifyRanges(
  r0: number,
  r1: number,
  c0: number,
  c1: number,
  range: (i: number) => readonly [number, number],
): number {
  let full = true;
  let empty = true;
  for (let i = r0; i < r1; i++) {
    const [first, end] = range(i);
    if (first <= c0 && end >= c1) empty = false;
    else {
      full = false;
      if (Math.max(first, c0) < Math.min(end, c1)) empty = false;
    }
    if (!full && !empty) return BLOCK_PARTIAL;
  }
  return full ? BLOCK_FULL : empty ? BLOCK_EMPTY : BLOCK_PARTIAL;
}

/** Class of a general term over rows [r0, r1) and keys [c0, c1), or BLOCK_PARTIAL when only its elements can tell. */
function classify(
  context: CompileContext,
  mask: AttentionMask,
  b: number,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
): number {
  const { positions } = context;
  switch (mask.kind) {
    case 'document':
      return classifyRanges(r0, r1, c0, c1, (i) => {
        const d = documentOf(mask.qOffsets, i);
        return [mask.kvOffsets[d]!, mask.kvOffsets[d + 1]!];
      });
    case 'prefixLM':
      return classifyRanges(r0, r1, c0, c1, (i) => [0, Math.max(mask.prefixLength, positions[i]! + 1)]);
    case 'window':
      return classifyRanges(r0, r1, c0, c1, (i) => [
        positions[i]! - mask.left,
        positions[i]! + mask.right + 1,
      ]);
    case 'kvLengths': {
      const n = mask.lengths[b]!;
      return c1 <= n ? BLOCK_FULL : c0 >= n ? BLOCK_EMPTY : BLOCK_PARTIAL;
    }
    case 'globalTokens': {
      const { marks, counts } = globalsOf(context, mask);
      const globalKeys = counts[c1]! - counts[c0]!;
      if (globalKeys === c1 - c0) return BLOCK_FULL;
      let globalRows = 0;
      for (let i = r0; i < r1; i++) {
        const p = positions[i]!;
        if (p >= 0 && p < marks.length && marks[p] === 1) globalRows++;
      }
      if (globalRows === r1 - r0) return BLOCK_FULL;
      return globalRows === 0 && globalKeys === 0 ? BLOCK_EMPTY : BLOCK_PARTIAL;
    }
    case 'blockSparse':
      return classifyLayout(mask, r0, r1, c0, c1);
    case 'predicate':
      return BLOCK_PARTIAL;
    case 'and': {
      let all = true;
      for (const inner of mask.masks) {
        const cls = classify(context, inner, b, r0, r1, c0, c1);
        if (cls === BLOCK_EMPTY) return BLOCK_EMPTY;
        if (cls !== BLOCK_FULL) all = false;
      }
      return all ? BLOCK_FULL : BLOCK_PARTIAL;
    }
    case 'or': {
      let none = true;
      for (const inner of mask.masks) {
        const cls = classify(context, inner, b, r0, r1, c0, c1);
        if (cls === BLOCK_FULL) return BLOCK_FULL;
        if (cls !== BLOCK_EMPTY) none = false;
      }
      return none ? BLOCK_EMPTY : BLOCK_PARTIAL;
    }
    case 'not': {
      const cls = classify(context, mask.mask, b, r0, r1, c0, c1);
      return cls === BLOCK_FULL ? BLOCK_EMPTY : cls === BLOCK_EMPTY ? BLOCK_FULL : BLOCK_PARTIAL;
    }
  }
}

function classifyLayout(mask: BlockSparseMask, r0: number, r1: number, c0: number, c1: number): number {
  let any = false;
  let all = true;
  for (let qb = Math.floor(r0 / mask.blockQ); qb <= Math.floor((r1 - 1) / mask.blockQ); qb++) {
    for (let kb = Math.floor(c0 / mask.blockK); kb <= Math.floor((c1 - 1) / mask.blockK); kb++) {
      if (mask.layout[qb * mask.layoutCols + kb] === 1) any = true;
      else all = false;
    }
  }
  return all ? BLOCK_FULL : any ? BLOCK_PARTIAL : BLOCK_EMPTY;
}

/** Which groups the general terms tell apart: per head / per batch entry only when a term reads h / b. */
function groupsOf(mask: AttentionMask): { perHead: boolean; perBatch: boolean } {
  switch (mask.kind) {
    case 'predicate':
      return { perHead: !mask.sameForEveryHead, perBatch: !mask.sameForEveryBatch };
    case 'kvLengths':
      return { perHead: false, perBatch: true };
    case 'and':
    case 'or': {
      const parts = mask.masks.map(groupsOf);
      return { perHead: parts.some((p) => p.perHead), perBatch: parts.some((p) => p.perBatch) };
    }
    case 'not':
      return groupsOf(mask.mask);
    default:
      return { perHead: false, perBatch: false };
  }
}

/** Compiles general terms for a problem whose range part is set (positions come from it). */
export function compileGeneralMask(problem: AttentionProblem, general: AttentionMask): BlockMask {
  const { qLength, kvLength } = problem;
  const positions = new Int32Array(qLength);
  for (let i = 0; i < qLength; i++) positions[i] = queryPosition(problem, i);
  const context: CompileContext = { problem, positions, globals: new Map() };
  const { perHead, perBatch } = groupsOf(general);
  const qBlocks = Math.ceil(qLength / MASK_BLOCK);
  const kBlocks = Math.ceil(kvLength / MASK_BLOCK);
  const groups = (perBatch ? problem.batch : 1) * (perHead ? problem.qHeads : 1);
  const classes = new Uint8Array(groups * qBlocks * kBlocks);
  const partialAt = new Int32Array(classes.length).fill(-1);
  const area = MASK_BLOCK * MASK_BLOCK;
  let bits = new Uint8Array(area * 16);
  let partials = 0;
  const block = new Uint8Array(area);
  for (let g = 0; g < groups; g++) {
    const b = perBatch ? Math.floor(g / (perHead ? problem.qHeads : 1)) : 0;
    const h = perHead ? g % problem.qHeads : 0;
    for (let qb = 0; qb < qBlocks; qb++) {
      const r0 = qb * MASK_BLOCK;
      const r1 = Math.min(qLength, r0 + MASK_BLOCK);
      for (let kb = 0; kb < kBlocks; kb++) {
        const c0 = kb * MASK_BLOCK;
        const c1 = Math.min(kvLength, c0 + MASK_BLOCK);
        const index = (g * qBlocks + qb) * kBlocks + kb;
        let cls = classify(context, general, b, r0, r1, c0, c1);
        if (cls === BLOCK_PARTIAL) {
          // decide element by element; a block that turns out all visible or all hidden keeps no bytes
          block.fill(0);
          let seen = 0;
          for (let i = r0; i < r1; i++) {
            for (let j = c0; j < c1; j++) {
              if (allows(context, general, b, h, i, j)) {
                block[(i - r0) * MASK_BLOCK + (j - c0)] = 1;
                seen++;
              }
            }
          }
          if (seen === 0) cls = BLOCK_EMPTY;
          else if (seen === (r1 - r0) * (c1 - c0)) cls = BLOCK_FULL;
          else {
            if ((partials + 1) * area > bits.length) {
              const grown = new Uint8Array(bits.length * 2);
              grown.set(bits);
              bits = grown;
            }
            bits.set(block, partials * area);
            partialAt[index] = partials++;
          }
        }
        classes[index] = cls;
      }
    }
  }
  return { qBlocks, kBlocks, perBatch, perHead, classes, partialAt, bits: bits.slice(0, partials * area) };
}

/**
 * A mask value alone as a predicate (for pictures and tests): its top-level document term sets the
 * positions, every term is evaluated by its element rule. Time O(terms) per element.
 */
export function evaluateMask(
  mask: AttentionMask,
  qLength: number,
  kvLength: number,
): (b: number, h: number, i: number, j: number) => boolean {
  const docs = foldMask(mask).documents;
  const documents = docs ? { q: docs.qOffsets, kv: docs.kvOffsets } : null;
  const positions = new Int32Array(qLength);
  for (let i = 0; i < qLength; i++) positions[i] = queryPosition({ qLength, kvLength, documents }, i);
  const context: CompileContext = {
    problem: { kvLength } as AttentionProblem,
    positions,
    globals: new Map(),
  };
  return (b, h, i, j) => allows(context, mask, b, h, i, j);
}

// ---------------------------------------------------------------------------------------------
// The cache of compiled general parts.

function shapeKey(problem: AttentionProblem): string {
  const docs = problem.documents;
  return `${problem.batch}|${problem.qHeads}|${problem.qLength}|${problem.kvLength}|${
    docs ? `${docs.q.join(',')}/${docs.kv.join(',')}` : ''
  }`;
}

const compiled = new WeakMap<AttentionMask, Map<string, BlockMask>>();

/** compileGeneralMask, cached per mask value and call shape (see the file header). */
export function cachedGeneralMask(
  problem: AttentionProblem,
  owner: AttentionMask,
  general: AttentionMask,
): BlockMask {
  const key = shapeKey(problem);
  let shapes = compiled.get(owner);
  if (!shapes) {
    shapes = new Map();
    compiled.set(owner, shapes);
  }
  const hit = shapes.get(key);
  if (hit) return hit;
  const result = compileGeneralMask(problem, general);
  if (shapes.size >= MASK_CACHE_SHAPES) shapes.delete(shapes.keys().next().value!);
  shapes.set(key, result);
  return result;
}

/** True when the general part of `mask` for this shape is already compiled (the harness reports first-call cost). */
export function isMaskCompiled(mask: AttentionMask, problem: AttentionProblem): boolean {
  if (!isAttentionMask(mask)) return false;
  return compiled.get(mask)?.has(shapeKey(problem)) ?? false;
}
