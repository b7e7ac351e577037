/**
 * Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"): exp(q·k) is replaced by a
 * feature-map kernel φ(q)·φ(k) and the products are reassociated,
 *   out_i = φ(q_i)ᵀ(Σ_j φ(k_j) v_jᵀ) / (φ(q_i)ᵀ Σ_j φ(k_j) + eps),
 * with the sums over the keys query i sees (all valid keys, or the causal prefix).
 * Non-causal: noncausal-form.ts; causal: chunked-form.ts. Per (batch, kv head) φ(K) and the state
 * are computed once and shared by the group's query heads (GQA / MQA).
 * Time O(B·Hkv·Lk·m·(d + dv) + B·Hq·Lq·m·(d + dv)) plus, causal, O(B·Hq·Lq·C·(m + dv)): linear in N.
 * Extra memory: the arena copies of q, k, v, out and O(R·m + m·dv + C²) scratch (R = block rows).
 */
import {
  type AttentionProblem,
  type AttentionVariant,
  assertSupported,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
} from '@attnkit/core';
import { type Engine, finishAttention, getEngine, placeAttention } from '@attnkit/kernels';
import { causalHeadGroup } from './chunked-form.js';
import { sharedFavorProjection } from './favor-projection.js';
import { placeFeatureMap } from './feature-maps.js';
import type { HeadGroup } from './head-group.js';
import { noncausalHeadGroup } from './noncausal-form.js';
import {
  type LinearOptions,
  type LinearSettings,
  linearOptionsSchema,
  linearUnsupportedReasons,
  type MaskForm,
  maskForm,
  resolveSettings,
} from './options.js';
import { allocateBuffers, bufferSizes, QUERY_BLOCK, totalFloats } from './workspace.js';

interface CallShape {
  readonly form: MaskForm;
  readonly blockRows: number;
  readonly settings: LinearSettings;
}

function callShape(problem: AttentionProblem, settings: LinearSettings): CallShape {
  const form = maskForm(problem.windowLeft, problem.windowRight, problem.qLength, problem.kvLength);
  // key blocks use the same buffers as query blocks, so the cap is the longer of the two sequences
  const blockRows = Math.min(
    Math.max(problem.qLength, problem.kvLength),
    form === 'causal' ? settings.chunkSize : QUERY_BLOCK,
  );
  return { form, blockRows, settings };
}

function sizesFor(problem: AttentionProblem, shape: CallShape) {
  return bufferSizes(
    shape.form === 'causal',
    shape.blockRows,
    shape.settings.features,
    problem.valueDim,
    shape.settings.featureMap === 'favor',
  );
}

function run(
  engine: Engine,
  problem: AttentionProblem,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  shape: CallShape,
): Tensor {
  const { settings } = shape;
  const { batch, qHeads, kvHeads, groupSize, qLength, kvLength, headDim, valueDim } = problem;
  const projection =
    settings.featureMap === 'favor' ? sharedFavorProjection(headDim, settings.features, settings.seed) : null;
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const plan = placeFeatureMap(
      engine,
      settings.featureMap,
      headDim,
      settings.features,
      problem.scale,
      projection,
    );
    const buffers = allocateBuffers(engine.arena, sizesFor(problem, shape));
    for (let b = 0; b < batch; b++) {
      for (let kvHead = 0; kvHead < kvHeads; kvHead++) {
        const kvRow = (b * kvHeads + kvHead) * kvLength;
        const qRow = (b * qHeads + kvHead * groupSize) * qLength;
        const group: HeadGroup = {
          q: placed.q + qRow * headDim,
          out: placed.out + qRow * valueDim,
          k: placed.k + kvRow * headDim,
          v: placed.v + kvRow * valueDim,
          groupSize,
          qLength,
          kvLength,
          validKeys: problem.validKeys[b]!,
          headDim,
          valueDim,
          features: settings.features,
        };
        if (shape.form === 'causal') {
          const heap = engine.arena.heap;
          heap.fill(0, buffers.state, buffers.state + settings.features * valueDim);
          heap.fill(0, buffers.normaliser, buffers.normaliser + settings.features);
          causalHeadGroup(
            engine,
            plan,
            buffers,
            group,
            settings.chunkSize,
            settings.eps,
            Number.NEGATIVE_INFINITY,
          );
        } else {
          noncausalHeadGroup(engine, plan, buffers, group, shape.blockRows, settings.eps);
        }
      }
    }
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}

/**
 * Linear attention of q [B, Hq, Lq, Dk], k [B, Hkv, Lk, Dk], v [B, Hkv, Lk, Dv] → [B, Hq, Lq, Dv].
 * Supports causal (chunked), kvLengths, GQA / MQA, Lq ≠ Lk; refuses what it cannot honour
 * (see `linear.notSupportedReasons`) with an AttentionInputError naming the option.
 */
export function linearAttention(q: Tensor, k: Tensor, v: Tensor, options: LinearOptions = {}): Tensor {
  const problem = validateAttentionInputs(q, k, v, options);
  const own = parseOptions(linearOptionsSchema, options);
  assertSupported('linear', linearUnsupportedReasons(q, k, options));
  const settings = resolveSettings(own, problem.headDim);
  const engine = getEngine(own.backend);
  return run(engine, problem, q, k, v, callShape(problem, settings));
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
   * Everything the call places in the arena: the copies of q, k, v and the out / lse rows
   * (placeAttention), W for FAVOR+, and the scratch of workspace.ts (alignment padding aside).
   */
  workspaceBytes(q, k, v, options = {}) {
    const problem = validateAttentionInputs(q, k, v, options);
    const own = parseOptions(linearOptionsSchema, options);
    const settings = resolveSettings(own, problem.headDim);
    const rows = problem.batch * problem.qHeads * problem.qLength;
    const placedFloats = q.data.length + k.data.length + v.data.length + rows * problem.valueDim + rows;
    const projectionFloats = settings.featureMap === 'favor' ? settings.features * problem.headDim : 0;
    const scratch = totalFloats(sizesFor(problem, callShape(problem, settings)));
    return 4 * (placedFloats + projectionFloats + scratch);
  },
};
