/**
 * The conformance kit run on the oracle itself (rounded to float32, validated by core): a variant
 * that is correct by construction must pass every case, so a failure here is a bug in the kit.
 * It declares every mask and score-modifier feature, so the kit's mask cases run; a second copy
 * that refuses the mask, scoreMod, bias and sinks options checks the kit's refusal path.
 * Tolerance: rounding the float64 result to float32 costs at most half an ulp, 2^-24 relative;
 * atol 1e-30 only lets exact zeros match.
 */

import type { AttentionOptions, AttentionVariant, Tensor } from '@attnkit/core';
import { assertSupported, parseAttentionCall, referenceAttention, zeros } from '@attnkit/core';
import { describeVariant, MASK_FEATURES } from '@attnkit/core/testing';

function roundedOracle(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const call = parseAttentionCall(q, k, v, options);
  const { problem } = call;
  const { out, lse } = referenceAttention(q, k, v, options);
  const result = call.out ?? zeros([problem.batch, problem.qHeads, problem.qLength, problem.valueDim]);
  result.data.set(out);
  call.lse?.set(lse);
  return result;
}

// The contract's analytic methods: a malformed call gets one "invalid input" reason (docs/design.md).
const oracleVariant: AttentionVariant = {
  name: 'oracle',
  exact: true,
  notSupportedReasons(q, k, v, options) {
    try {
      parseAttentionCall(q, k, v, options);
      return [];
    } catch (error) {
      return [`invalid input: ${(error as Error).message}`];
    }
  },
  forward: roundedOracle,
  workspaceBytes: () => 0,
};

describeVariant(oracleVariant, { tolerance: { atol: 1e-30, rtol: 2 ** -24 }, maskSupport: MASK_FEATURES });

const REFUSED = ['mask', 'scoreMod', 'bias', 'sinks'] as const;

function unmaskedReasons(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): string[] {
  const reasons = oracleVariant.notSupportedReasons(q, k, v, options);
  if (reasons.length > 0) return reasons;
  return REFUSED.filter((key) => options[key] !== undefined).map(
    (key) => `${key}: the oracle without masks takes no ${key} option`,
  );
}

// The oracle as a variant that supports no mask feature (as a variant not yet ported to them).
const unmaskedVariant: AttentionVariant = {
  name: 'oracle without masks',
  exact: true,
  notSupportedReasons: unmaskedReasons,
  forward(q, k, v, options) {
    parseAttentionCall(q, k, v, options);
    assertSupported('oracle without masks', unmaskedReasons(q, k, v, options));
    return roundedOracle(q, k, v, options);
  },
  workspaceBytes: () => 0,
};

describeVariant(unmaskedVariant, { tolerance: { atol: 1e-30, rtol: 2 ** -24 } });
