/**
 * The FLOP model of docs/design.md, FLOP model, core's `attentionFlops`: every (query, key) pair a row attends
 * costs Dk multiply-adds for the score and Dv for the output, 2 FLOPs each,
 *   FLOPs = 2 · (Dk + Dv) · visiblePairs.
 * This module only builds the AttentionProblem for a suite case (no tensors needed) and adds the
 * multi-head layer's projections. The count depends on the problem, not on the implementation, so
 * GFLOP/s compares variants on the same work (for linear attention it is the softmax work the
 * approximation stands in for).
 */
import {
  type AttentionProblem,
  attentionFlops as coreAttentionFlops,
  problemForShape,
  visiblePairs,
} from '@attnkit/core';
import { type MaskOptions, maskOptions } from './mask-spec.js';
import type { CaseShape, MaskSpec } from './suite-schema.js';

/**
 * An AttentionProblem for a shape and mask without tensors (the FLOP model and budgets need no
 * data). Pass the case's own option values when there are any: building the problem compiles the
 * mask's general part, cached for those values (the calls that follow reuse it).
 */
export function problemFor(
  shape: CaseShape,
  mask: MaskSpec,
  options: MaskOptions = maskOptions(mask, shape),
): AttentionProblem {
  return problemForShape(shape, options);
}

/** Pairs actually attended (core's visiblePairs): B·Hq·Lq·Lk without a mask; a 1/8-dense layout is charged 1/8. */
export function attendedPairs(shape: CaseShape, mask: MaskSpec, options?: MaskOptions): number {
  return visiblePairs(problemFor(shape, mask, options));
}

export function attentionFlops(shape: CaseShape, mask: MaskSpec, options?: MaskOptions): number {
  return coreAttentionFlops(problemFor(shape, mask, options));
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
