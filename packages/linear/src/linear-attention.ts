/**
 * Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"): exp(q·k) is replaced by a
 * feature-map kernel φ(q)·φ(k) and the products are reassociated,
 *   out_i = φ(q_i)ᵀ(Σ_j φ(k_j) v_jᵀ) / (φ(q_i)ᵀ Σ_j φ(k_j) + eps),
 * with the sums over the keys query i sees (all valid keys, or the causal prefix).
 * Non-causal: noncausal-form.ts; causal: chunked-form.ts; one work item per (batch, kv head), so
 * φ(K) and the state are computed once for the group's query heads (GQA / MQA), on up to `threads`
 * threads through the kernels' pool (work.ts).
 * Time O(B·Hkv·Lk·m·(d + dv) + B·Hq·Lq·m·(d + dv)) plus, causal, O(B·Hq·Lq·C·(m + dv)): linear in N.
 * Extra memory: the arena copies of q, k, v, out, W (FAVOR+), and O(R·m + m·dv + C²) scratch per
 * running item (R = block rows), independent of N.
 */
import {
  type AttentionProblem,
  type AttentionVariant,
  assertSupported,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
} from '@attnkit/core';
import {
  alignFloats,
  callArenaFloats,
  finishAttention,
  getEngine,
  placeAttention,
  runWorkItems,
} from '@attnkit/kernels';
import { sharedFavorProjection } from './favor-projection.js';
import {
  type LinearOptions,
  type LinearSettings,
  linearOptionsSchema,
  linearUnsupportedReasons,
  maskForm,
  resolveSettings,
} from './options.js';
import { itemScratchFloats, type LinearPayload, runItem } from './work.js';
import { QUERY_BLOCK } from './workspace.js';

/** The module each pool worker imports to run linear items (the built work.js next to this file). */
export const LINEAR_WORK_MODULE_URL = new URL('./work.js', import.meta.url).href;

/**
 * This variant's work module, for a pool worker an app supplies itself (bundled browser apps; see
 * kernels' setWorkerFactory): `registerWorkModule(linearWorkModule.url, linearWorkModule)` inside that worker.
 */
export const linearWorkModule = { url: LINEAR_WORK_MODULE_URL, runItem };

/** The payload of a call, with arena offsets still to be filled in (−1). */
function describeCall(problem: AttentionProblem, settings: LinearSettings): LinearPayload {
  const causal =
    maskForm(problem.windowLeft, problem.windowRight, problem.qLength, problem.kvLength) === 'causal';
  // key blocks use the same buffers as query blocks, so the cap is the longer of the two sequences
  const blockRows = Math.min(
    Math.max(problem.qLength, problem.kvLength),
    causal ? settings.chunkSize : QUERY_BLOCK,
  );
  return {
    batch: problem.batch,
    qHeads: problem.qHeads,
    kvHeads: problem.kvHeads,
    groupSize: problem.groupSize,
    qLength: problem.qLength,
    kvLength: problem.kvLength,
    headDim: problem.headDim,
    valueDim: problem.valueDim,
    validKeys: Array.from(problem.validKeys),
    featureMap: settings.featureMap,
    features: settings.features,
    scale: problem.scale,
    causal,
    blockRows,
    eps: settings.eps,
    q: -1,
    k: -1,
    v: -1,
    out: -1,
    projection: -1,
  };
}

/**
 * Linear attention of q [B, Hq, Lq, Dk], k [B, Hkv, Lk, Dk], v [B, Hkv, Lk, Dv] → [B, Hq, Lq, Dv].
 * Supports causal (chunked), kvLengths, GQA / MQA, Lq ≠ Lk, threads; refuses what it cannot honour
 * (see `linear.notSupportedReasons`) with an AttentionInputError naming the option.
 */
export function linearAttention(q: Tensor, k: Tensor, v: Tensor, options: LinearOptions = {}): Tensor {
  const problem = validateAttentionInputs(q, k, v, options);
  const own = parseOptions(linearOptionsSchema, options);
  assertSupported('linear', linearUnsupportedReasons(q, k, options));
  const settings = resolveSettings(own, problem.headDim);
  const engine = getEngine(own.backend);
  const projection =
    settings.featureMap === 'favor'
      ? sharedFavorProjection(problem.headDim, settings.features, settings.seed)
      : null;
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const payload: LinearPayload = {
      ...describeCall(problem, settings),
      q: placed.q,
      k: placed.k,
      v: placed.v,
      out: placed.out,
      projection: projection ? engine.arena.put(projection) : -1,
    };
    // one item per (batch, kv head): φ(K) and the state serve the whole query-head group
    runWorkItems(
      engine,
      LINEAR_WORK_MODULE_URL,
      runItem,
      payload,
      payload.batch * payload.kvHeads,
      own.threads ?? 1,
      itemScratchFloats(payload),
    );
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}

export const linear: AttentionVariant<LinearOptions> = {
  name: 'linear',
  exact: false,
  notSupportedReasons(q, k, _v, options) {
    return linearUnsupportedReasons(q, k, options);
  },
  forward(q, k, v, options) {
    return linearAttention(q, k, v, options);
  },
  /**
   * Everything the call places in the engine's arena: the copies of q, k, v and the out / lse rows
   * (placeAttention), W for FAVOR+, one item's scratch per running thread (workspace.ts), and with
   * threads > 1 the pool's kernel scratch per worker.
   */
  workspaceBytes(q, k, v, options = {}) {
    const problem = validateAttentionInputs(q, k, v, options);
    const own = parseOptions(linearOptionsSchema, options);
    const settings = resolveSettings(own, problem.headDim);
    const payload = describeCall(problem, settings);
    const projectionFloats = settings.featureMap === 'favor' ? settings.features * problem.headDim : 0;
    const items = problem.batch * problem.kvHeads;
    return (
      4 *
      (callArenaFloats(problem, itemScratchFloats(payload), items, own.threads ?? 1) +
        alignFloats(projectionFloats))
    );
  },
};
