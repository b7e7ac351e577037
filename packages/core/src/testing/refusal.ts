/**
 * "A refused call changes no state" (issue "reliability", items 5, 9, 10), checked the same way for
 * every stateful object (KV caches, the linear recurrent state, the layer's decoder): two identical
 * subjects take the same calls, except that one is first given a call that must be refused. Every
 * result afterwards must be bitwise equal, and the counters the refusal could move (length,
 * capacity) must not move. Bitwise, not within a tolerance: the two subjects run the same code on
 * the same inputs, so any difference at all is state the refusal left behind.
 */
import { expect } from 'vitest';
import { AttentionInputError } from '../errors.js';
import type { Tensor } from '../types.js';

/** Positions [from, to) of axis 2 of a [B, H, L, D] tensor, as a new contiguous tensor (a decoding step's slice). */
export function sliceSequence(t: Tensor, from: number, to: number): Tensor {
  const [b, h, length, d] = t.shape as [number, number, number, number];
  const rows = to - from;
  const data = new Float32Array(b * h * rows * d);
  for (let head = 0; head < b * h; head++) {
    data.set(t.data.subarray((head * length + from) * d, (head * length + to) * d), head * rows * d);
  }
  return { data, shape: [b, h, rows, d] };
}

/** Writes `part` ([B, H, rows, D]) into rows [start, …) of axis 2 of `whole` (data of shape `shape`). */
export function placeSequence(
  whole: Float32Array,
  shape: readonly number[],
  part: Tensor,
  start: number,
): void {
  const [b, h, length, d] = shape as [number, number, number, number];
  const rows = part.shape[2]!;
  for (let head = 0; head < b * h; head++) {
    whole.set(part.data.subarray(head * rows * d, (head + 1) * rows * d), (head * length + start) * d);
  }
}

export interface RefusalScenario<S> {
  /** Makes a fresh subject; called twice, it must build the same thing both times. */
  create(): S;
  /** Calls made on both subjects before the refusal (a partly filled cache, a wrapped ring). */
  before?(subject: S): void;
  /** The call that must be refused. */
  refuse(subject: S): unknown;
  /** The `argument` the refusal's AttentionInputError must name. */
  argument: string;
  /** Normal use after the refusal; the results are compared bitwise between the two subjects. */
  after(subject: S): readonly Float32Array[];
  /** The counters the refusal must leave alone (length, capacity, …). */
  observe(subject: S): Record<string, number>;
}

/** Asserts that the float32 arrays have the same bits (−0 ≠ 0, NaN payloads included). */
export function expectBitwiseEqual(actual: Float32Array, expected: Float32Array, label = 'result'): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      expect.fail(`${label}: element ${i} differs: ${actual[i]} vs ${expected[i]} (of ${a.length})`);
    }
  }
}

/** Runs the scenario: the refusal names `argument`, moves no counter, and leaves no trace in results. */
export function expectRefusalChangesNothing<S>(scenario: RefusalScenario<S>): void {
  const refused = scenario.create();
  const untouched = scenario.create();
  scenario.before?.(refused);
  scenario.before?.(untouched);
  const counters = scenario.observe(refused);
  let error: unknown;
  try {
    scenario.refuse(refused);
  } catch (caught) {
    error = caught;
  }
  expect(error, 'the call was not refused').toBeInstanceOf(AttentionInputError);
  expect((error as AttentionInputError).argument, (error as Error).message).toBe(scenario.argument);
  expect(scenario.observe(refused), 'counters after the refusal').toEqual(counters);
  const results = scenario.after(refused);
  const expected = scenario.after(untouched);
  expect(results.length).toBe(expected.length);
  for (let i = 0; i < results.length; i++) {
    expectBitwiseEqual(results[i]!, expected[i]!, `result ${i} after the refusal`);
  }
  expect(scenario.observe(refused), 'counters at the end').toEqual(scenario.observe(untouched));
}
