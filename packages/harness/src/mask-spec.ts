/**
 * A suite group's mask, as JSON and as core's option values (docs/design.md, Masks). The JSON names
 * what a benchmark varies (causal, a window, packed documents, prefix-LM, a random block-sparse
 * layout, a predicate equal to the causal mask, ALiBi, softcapping, sinks); `maskOptions` turns it
 * into the `causal`, `window`, `mask`, `scoreMod` and `sinks` options of one case's shape.
 *
 * Mask values are compared by identity in core's compile cache (a predicate is classified once per
 * mask value and shape), so a case builds its values ONCE and passes the same objects to every
 * call; each maskOptions call returns fresh values (what the cold first-call measurement needs).
 *
 * Only @attnkit/core and zod here: the module is safe to load in a browser.
 */
import {
  type AttentionMask,
  alibi,
  alibiSlopes,
  andMasks,
  blockSparseMask,
  createRng,
  documentMask,
  type PredicateMask,
  predicateMask,
  prefixLMMask,
  type ScoreMod,
  softcap,
} from '@attnkit/core';
import { z } from 'zod';
import type { CaseShape } from './suite.js';

const positiveInt = z.number().int().positive();
const count = z.number().int().nonnegative();

/** JSON has no Infinity: an unbounded window side is written "inf". */
export const reachSchema = z.union([count, z.literal('inf')]);
export type Reach = z.infer<typeof reachSchema>;

/** Packed documents: `{ "equal": k }` (k documents of N / k tokens) or explicit offsets [0, …, N]. */
export const documentsSchema = z.union([
  z.object({ equal: positiveInt }).strict(),
  z
    .array(count)
    .min(2)
    .superRefine((offsets, ctx) => {
      if (offsets[0] !== 0) ctx.addIssue({ code: 'custom', message: 'offsets start at 0' });
      for (let d = 1; d < offsets.length; d++) {
        if (offsets[d]! < offsets[d - 1]!) {
          ctx.addIssue({
            code: 'custom',
            message: `offsets are non-decreasing (offsets[${d}] = ${offsets[d]} < ${offsets[d - 1]})`,
          });
        }
      }
    }),
]);
export type DocumentsSpec = z.infer<typeof documentsSchema>;

/**
 * A deterministic random block-sparse layout: `round(density · blocks)` of the (N/block)² blocks are
 * visible, the diagonal blocks always among them (every query row then sees at least its own block,
 * as in BigBird's and the fixed sparse patterns' local part), the rest drawn with core's seeded rng.
 */
export const blockSparseSchema = z
  .object({
    density: z.number().gt(0).lte(1),
    block: positiveInt.default(64),
    seed: count.default(0),
  })
  .strict();
export type BlockSparseSpec = z.infer<typeof blockSparseSchema>;

export const maskSchema = z
  .object({
    causal: z.boolean().default(false),
    /** Inclusive [left, right] reach around the query's key position (docs/design.md, Masks). */
    window: z.tuple([reachSchema, reachSchema]).optional(),
    /** core's documentMask: tokens see only their own document; causal and window apply inside each. */
    documents: documentsSchema.optional(),
    /** core's prefixLMMask(prefixLM): bidirectional over the first prefixLM keys, causal after. */
    prefixLM: count.optional(),
    blockSparse: blockSparseSchema.optional(),
    /**
     * A predicateMask, the callback path: "causal" is (b, h, i, j) => j <= i + Lk − Lq, the causal
     * mask written as FlexAttention's showcase mask_mod (declared the same for every head and batch
     * entry, as create_block_mask(B=None, H=None)); compare with `causal: true` on the same shape.
     */
    predicate: z.literal('causal').optional(),
    /** core's alibi(alibiSlopes(Hq)): the ALiBi paper's geometric slopes. */
    alibi: z.boolean().optional(),
    /** core's softcap(cap): s = cap · tanh(s / cap). After ALiBi when both are given. */
    softcap: z.number().positive().optional(),
    /** One sink logit per query head, all this value (gpt-oss). */
    sinks: z.number().optional(),
  })
  .strict();
export type MaskSpec = z.infer<typeof maskSchema>;

/** The options a mask spec stands for: what a case passes to every call (and the oracle, sliced). */
export interface MaskOptions {
  causal?: boolean;
  window?: readonly [number, number];
  mask?: AttentionMask;
  scoreMod?: ScoreMod | readonly ScoreMod[];
  sinks?: readonly number[];
}

/** True when the spec uses a mask value or score modifier (more than the causal and window options). */
export function usesMaskValues(mask: MaskSpec): boolean {
  return (
    mask.documents !== undefined ||
    mask.prefixLM !== undefined ||
    mask.blockSparse !== undefined ||
    mask.predicate !== undefined ||
    mask.alibi === true ||
    mask.softcap !== undefined ||
    mask.sinks !== undefined
  );
}

