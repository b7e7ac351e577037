/**
 * The one FLOP model of docs/design.md, FLOP model: every (query, key) pair a row attends costs Dk multiply-adds for
 * the score and Dv for the output, 2 FLOPs each:
 *   FLOPs = 2 · (Dk + Dv) · pairs,  pairs = visiblePairs(problem) (all B·Hq·Lq·Lk when unmasked).
 * It counts the problem's work, not an implementation's, so GFLOP/s compares variants on the same
 * work (for linear attention: the softmax work it stands in for).
 */
import { visiblePairs } from './masks.js';
import type { AttentionProblem } from './types.js';

export function attentionFlops(problem: AttentionProblem): number {
  return 2 * (problem.headDim + problem.valueDim) * visiblePairs(problem);
}

/** GFLOP/s of a call of `problem` that took `ms` milliseconds. */
export function attentionGflops(problem: AttentionProblem, ms: number): number {
  return attentionFlops(problem) / (ms * 1e6);
}
