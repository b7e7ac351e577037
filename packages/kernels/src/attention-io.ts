/**
 * The bookkeeping every variant shares around its kernel loop: place q, k, v in the arena once per
 * call (DESIGN §4: never per tile), reserve the output and lse rows, and copy the result back out
 * into the caller's tensor. Layout in the arena matches the tensors (BHSD, row-major), so
 * head (b, h) of q starts at qOffset + ((b · Hq + h) · Lq) · Dk.
 */
import type { AttentionProblem, Tensor } from '@attnkit/core';
import type { Engine } from './engine.js';

export interface PlacedAttention {
  /** Arena mark to release when the call ends. */
  readonly mark: number;
  readonly q: number;
  readonly k: number;
  readonly v: number;
  /** [B, Hq, Lq, Dv] output rows. */
  readonly out: number;
  /** [B, Hq, Lq] log-sum-exp rows. */
  readonly lse: number;
}

/**
 * Copies q, k, v into the engine's arena and reserves out and lse. The caller releases the arena
 * in a `finally`: `try { ...; return finishAttention(...) } finally { engine.arena.release(placed.mark) }`.
 */
export function placeAttention(
  engine: Engine,
  problem: AttentionProblem,
  q: Tensor,
  k: Tensor,
  v: Tensor,
): PlacedAttention {
  const { arena } = engine;
  const mark = arena.mark();
  const qOffset = arena.put(q.data);
  const kOffset = arena.put(k.data);
  const vOffset = arena.put(v.data);
  const rows = problem.batch * problem.qHeads * problem.qLength;
  const out = arena.alloc(rows * problem.valueDim);
  const lse = arena.alloc(rows);
  return { mark, q: qOffset, k: kOffset, v: vOffset, out, lse };
}

/** Offsets of head (b, h) for q/out/lse (query head h) and k/v (its kv head, GQA). */
export function headOffsets(problem: AttentionProblem, placed: PlacedAttention, b: number, h: number) {
  const kvHead = Math.floor(h / problem.groupSize);
  const qRow = (b * problem.qHeads + h) * problem.qLength;
  const kvRow = (b * problem.kvHeads + kvHead) * problem.kvLength;
  return {
    q: placed.q + qRow * problem.headDim,
    out: placed.out + qRow * problem.valueDim,
    lse: placed.lse + qRow,
    k: placed.k + kvRow * problem.headDim,
    v: placed.v + kvRow * problem.valueDim,
  };
}

/** Copies the result out of the arena into `problem.out` (or a new tensor) and `problem.lse`. */
export function finishAttention(engine: Engine, problem: AttentionProblem, placed: PlacedAttention): Tensor {
  const { arena } = engine;
  const rows = problem.batch * problem.qHeads * problem.qLength;
  const shape = [problem.batch, problem.qHeads, problem.qLength, problem.valueDim];
  const out = problem.out ?? { data: new Float32Array(rows * problem.valueDim), shape };
  arena.read(placed.out, rows * problem.valueDim, out.data);
  if (problem.lse) arena.read(placed.lse, rows, problem.lse);
  return out;
}
