/**
 * Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"): exp(q·k) is replaced by a
 * feature-map kernel φ(q)·φ(k) and the products are reassociated,
 *   out_i = φ(q_i)ᵀ(Σ_j φ(k_j) v_jᵀ) / (φ(q_i)ᵀ Σ_j φ(k_j) + eps),
 * with the sums over the keys query i sees (all valid keys, or the causal prefix).
 * Under a document mask (core's documentMask) each document is its own sequence: the sums restart
 * at every document, and causal is aligned bottom-right per document (work.ts).
 * Non-causal: noncausal-form.ts; causal: chunked-form.ts; one work item per (batch, kv head), so
 * φ(K) and the state are computed once for the group's query heads (GQA / MQA), on up to `threads`
 * threads through the kernels' pool (work.ts).
 * Time O(B·Hkv·Lk·m·(d + dv) + B·Hq·Lq·m·(d + dv)) plus, causal, O(B·Hq·Lq·C·(m + dv)): linear in N.
 * Extra memory: the arena copies of q, k, v, out, W (FAVOR+), and O(R·m + m·dv + C²) scratch per
 * running item (R = block rows), independent of N.
 */
import type { AttentionProblem, Tensor } from '@attnkit/core';
import { defineVariant, type VariantWorkModule } from '@attnkit/kernels/runtime';
import { sharedFavorProjection } from './favor-projection.js';
import {
  type LinearOptions,
  type LinearSettings,
  linearMaskForm,
  linearOptionsSchema,
  linearUnsupportedReasons,
  resolveSettings,
} from './options.js';
import { itemScratchFloats, type LinearParams, runItem } from './work.js';
import { QUERY_BLOCK } from './workspace.js';

/**
 * This variant's work module, for a pool worker an app supplies itself (bundled browser apps; see
 * kernels' setWorkerFactory): `registerWorkModule(linearWorkModule.url, linearWorkModule)` inside that worker.
 */
export const linearWorkModule: VariantWorkModule<LinearParams> = {
  // the bundler-recognised pattern: the same key in an app's main bundle and its pool worker's
  url: new URL('./work.js', import.meta.url).href,
  runItem,
};

/** The parameters of a call (the FAVOR+ projection's arena offset still to be placed: −1). */
function describeCall(problem: AttentionProblem, settings: LinearSettings): LinearParams {
  const causal = linearMaskForm(problem) === 'causal';
  // key blocks use the same buffers as query blocks, so the cap is the longer of the two sequences
  const blockRows = Math.min(
    Math.max(problem.qLength, problem.kvLength),
    causal ? settings.chunkSize : QUERY_BLOCK,
  );
  return {
    featureMap: settings.featureMap,
    features: settings.features,
    causal,
    blockRows,
    eps: settings.eps,
    projection: -1,
  };
}

const defined = defineVariant<LinearOptions, LinearParams>({
  name: 'linear',
  exact: false,
  options: linearOptionsSchema,
  reasons: (problem, options) => linearUnsupportedReasons(problem, options),
  plan(problem, options) {
    const settings = resolveSettings(options, problem.headDim);
    const params = describeCall(problem, settings);
    return {
      // one item per (batch, kv head): φ(K) and the state serve the whole query-head group
      items: problem.batch * problem.kvHeads,
      scratchFloats: itemScratchFloats({ ...params, valueDim: problem.valueDim }),
      params,
      sharedFloats: settings.featureMap === 'favor' ? settings.features * problem.headDim : 0,
    };
  },
  place(engine, problem, options, params) {
    if (params.featureMap !== 'favor') return params;
    const settings = resolveSettings(options, problem.headDim);
    const projection = sharedFavorProjection(problem.headDim, settings.features, settings.seed);
    return { ...params, projection: engine.arena.put(projection) };
  },
  work: linearWorkModule,
});

/**
 * Linear attention: supports causal (chunked), kvLengths, documentMask, GQA / MQA, Lq ≠ Lk, threads;
 * refuses what it cannot honour (bands, other mask terms, scoreMod, bias, sinks, lse, scale with
 * elu/relu; see notSupportedReasons) naming the option.
 */
export const linear = defined.variant;

/**
 * Linear attention of q [B, Hq, Lq, Dk], k [B, Hkv, Lk, Dk], v [B, Hkv, Lk, Dv] → [B, Hq, Lq, Dv].
 */
export const linearAttention: (q: Tensor, k: Tensor, v: Tensor, options?: LinearOptions) => Tensor =
  defined.attention;
