/** createLinearState validates its configuration and every step's shapes at the boundary. */
import { AttentionInputError, randn, type Tensor } from '@attnkit/core';
import { expectRefusalChangesNothing, sliceSequence } from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';
import { createLinearState, type LinearState } from '../index.js';

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

describe('a refused step changes nothing (same bits afterwards as a state that never saw it)', () => {
  const q = randn([1, 4, 12, 8], 11);
  const k = randn([1, 2, 12, 8], 12);
  const v = randn([1, 2, 12, 6], 13);
  const step = (state: LinearState, from: number, to: number) =>
    state.step(sliceSequence(q, from, to), sliceSequence(k, from, to), sliceSequence(v, from, to)).data;
  const before = (state: LinearState) => void step(state, 0, 3);
  const after = (state: LinearState) => [step(state, 3, 4), step(state, 4, 7), step(state, 7, 12)];
  const next = (t: Tensor) => sliceSequence(t, 3, 5);
  const refusals: [string, string, (state: LinearState) => unknown][] = [
    ['q with the wrong query heads', 'q', (s) => s.step(randn([1, 2, 2, 8], 4), next(k), next(v))],
    [
      'k with fewer tokens than q',
      'k',
      (s) => s.step(next(q), sliceSequence(k, 3, 4), sliceSequence(v, 3, 4)),
    ],
    ['v of the wrong value dim', 'v', (s) => s.step(next(q), next(k), randn([1, 2, 2, 5], 5))],
    ['v with fewer tokens than k', 'v', (s) => s.step(next(q), next(k), sliceSequence(v, 3, 4))],
    [
      'k.data too short',
      'k.data',
      (s) => s.step(next(q), { data: new Float32Array(5), shape: [1, 2, 2, 8] }, next(v)),
    ],
    ['q not a tensor', 'q', (s) => s.step(new Float32Array(64) as never, next(k), next(v))],
  ];
  for (const featureMap of ['elu', 'favor'] as const) {
    for (const [name, argument, refuse] of refusals) {
      it(`${featureMap}: ${name}, then steps of 1, 3 and 5 tokens`, () => {
        expectRefusalChangesNothing({
          create: () => createLinearState({ ...base, featureMap, chunkSize: 2 }),
          before,
          refuse,
          argument,
          after,
          observe: (state) => ({ length: state.length }),
        });
      });
    }
  }
});
