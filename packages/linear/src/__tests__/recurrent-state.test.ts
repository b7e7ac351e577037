/** createLinearState validates its configuration and every step's shapes at the boundary. */
import { AttentionInputError, randn } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { createLinearState } from '../index.js';

function argumentOf(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(AttentionInputError);
    return (error as AttentionInputError).argument;
  }
  throw new Error('expected an AttentionInputError');
}

const base = { batch: 1, qHeads: 4, kvHeads: 2, headDim: 8, valueDim: 6 };

describe('createLinearState', () => {
  const invalid: [Record<string, unknown>, string][] = [
    [{ ...base, batch: 0 }, 'config.batch'],
    [{ ...base, qHeads: 3 }, 'config.qHeads'],
    [{ ...base, headDim: 2.5 }, 'config.headDim'],
    [{ ...base, featureMap: 'softmax' }, 'config.featureMap'],
    [{ ...base, featureMap: 'favor', features: 0 }, 'config.features'],
    [{ ...base, chunk: 4 }, 'config.chunk'],
    [{ ...base, scale: 0.5 }, 'config'],
    [{ ...base, featureMap: 'favor', scale: 0 }, 'config.scale'],
    [{ ...base, seed: 1 }, 'config'],
  ];
  for (const [config, name] of invalid) {
    it(`${JSON.stringify(config)} → ${name}`, () => {
      expect(argumentOf(() => createLinearState(config as never))).toBe(name);
    });
  }

  it('a step must match the configuration and bring as many keys as queries', () => {
    const state = createLinearState(base);
    const q = randn([1, 4, 3, 8], 1);
    const k = randn([1, 2, 3, 8], 2);
    const v = randn([1, 2, 3, 6], 3);
    expect(state.step(q, k, v).shape).toEqual([1, 4, 3, 6]);
    expect(
      argumentOf(() => state.step(randn([1, 2, 3, 8], 4), randn([1, 1, 3, 8], 5), randn([1, 1, 3, 6], 6))),
    ).toBe('q');
    expect(argumentOf(() => state.step(q, randn([1, 2, 4, 8], 7), randn([1, 2, 4, 6], 8)))).toBe('k');
    expect(argumentOf(() => state.step(q, k, randn([1, 2, 3, 5], 9)))).toBe('v');
    expect(state.length).toBe(3); // failed steps leave the state alone
  });
});
