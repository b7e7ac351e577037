/**
 * Sliding-window (banded, local) attention: query i at key position p = i + Lk − Lq sees keys in
 * [p − left, p + right] (docs/design.md, Masks; causal: true sets right = 0 — Mistral-style; symmetric windows
 * are Longformer's local attention), optionally with Longformer global tokens (global-tokens.ts).
 *
 * Algorithm: for each (batch, query head), query rows in blocks of blockQ; each block attends only
 * its band's key range through kernels' banded step (attendBand) — keys outside the band are
 * never touched.
 * Time O(B · Hq · Lq · (blockQ + left + right) · (Dk + Dv)): linear in N for a fixed window, never
 * N² (plus O(G · Lk) per head for G global tokens).
 * Items — one per (batch, query head, query block), work.ts — run in a loop or on the kernels
 * worker pool (threads > 1), with the same bits either way.
 * Extra memory: the arena copies of q, k, v, out and lse (O(N · D)) plus, per running thread, one
 * scores buffer of blockQ · (blockQ + left + right) floats (and, with global tokens, G · (Dk + Dv)
 * gathered floats and G more score columns per row, at least one full key row).
 */
import { AttentionInputError, type Tensor } from '@attnkit/core';
import {
  defineVariant,
  noSplit,
  planBand,
  queryBlockItems,
  splitKvHooks,
  type VariantWorkModule,
} from '@attnkit/kernels/runtime';
import { globalPositions } from './global-tokens.js';
import { DEFAULT_BLOCK_Q, type SlidingWindowOptions, slidingWindowOptionsSchema } from './options.js';
import { itemScratchFloats, runItem, type SlidingWindowParams } from './work.js';

/**
 * This variant's work module, for a pool worker an app supplies itself (bundled browser apps; see
 * kernels' setWorkerFactory): `registerWorkModule(slidingWindowWorkModule.url, slidingWindowWorkModule)`
 * inside that worker.
 */
export const slidingWindowWorkModule: VariantWorkModule<SlidingWindowParams> = {
  // the bundler-recognised pattern: the same key in an app's main bundle and its pool worker's
  url: new URL('./work.js', import.meta.url).href,
  runItem,
};

const defined = defineVariant<SlidingWindowOptions, SlidingWindowParams>({
  name: 'sliding-window',
  exact: true,
  options: slidingWindowOptionsSchema,
  check(problem, options) {
    if (options.window === undefined) {
      throw new AttentionInputError(
        'options.window',
        'a [left, right] window (sliding-window attention is banded by definition)',
        'undefined',
        'Pass e.g. window: [512, 0] for Mistral-style causal local attention or [256, 256] for Longformer-style; use dense, causal or flash for unbounded attention.',
      );
    }
    globalPositions(options.globalTokens, problem.kvLength);
  },
  reasons(problem, options) {
    // The global-token path lays its own key segments out (global-tokens.ts); the score tiles' mask
    // and modifiers are not threaded through it. Without globalTokens every option runs.
    if (!options.globalTokens || options.globalTokens.length === 0) return [];
    const extras = [
      problem.documents !== null || problem.prefixLength >= 0 || problem.generalMask !== null ? 'mask' : '',
      problem.scoreMods.length > 0 ? 'scoreMod' : '',
      problem.bias !== null ? 'bias' : '',
      problem.sinks !== null ? 'sinks' : '',
    ].filter((name) => name !== '');
    return extras.map(
      (name) =>
        `options.${name} with options.globalTokens: the global-token path does not apply it; express the global tokens as mask: orMasks(windowMask(left, right), globalTokensMask(indices)) instead, or use flash`,
    );
  },
  plan(problem, options) {
    const globals = Array.from(globalPositions(options.globalTokens, problem.kvLength));
    const blockQ = options.blockQ ?? DEFAULT_BLOCK_Q;
    if (globals.length === 0) {
      // the plain band is kernels' banded plan (it splits the keys of calls with few items)
      const band = planBand(problem, blockQ);
      return { ...band, params: { ...band.params, globals } };
    }
    const rows = Math.max(1, Math.min(blockQ, problem.qLength));
    return {
      items: queryBlockItems(problem, rows),
      scratchFloats: itemScratchFloats(problem, rows, globals.length),
      params: {
        globals,
        blockQ: rows,
        queryBlocks: Math.ceil(problem.qLength / rows),
        ...noSplit(problem), // global rows see every key: no split
      },
    };
  },
  ...splitKvHooks,
  work: slidingWindowWorkModule,
});

export const slidingWindow = defined.variant;

/**
 * Exact banded softmax attention (docs/design.md semantics; window required; scale, causal,
 * kvLengths, GQA/MQA, Lq ≠ Lk bottom-right aligned, out, lse), plus optional Longformer global tokens.
 */
export const slidingWindowAttention: (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options?: SlidingWindowOptions,
) => Tensor = defined.attention;
