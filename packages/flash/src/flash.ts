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
import type { AttentionProblem, Tensor } from '@attnkit/core';
import { type BackendChoice, defaultBackend } from '@attnkit/kernels';
import {
  defineVariant,
  mergeSplits,
  placeSplits,
  planSplits,
  queryBlockItems,
  splitFloats,
  type VariantWorkModule,
} from '@attnkit/kernels/runtime';
import { DEFAULT_BLOCK_K, DEFAULT_BLOCK_Q, type FlashOptions, flashOptionsSchema } from './options.js';
import {
  type FlashParams,
  fusedCovers,
  fusedFlashEnabled,
  fusedSharedFloats,
  placeFusedHeads,
  runItem,
  scratchFloats,
} from './work.js';

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

/** The call runs the fused native kernel: it resolves to the native backend and the kernel covers it. */
function plansFused(problem: AttentionProblem, backend: BackendChoice | undefined): boolean {
  if (!fusedFlashEnabled() || !fusedCovers(problem)) return false;
  return (
    backend === 'native' || ((backend === undefined || backend === 'auto') && defaultBackend() === 'native')
  );
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
    const items = queryBlockItems(problem, blockQ);
    // split-KV when the call has few items (decoding): ranges of at least two key tiles
    const split = planSplits(problem, items, 2 * blockK, blockK);
    const fused = plansFused(problem, options.backend);
    return {
      items: items * split.keySplits,
      scratchFloats: scratchFloats(problem, blockQ, blockK, fused),
      params: {
        blockQ,
        blockK,
        queryBlocks: Math.ceil(problem.qLength / blockQ),
        ...split,
        fused,
        fusedHeads: -1,
      },
      sharedFloats: splitFloats(problem, split) + fusedSharedFloats(problem, fused),
    };
  },
  place(engine, problem, _options, params, at) {
    const split = placeSplits(engine, problem, params);
    return { ...split, fusedHeads: placeFusedHeads(engine, problem, at, params.fused) };
  },
  finish: mergeSplits,
  work: flashWorkModule,
});

export const flash = defined.variant;

/**
 * Exact softmax attention (docs/design.md semantics: scale, causal, window, kvLengths, GQA/MQA,
 * Lq ≠ Lk bottom-right aligned, out, lse) in O(N) memory, skipping the key tiles a mask hides.
 */
export const flashAttention: (q: Tensor, k: Tensor, v: Tensor, options?: FlashOptions) => Tensor =
  defined.attention;
