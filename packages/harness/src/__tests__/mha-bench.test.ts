import { randn } from '@attnkit/core';
import { initMultiHeadWeights } from '@attnkit/mha';
import { describe, expect, it } from 'vitest';
import { makeMhaInputs } from '../cases/mha-case.js';
import type { BenchCase } from '../suite.js';

const benchCase: BenchCase = {
  id: 'gqa/N=16',
  groupId: 'gqa',
  kind: 'mha',
  n: 16,
  shape: { batch: 2, qHeads: 4, kvHeads: 2, qLength: 16, kvLength: 16, headDim: 8, valueDim: 6 },
  mask: { causal: true },
  dModel: 48,
  seed: 2 ** 31 + 12345, // above 2^31: the harness folds it into mha's seed range
};

describe('the multi-head layer rows', () => {
  it('seed x with the case seed and the Xavier weights (with biases) with the next, so runs reproduce', async () => {
    const { x, weights } = makeMhaInputs(benchCase);
    expect(x.shape).toEqual([2, 16, 48]);
    expect(x.data).toEqual(randn([2, 16, 48], 12345).data);
    const expected = initMultiHeadWeights({
      dModel: 48,
      heads: 4,
      kvHeads: 2,
      headDim: 8,
      valueDim: 6,
      bias: true,
      seed: 12346,
    });
    expect(Object.keys(weights).sort()).toEqual(['bk', 'bo', 'bq', 'bv', 'wk', 'wo', 'wq', 'wv']);
    for (const [name, tensor] of Object.entries(expected)) {
      if (!tensor) continue;
      const made = (weights as unknown as Record<string, typeof tensor>)[name];
      expect(made?.shape, name).toEqual(tensor.shape);
      expect(made?.data, name).toEqual(tensor.data);
    }
    expect(weights.wv?.shape).toEqual([48, 2 * 6]);
  });
});
