/**
 * Split-KV decoding: a call with few (batch, head, query-block) items splits its keys over several
 * work items and merges their partial results (core's LSE merge). Checked against the float64
 * oracle with the conformance tolerance and the 2× rule, and bitwise across thread counts (the split
 * depends on the shape only). Imports the built package: pool workers load the built work module.
 */
import { errorStats, naiveFloat32Attention, randn, referenceAttention } from '@attnkit/core';
import { expectWithin, twoXRule } from '@attnkit/core/testing';
import { startThreads, stopThreads } from '@attnkit/kernels';
import { measureArenaBytes } from '@attnkit/kernels/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flash } from '../../dist/index.js';

const TOLERANCE = { atol: 1e-4, rtol: 1e-4 }; // flash's conformance tolerance

beforeAll(async () => {
  await startThreads(2);
});
afterAll(async () => {
  await stopThreads();
});

describe('split-KV: one query against a long context', () => {
  const cases = [
    { name: 'full', q: [1, 2, 1, 64], k: [1, 2, 4096, 64], options: {} },
    { name: 'causal, GQA, Lq 3', q: [1, 4, 3, 32], k: [1, 2, 3000, 32], options: { causal: true } },
    { name: 'window', q: [1, 1, 2, 16], k: [1, 1, 2600, 16], options: { window: [700, 0] as const } },
    { name: 'kvLengths', q: [2, 1, 1, 16], k: [2, 1, 2048, 16], options: { kvLengths: [2048, 700] } },
  ];
  for (const backend of ['wasm', 'js'] as const) {
    for (const c of cases) {
      it(`${backend}: ${c.name} matches the oracle and is the same bits on 1 and 2 threads`, () => {
        const q = randn(c.q, 11);
        const k = randn(c.k, 12);
        const v = randn(c.k, 13);
        const rows = c.q[0]! * c.q[1]! * c.q[2]!;
        const lse1 = new Float32Array(rows);
        const lse2 = new Float32Array(rows);
        const one = flash.forward(q, k, v, { ...c.options, backend, threads: 1, lse: lse1 });
        const two = flash.forward(q, k, v, { ...c.options, backend, threads: 2, lse: lse2 });
        expect(Array.from(two.data)).toEqual(Array.from(one.data));
        expect(Array.from(lse2)).toEqual(Array.from(lse1));
        const reference = referenceAttention(q, k, v, c.options);
        expectWithin(one.data, reference.out, TOLERANCE, 'out');
        expectWithin(lse1, reference.lse, { atol: 1e-4, rtol: 2 ** -20 }, 'lse');
        const rule = twoXRule(naiveFloat32Attention(q, k, v, c.options), reference.out);
        const ours = errorStats(one.data, reference.out).maxAbs;
        expect(ours, `2× rule: ${ours} > ${rule.bound}`).toBeLessThanOrEqual(rule.bound);
      });
    }
  }

  it('workspaceBytes counts the partial results and bounds what the call takes', () => {
    const q = randn([1, 2, 1, 64], 1);
    const k = randn([1, 2, 4096, 64], 2);
    const measured = measureArenaBytes(() => flash.forward(q, k, k, {}));
    const analytic = flash.workspaceBytes(q, k, k, {});
    expect(measured).toBeLessThanOrEqual(analytic);
    expect(analytic).toBeLessThanOrEqual(1.25 * measured + 65536);
  });
});
