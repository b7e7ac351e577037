/**
 * The FLOP model of docs/design.md, FLOP model, core's `attentionFlops`: every (query, key) pair a row attends
 * costs Dk multiply-adds for the score and Dv for the output, 2 FLOPs each,
 *   FLOPs = 2 · (Dk + Dv) · visiblePairs.
 * This module only builds the AttentionProblem for a suite case (no tensors needed) and adds the
 * multi-head layer's projections. The count depends on the problem, not on the implementation, so
 * GFLOP/s compares variants on the same work (for linear attention it is the softmax work the
 * approximation stands in for).
 */
import { type AttentionProblem, attentionFlops as coreAttentionFlops, visiblePairs } from '@attnkit/core';
import { maskOptions } from './mask.js';
import type { CaseShape, MaskSpec } from './suite-schema.js';

/** An AttentionProblem for a shape and mask without tensors (the FLOP model and budgets need no data). */
export function problemFor(shape: CaseShape, mask: MaskSpec): AttentionProblem {
  const options = maskOptions(mask);
  const window = options.window ?? [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  const windowRight = options.causal ? Math.min(window[1], 0) : window[1];
  const validKeys = new Array<number>(shape.batch).fill(shape.kvLength);
  return {
    batch: shape.batch,
    qHeads: shape.qHeads,
    kvHeads: shape.kvHeads,
    groupSize: shape.qHeads / shape.kvHeads,
    qLength: shape.qLength,
    kvLength: shape.kvLength,
    headDim: shape.headDim,
    valueDim: shape.valueDim,
    scale: 1 / Math.sqrt(shape.headDim),
    causal: options.causal ?? false,
    windowLeft: window[0],
    windowRight,
    validKeys,
    hasKvLengths: false,
    masked: (options.causal ?? false) || Number.isFinite(window[0]) || Number.isFinite(windowRight),
  };
}

/** Pairs actually attended (core's visiblePairs): B·Hq·Lq·Lk without a mask. */
export function attendedPairs(shape: CaseShape, mask: MaskSpec): number {
  return visiblePairs(problemFor(shape, mask));
}

export function attentionFlops(shape: CaseShape, mask: MaskSpec): number {
  return coreAttentionFlops(problemFor(shape, mask));
}

/**
 * The multi-head layer: four projections (x·Wq, x·Wk, x·Wv, heads·Wo, 2 FLOPs per multiply-add)
 * plus the attention itself.
 */
export function mhaFlops(shape: CaseShape, mask: MaskSpec, dModel: number): number {
  const tokens = shape.batch * shape.qLength;
  const kvTokens = shape.batch * shape.kvLength;
  const projections =
    2 * tokens * dModel * shape.qHeads * shape.headDim +
    2 * kvTokens * dModel * shape.kvHeads * (shape.headDim + shape.valueDim) +
    2 * tokens * shape.qHeads * shape.valueDim * dModel;
  return projections + attentionFlops(shape, mask);
}

export function gflopsPerSecond(flops: number, milliseconds: number): number {
  return flops / (milliseconds * 1e-3) / 1e9;
}
