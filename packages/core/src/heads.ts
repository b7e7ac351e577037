/**
 * Where a head's rows start in the BHSD tensors (docs/design.md, Tensors): the one place the GQA
 * rule is written. Query head h of batch entry b reads kv head floor(h / groupSize), groupSize =
 * Hq / Hkv. Rows, not floats: multiply by Dk for q and k, by Dv for out and v, by 1 for lse.
 */
import type { AttentionProblem } from './types.js';

type HeadShape = Pick<AttentionProblem, 'qHeads' | 'kvHeads' | 'groupSize' | 'qLength' | 'kvLength'>;

/** The kv head query head h reads (GQA / MQA). */
export function kvHeadOf(problem: Pick<AttentionProblem, 'groupSize'>, h: number): number {
  return Math.floor(h / problem.groupSize);
}

/** First row of query head (b, h) in q, out and lse. */
export function queryHeadRow(problem: HeadShape, b: number, h: number): number {
  return (b * problem.qHeads + h) * problem.qLength;
}

/** First row of the kv head that query head (b, h) reads, in k and v. */
export function kvHeadRow(problem: HeadShape, b: number, h: number): number {
  return (b * problem.kvHeads + kvHeadOf(problem, h)) * problem.kvLength;
}
