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
import type { Tensor } from '@attnkit/core';
import { defineVariant, queryBlockItems } from '@attnkit/kernels/runtime';
import { DEFAULT_BLOCK_K, DEFAULT_BLOCK_Q, type FlashOptions, flashOptionsSchema } from './options.js';
import { type FlashParams, flashWork, scratchFloats } from './work.js';

/**
 * This variant's work module, for a pool worker an app supplies itself (bundled browser apps; see
 * kernels' setWorkerFactory): `registerWorkModule(flashWorkModule.url, flashWorkModule)` inside that worker.
 */
export const flashWorkModule = flashWork;

/** Tile sizes actually used: the requested ones, clipped to the sequence lengths (a tile never exceeds them). */
function effectiveBlocks(
  qLength: number,
  kvLength: number,
  blockQ = DEFAULT_BLOCK_Q,
  blockK = DEFAULT_BLOCK_K,
): { blockQ: number; blockK: number } {
  return { blockQ: Math.max(1, Math.min(blockQ, qLength)), blockK: Math.max(1, Math.min(blockK, kvLength)) };
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
    return {
      items: queryBlockItems(problem, blockQ),
      scratchFloats: scratchFloats(blockQ, blockK),
      params: { blockQ, blockK, queryBlocks: Math.ceil(problem.qLength / blockQ) },
    };
  },
  work: flashWork,
});

export const flash = defined.variant;

/**
 * Exact softmax attention (docs/design.md semantics: scale, causal, window, kvLengths, GQA/MQA,
 * Lq ≠ Lk bottom-right aligned, out, lse) in O(N) memory, skipping the key tiles a mask hides.
 */
export const flashAttention: (q: Tensor, k: Tensor, v: Tensor, options?: FlashOptions) => Tensor =
  defined.attention;