/** True when the spec's mask has a predicate: its classification is compiled per mask value and shape. */
export function hasPredicate(mask: MaskSpec): boolean {
  return mask.predicate !== undefined;
}

/** The document offsets [0, …, length] of a spec on a sequence of `length` tokens. */
export function documentOffsets(documents: DocumentsSpec, length: number): number[] {
  if (Array.isArray(documents)) return [...documents];
  const size = length / documents.equal;
  return Array.from({ length: documents.equal + 1 }, (_, d) => d * size);
}

/** Blocks of the layout a spec gives on Lq × Lk: rows, columns, and how many are visible. */
export function blockSparseCounts(
  spec: BlockSparseSpec,
  qLength: number,
  kvLength: number,
): { rows: number; cols: number; visible: number; diagonal: number } {
  const rows = Math.ceil(qLength / spec.block);
  const cols = Math.ceil(kvLength / spec.block);
  return {
    rows,
    cols,
    visible: Math.round(spec.density * rows * cols),
    diagonal: Math.min(rows, cols),
  };
}

/**
 * The layout (rows of 0/1, query blocks × key blocks): the diagonal, then `visible − diagonal`
 * off-diagonal blocks picked by a partial Fisher–Yates shuffle driven by createRng(seed), so the same
 * spec and shape give the same layout in every process and on every platform.
 */
export function blockSparseLayout(spec: BlockSparseSpec, qLength: number, kvLength: number): number[][] {
  const { rows, cols, visible, diagonal } = blockSparseCounts(spec, qLength, kvLength);
  const layout = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
  const others: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (r === c) layout[r]![c] = 1;
      else others.push(r * cols + c);
    }
  }
  const rng = createRng(spec.seed);
  const extra = Math.max(0, visible - diagonal);
  for (let picked = 0; picked < extra; picked++) {
    const swap = picked + Math.floor(rng.nextFloat() * (others.length - picked));
    const cell = others[swap]!;
    others[swap] = others[picked]!;
    others[picked] = cell;
    layout[Math.floor(cell / cols)]![cell % cols] = 1;
  }
  return layout;
}

/** Why a spec cannot be built for a shape ([] when it can): checked when a suite is parsed. */
export function maskShapeIssues(mask: MaskSpec, shape: CaseShape): string[] {
  const issues: string[] = [];
  const { qLength, kvLength } = shape;
  const selfAttention = qLength === kvLength;
  if (mask.documents !== undefined) {
    if (!selfAttention) {
      issues.push(`documents pack queries and keys alike: Lq = Lk (here ${qLength} and ${kvLength})`);
    } else if (Array.isArray(mask.documents)) {
      const last = mask.documents.at(-1);
      if (last !== qLength) issues.push(`document offsets end at ${last}, not at N = ${qLength}`);
    } else if (qLength % mask.documents.equal !== 0) {
      issues.push(`${mask.documents.equal} equal documents do not divide N = ${qLength}`);
    }
  }
  if (mask.blockSparse !== undefined) {
    if (!selfAttention) {
      issues.push(
        `blockSparse draws a square layout with its diagonal: Lq = Lk (here ${qLength} and ${kvLength})`,
      );
    } else {
      const { rows, cols, visible, diagonal } = blockSparseCounts(mask.blockSparse, qLength, kvLength);
      if (visible < diagonal) {
        issues.push(
          `blockSparse density ${mask.blockSparse.density} gives ${visible} of ${rows}×${cols} blocks at N = ${qLength}, fewer than the ${diagonal} diagonal blocks that are always visible; raise density or block`,
        );
      }
    }
  }
  return issues;
}

/**
 * The causal mask as a predicate on a shape: key j visible from row i iff j <= i + Lk − Lq (bottom-right,
 * as the causal option). The same formula on a slice of the last rows keeps each row's keys.
 */
function causalPredicate(qLength: number, kvLength: number): PredicateMask {
  const shift = kvLength - qLength;
  return predicateMask((_b, _h, i, j) => j <= i + shift, { sameForEveryHead: true, sameForEveryBatch: true });
}

function windowOption(window: readonly [Reach, Reach]): readonly [number, number] {
  const [left, right] = window;
  return [
    left === 'inf' ? Number.POSITIVE_INFINITY : left,
    right === 'inf' ? Number.POSITIVE_INFINITY : right,
  ];
}

function scoreOptions(mask: MaskSpec, qHeads: number): Pick<MaskOptions, 'scoreMod' | 'sinks'> {
  const options: Pick<MaskOptions, 'scoreMod' | 'sinks'> = {};
  const mods: ScoreMod[] = [];
  if (mask.alibi) mods.push(alibi(alibiSlopes(qHeads)));
  if (mask.softcap !== undefined) mods.push(softcap(mask.softcap));
  if (mods.length > 0) options.scoreMod = mods.length === 1 ? mods[0]! : mods;
  if (mask.sinks !== undefined) options.sinks = new Array<number>(qHeads).fill(mask.sinks);
  return options;
}

