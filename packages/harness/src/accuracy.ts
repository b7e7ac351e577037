/**
 * Accuracy against core's float64 oracle. The oracle is O(Lq·Lk·D) plain loops, far slower than
 * the variants, so it runs on the last `rowsPerHead` query rows of every head (see lastRows: the
 * slice keeps its mask exactly) — the rows that see the most keys under a causal mask, where
 * float32 accumulation error is largest.
 *
 * Exact variants must stay within 2× the error of the plain float32 dense path on the same rows
 * (flash-attention's acceptance rule, docs/design.md, Accuracy); approximate ones (linear) report their
 * distance from softmax attention with no pass/fail.
 */
import { type ErrorStats, errorStats, naiveFloat32Attention, referenceAttention } from '@attnkit/core';
import { type AttentionInputs, lastRows, lastRowsTensor } from './inputs.js';
import { type MaskOptions, sliceMaskOptions } from './mask-spec.js';
import { type Accuracy, type ErrorSummary, finiteOrNull } from './results.js';
import type { MaskSpec } from './suite-schema.js';

/**
 * The floor of the 2× rule, relative to the largest |ref| on the slice: 8 float32 ulps — the same
 * floor as core's conformance kit. It only matters when the naive loop is (almost) exact, where a
 * correct method summing in another order may still differ by a few roundings.
 */
export const TWO_X_RULE_FLOOR_ULPS = 8 * 2 ** -24;

export interface OracleSlice {
  readonly rowsPerHead: number;
  readonly expected: Float64Array;
  readonly naive: ErrorSummary;
  readonly naiveMaxAbs: number;
  /** max |ref| on the slice (scales the rule's floor). */
  readonly referenceMaxAbs: number;
  readonly elements: number;
}

export function summarise(stats: ErrorStats): ErrorSummary {
  return {
    maxAbs: finiteOrNull(stats.maxAbs),
    maxRel: finiteOrNull(stats.maxRel),
    rms: finiteOrNull(stats.rms),
    failing: stats.failing,
    worstIndex: stats.worstIndex,
  };
}

/** Loose bounds so `failing` counts only gross errors (and NaN); the pass/fail verdict is the 2× rule. */
const COUNTING_TOLERANCE = { atol: 1e-3, rtol: 1e-3 };

/**
 * The options of the oracle's slice (the last `rowsPerHead` query rows of a case): the case's mask
 * and score modifiers, built for the slice so each of its rows keeps exactly its keys and scores
 * (mask-spec.ts, sliceMaskOptions).
 */
export function oracleSliceOptions(
  inputs: AttentionInputs,
  mask: MaskSpec,
  rowsPerHead: number,
): MaskOptions {
  const [, qHeads = 1, qLength = 1] = inputs.q.shape;
  const kvLength = inputs.k.shape[2] ?? 1;
  return sliceMaskOptions(mask, { qHeads, qLength, kvLength }, rowsPerHead);
}

export function prepareOracle(inputs: AttentionInputs, mask: MaskSpec, rowsPerHead: number): OracleSlice {
  const options = oracleSliceOptions(inputs, mask, rowsPerHead);
  const qSlice = lastRowsTensor(inputs.q, rowsPerHead);
  const expected = referenceAttention(qSlice, inputs.k, inputs.v, options).out;
  const naive = naiveFloat32Attention(qSlice, inputs.k, inputs.v, options);
  const stats = errorStats(naive, expected, COUNTING_TOLERANCE);
  let referenceMaxAbs = 0;
  for (let i = 0; i < expected.length; i++)
    referenceMaxAbs = Math.max(referenceMaxAbs, Math.abs(expected[i] ?? 0));
  return {
    rowsPerHead: qSlice.shape[2] ?? rowsPerHead,
    expected,
    naive: summarise(stats),
    naiveMaxAbs: stats.maxAbs,
    referenceMaxAbs,
    elements: expected.length,
  };
}

export type AccuracyRole = 'exact' | 'approximate' | 'reference';

/** Compares the matching rows of a full output `[B, Hq, Lq, Dv]` to the oracle slice. */
export function measureAccuracy(
  output: ArrayLike<number>,
  outputShape: readonly number[],
  oracle: OracleSlice,
  role: AccuracyRole,
): Accuracy {
  return measureSliceAccuracy(lastRows(output, outputShape, oracle.rowsPerHead), oracle, role);
}

/** Same as measureAccuracy for rows already sliced (peers slice in their own process). */
export function measureSliceAccuracy(
  actual: ArrayLike<number>,
  oracle: OracleSlice,
  role: AccuracyRole,
): Accuracy {
  const stats = errorStats(actual, oracle.expected, COUNTING_TOLERANCE);
  const vsOracle = summarise(stats);
  const base = {
    reference: 'float64-oracle' as const,
    rowsPerHead: oracle.rowsPerHead,
    elements: oracle.elements,
    vsOracle,
    naiveFloat32: oracle.naive,
  };
  if (role === 'reference') return { ...base, rule: { name: 'reference' } };
  if (role === 'approximate') return { ...base, rule: { name: 'approximate' } };
  const bound = 2 * oracle.naiveMaxAbs + TWO_X_RULE_FLOOR_ULPS * oracle.referenceMaxAbs;
  // NaN fails: the comparison is false.
  return {
    ...base,
    rule: { name: '2x-naive-float32', bound, pass: stats.maxAbs <= bound && stats.failing === 0 },
  };
}

/** Distance of two float32 outputs (e.g. an mha layer on a variant vs on dense). */
export function compareOutputs(actual: ArrayLike<number>, expected: ArrayLike<number>): ErrorSummary {
  return summarise(errorStats(actual, expected, COUNTING_TOLERANCE));
}
