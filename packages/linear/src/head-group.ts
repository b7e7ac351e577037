/**
 * One kv head and the query heads that read it (GQA: Hq / Hkv consecutive query heads), as arena
 * offsets and lengths: the unit both forms work on, so the kv side (φ(K), S, z) is computed once
 * per group rather than once per query head. Keys enter the state a block at a time:
 * `keyBlockFeatures` writes φ of the block's keys into buffers.phiK, `accumulateState` adds them to
 * S = Σ φ(k) vᵀ and z = Σ φ(k). Under a document mask one group object is moved over the documents
 * (q, out, k, v, lengths set to the document's rows and keys; work.ts), so nothing is allocated per document.
 *
 * FAVOR+'s key stabiliser is a running max (the online-softmax trick): a block whose largest
 * exponent beats the current stabiliser s raises it to s' and multiplies S and z by exp(s − s')
 * first, so S, z and the new block's features are always in the same units, and no key's features
 * are measured against a key that comes later (which would let a large late key push the features of
 * every earlier key below float32's range, even in the causal form where they never meet).
 * Time: keyBlockFeatures O(n·m·d) (FAVOR+) or O(n·d), plus O(m·dv) per raise; accumulateState
 * O(n·m·dv). Memory: none (the caller's buffers).
 */
import type { Engine } from '@attnkit/kernels';
import { elementwiseFeatures, type FeatureMapPlan, favorKeyExp, favorKeyLogits } from './feature-maps.js';
import type { LinearBuffers } from './workspace.js';

export interface HeadGroup {
  /** First query head's rows [Lq × d]; query head g of the group starts at q + g·qStride·d. */
  q: number;
  /** First query head's output rows [Lq × dv]; head g's at out + g·qStride·dv. */
  out: number;
  /** The kv head's keys [Lk × d]. */
  k: number;
  /** The kv head's values [Lk × dv]. */
  v: number;
  readonly groupSize: number;
  /** Rows from one query head to the next (the call's Lq; a document's qLength is shorter). */
  readonly qStride: number;
  qLength: number;
  kvLength: number;
  /** Keys j >= validKeys are padding (kvLengths[b]) and never enter the state. */
  validKeys: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly features: number;
}

/**
 * φ of keys [from, to) into buffers.phiK rows [0, to − from). FAVOR+: raises the running
 * stabiliser if the block needs it (rescaling S and z) and returns it; elu / relu return it unchanged.
 */
export function keyBlockFeatures(
  engine: Engine,
  plan: FeatureMapPlan,
  buffers: LinearBuffers,
  group: HeadGroup,
  from: number,
  to: number,
  stabiliser: number,
): number {
  const rows = to - from;
  const x = group.k + from * group.headDim;
  if (plan.featureMap !== 'favor') {
    elementwiseFeatures(engine, plan.featureMap, x, rows * group.headDim, buffers.phiK);
    return stabiliser;
  }
  const blockMax = favorKeyLogits(engine, plan, x, rows, buffers.phiK, buffers.rowStat, buffers.diag);
  if (blockMax > stabiliser) {
    if (stabiliser !== Number.NEGATIVE_INFINITY) {
      rescaleState(
        engine.arena.heap,
        buffers,
        group.features * group.valueDim,
        group.features,
        Math.exp(stabiliser - blockMax),
      );
    }
    stabiliser = blockMax;
  }
  favorKeyExp(engine, plan, buffers.phiK, rows, buffers.diag, stabiliser);
  return stabiliser;
}

function rescaleState(
  heap: Float32Array,
  buffers: LinearBuffers,
  stateFloats: number,
  m: number,
  factor: number,
): void {
  const { state, normaliser } = buffers;
  for (let i = state; i < state + stateFloats; i++) heap[i] = heap[i]! * factor;
  for (let i = normaliser; i < normaliser + m; i++) heap[i] = heap[i]! * factor;
}

/** S += φ(K_block)ᵀ · V[from, to);  z += Σ φ(K_block) (φ of keys [from, to) in buffers.phiK). */
export function accumulateState(
  engine: Engine,
  buffers: LinearBuffers,
  group: HeadGroup,
  from: number,
  to: number,
): void {
  const n = to - from;
  if (n <= 0) return;
  const m = group.features;
  const dv = group.valueDim;
  engine.ops.gemmTN(m, dv, n, buffers.phiK, m, group.v + from * dv, dv, buffers.state, dv, 1, 1);
  engine.ops.columnSums(buffers.phiK, m, n, m, buffers.normaliser, 1);
}

/** Keys [from, to) into the state, `blockRows` at a time; returns the stabiliser. */
export function absorbKeys(
  engine: Engine,
  plan: FeatureMapPlan,
  buffers: LinearBuffers,
  group: HeadGroup,
  from: number,
  to: number,
  blockRows: number,
  stabiliser: number,
): number {
  for (let first = from; first < to; first += blockRows) {
    const last = Math.min(to, first + blockRows);
    stabiliser = keyBlockFeatures(engine, plan, buffers, group, first, last, stabiliser);
    accumulateState(engine, buffers, group, first, last);
  }
  return stabiliser;
}
