/**
 * The conformance kit run on the oracle itself (rounded to float32, validated by core): a variant
 * that is correct by construction must pass every case, so a failure here is a bug in the kit.
 * Tolerance: rounding the float64 result to float32 costs at most half an ulp, 2^-24 relative;
 * atol 1e-30 only lets exact zeros match.
 */

import type { AttentionOptions, AttentionVariant, Tensor } from '@attnkit/core';
import { referenceAttention, validateAttentionInputs, zeros } from '@attnkit/core';
import { describeVariant } from '@attnkit/core/testing';

function roundedOracle(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const problem = validateAttentionInputs(q, k, v, options);
  const { out, lse } = referenceAttention(q, k, v, options);
  const result = problem.out ?? zeros([problem.batch, problem.qHeads, problem.qLength, problem.valueDim]);
  result.data.set(out);
  problem.lse?.set(lse);
  return result;
}

const oracleVariant: AttentionVariant = {
  name: 'oracle',
  exact: true,
  notSupportedReasons: () => [],
  forward: roundedOracle,
  workspaceBytes: () => 0,
};

describeVariant(oracleVariant, { tolerance: { atol: 1e-30, rtol: 2 ** -24 } });