function combine(terms: readonly AttentionMask[]): AttentionMask | undefined {
  if (terms.length === 0) return undefined;
  return terms.length === 1 ? terms[0] : andMasks(...terms);
}

/**
 * The AttentionOptions fields of a spec on a case's shape ("inf" → Infinity), built afresh: pass
 * the SAME result to every call of a case, so a predicate is classified once (core's cache).
 */
export function maskOptions(
  mask: MaskSpec,
  shape: Pick<CaseShape, 'qHeads' | 'qLength' | 'kvLength'>,
): MaskOptions {
  const { qHeads, qLength, kvLength } = shape;
  const options: MaskOptions = {};
  if (mask.causal) options.causal = true;
  if (mask.window) options.window = windowOption(mask.window);
  const terms: AttentionMask[] = [];
  if (mask.documents !== undefined) terms.push(documentMask(documentOffsets(mask.documents, qLength)));
  if (mask.prefixLM !== undefined) terms.push(prefixLMMask(mask.prefixLM));
  if (mask.blockSparse !== undefined) {
    terms.push(
      blockSparseMask(blockSparseLayout(mask.blockSparse, qLength, kvLength), mask.blockSparse.block),
    );
  }
  if (mask.predicate === 'causal') terms.push(causalPredicate(qLength, kvLength));
  const value = combine(terms);
  if (value) options.mask = value;
  return { ...options, ...scoreOptions(mask, qHeads) };
}

/**
 * The options for the last `rows` query rows of a case taken as their own query tensor (the
 * oracle's slice, accuracy.ts), so that every one of those rows sees exactly the keys, and gets
 * exactly the scores, it has in the full call. causal, window, prefix-LM, ALiBi, softcap and sinks
 * read the query's key position p(i), which bottom-right alignment keeps; documents keep theirs
 * with the query offsets shifted (a document's p(i) is aligned to its own end); block-sparse and
 * the predicate read the row index itself, so they become predicates of the shifted row.
 */
export function sliceMaskOptions(
  mask: MaskSpec,
  shape: Pick<CaseShape, 'qHeads' | 'qLength' | 'kvLength'>,
  rows: number,
): MaskOptions {
  const { qHeads, qLength, kvLength } = shape;
  const take = Math.min(rows, qLength);
  const first = qLength - take;
  const options: MaskOptions = {};
  if (mask.causal) options.causal = true;
  if (mask.window) options.window = windowOption(mask.window);
  const terms: AttentionMask[] = [];
  if (mask.documents !== undefined) {
    const offsets = documentOffsets(mask.documents, qLength);
    terms.push(
      documentMask(
        offsets.map((offset) => Math.max(0, offset - first)),
        offsets,
      ),
    );
  }
  if (mask.prefixLM !== undefined) terms.push(prefixLMMask(mask.prefixLM));
  if (mask.blockSparse !== undefined) {
    const { block } = mask.blockSparse;
    const layout = blockSparseLayout(mask.blockSparse, qLength, kvLength);
    terms.push(
      predicateMask((_b, _h, i, j) => layout[Math.floor((i + first) / block)]![Math.floor(j / block)] === 1, {
        sameForEveryHead: true,
        sameForEveryBatch: true,
      }),
    );
  }
  if (mask.predicate === 'causal') terms.push(causalPredicate(take, kvLength));
  const value = combine(terms);
  if (value) options.mask = value;
  return { ...options, ...scoreOptions(mask, qHeads) };
}

function formatDensity(density: number): string {
  const inverse = 1 / density;
  return Number.isInteger(inverse) ? `1/${inverse}` : String(density);
}

/** The mask in words, for reports, charts and progress lines. */
export function describeMask(mask: MaskSpec): string {
  const parts: string[] = [];
  if (mask.causal) parts.push('causal');
  if (mask.window) parts.push(`window [${mask.window[0]}, ${mask.window[1]}]`);
  if (mask.documents !== undefined) {
    parts.push(
      Array.isArray(mask.documents)
        ? `documents [${mask.documents.join(', ')}]`
        : `${mask.documents.equal} equal documents`,
    );
  }
  if (mask.prefixLM !== undefined) parts.push(`prefix-LM ${mask.prefixLM}`);
  if (mask.blockSparse !== undefined) {
    const { density, block, seed } = mask.blockSparse;
    parts.push(`block-sparse ${formatDensity(density)} (${block}×${block} blocks, seed ${seed})`);
  }
  if (mask.predicate === 'causal') parts.push('predicate (= causal)');
  if (mask.alibi) parts.push('ALiBi');
  if (mask.softcap !== undefined) parts.push(`softcap ${mask.softcap}`);
  if (mask.sinks !== undefined) parts.push(`sinks ${mask.sinks}`);
  return parts.length > 0 ? parts.join(' + ') : 'full';
}
