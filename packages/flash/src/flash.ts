/**
 * Flash attention: exact softmax attention computed tile by tile with an online softmax, never
 * materialising the Lq × Lk score matrix (Dao et al., FlashAttention-2 loop order: query blocks
 * outer — the parallel work items —, key blocks inner; work.ts has the per-item loop).
 * Key tiles the mask hides entirely are skipped, partly hidden ones are masked inside (plan.ts).
 *
 * Time O(B · Hq · Σ_rows visibleKeys · (Dk + Dv)): ≈ half of dense when causal, O(N · w) for a
 * window. Extra memory: the arena copies of q, k, v, out and lse (O(N · D)) plus, per thread, one
 * blockQ × blockK score tile and 2 · blockQ running statistics — independent of N.
 */
import { type AttentionProblem, mergeAttentionRows, type Tensor } from '@attnkit/core';
import {
  alignFloats,
  defineVariant,
  queryBlockItems,
  type VariantWorkModule,
} from '@attnkit/kernels/runtime';
import { DEFAULT_BLOCK_K, DEFAULT_BLOCK_Q, type FlashOptions, flashOptionsSchema } from './options.js';
import { type FlashParams, runItem, scratchFloats } from './work.js';

/**
 * This variant's work module, for a pool worker an app supplies itself (bundled browser apps; see
 * kernels' setWorkerFactory): `registerWorkModule(flashWorkModule.url, flashWorkModule)` inside that worker.
 */
export const flashWorkModule: VariantWorkModule<FlashParams> = {
  // new URL('./work.js', import.meta.url): the pattern bundlers rewrite to the emitted work module,
  // so the key is the same string in an app's main bundle and in its pool worker's bundle
  url: new URL('./work.js', import.meta.url).href,
  runItem,
};

/** Tile sizes actually used: the requested ones, clipped to the sequence lengths (a tile never exceeds them). */
function effectiveBlocks(
  qLength: number,
  kvLength: number,
  blockQ = DEFAULT_BLOCK_Q,
  blockK = DEFAULT_BLOCK_K,
): { blockQ: number; blockK: number } {
  return { blockQ: Math.max(1, Math.min(blockQ, qLength)), blockK: Math.max(1, Math.min(blockK, kvLength)) };
}

/**
 * Split-KV: a call with fewer than SPLIT_TARGET_ITEMS (batch, head, query-block) items — decoding a
 * few tokens against a long context — also splits its keys, so every thread has work. The split
 * depends on the shape only (never on the thread count), so results stay the same bits at every
 * thread count; each split is at least 2 · blockK keys.
 */
const SPLIT_TARGET_ITEMS = 16;

function keySplitsOf(problem: AttentionProblem, blockQ: number, blockK: number) {
  const base = queryBlockItems(problem, blockQ);
  const wanted = Math.ceil(SPLIT_TARGET_ITEMS / base);
  const most = Math.floor(problem.kvLength / (2 * blockK));
  if (base >= SPLIT_TARGET_ITEMS || most < 2) return { keySplits: 1, splitKeys: problem.kvLength };
  const target = Math.min(wanted, most);
  const splitKeys = Math.ceil(Math.ceil(problem.kvLength / target) / blockK) * blockK;
  return { keySplits: Math.ceil(problem.kvLength / splitKeys), splitKeys };
}

/** Floats of the partial results of a split call: keySplits × (out rows + lse rows). */
function partialFloats(problem: AttentionProblem, keySplits: number): number {
  if (keySplits === 1) return 0;
  const rows = problem.batch * problem.qHeads * problem.qLength;
  return alignFloats(keySplits * rows * problem.valueDim) + alignFloats(keySplits * rows);
}

const defined = defineVariant<FlashOptions, FlashParams>({
  name: 'flash',
  exact: true,
  options: flashOptionsSchema,
  plan(problem, options) {
    const { blockQ, blockK } = effectiveBlocks(
      problem.qLength,
      problem.kvLength,
      options.blockQ,
      options.blockK,
    );
    const { keySplits, splitKeys } = keySplitsOf(problem, blockQ, blockK);
    return {
      items: queryBlockItems(problem, blockQ) * keySplits,
      scratchFloats: scratchFloats(blockQ, blockK),
      params: {
        blockQ,
        blockK,
        queryBlocks: Math.ceil(problem.qLength / blockQ),
        keySplits,
        splitKeys,
        partialOut: -1,
        partialLse: -1,
      },
      sharedFloats: partialFloats(problem, keySplits),
    };
  },
  place(engine, problem, _options, params) {
    if (params.keySplits === 1) return params;
    const rows = problem.batch * problem.qHeads * problem.qLength;
    const partialOut = engine.arena.alloc(params.keySplits * rows * problem.valueDim);
    const partialLse = engine.arena.alloc(params.keySplits * rows);
    return { ...params, partialOut, partialLse };
  },
  finish(engine, problem, at, params) {
    if (params.keySplits === 1) return;
    // The exact result from the splits' partial ones (core's LSE merge), in split order on the
    // calling thread: the same bits whichever threads computed the splits.
    const rows = problem.batch * problem.qHeads * problem.qLength;
    const dv = problem.valueDim;
    const heap = engine.arena.heap;
    const outs: Float32Array[] = [];
    const lses: Float32Array[] = [];
    for (let s = 0; s < params.keySplits; s++) {
      outs.push(heap.subarray(params.partialOut + s * rows * dv, params.partialOut + (s + 1) * rows * dv));
      lses.push(heap.subarray(params.partialLse + s * rows, params.partialLse + (s + 1) * rows));
    }
    mergeAttentionRows(
      outs,
      lses,
      rows,
      dv,
      heap.subarray(at.out, at.out + rows * dv),
      heap.subarray(at.lse, at.lse + rows),
    );
  },
  work: flashWorkModule,
});

export const flash = defined.variant;

/**
 * Exact softmax attention (docs/design.md semantics: scale, causal, window, kvLengths, GQA/MQA,
 * Lq ≠ Lk bottom-right aligned, out, lse) in O(N) memory, skipping the key tiles a mask hides.
 */
export const flashAttention: (q: Tensor, k: Tensor, v: Tensor, options?: FlashOptions) => Tensor =
  defined.attention;
