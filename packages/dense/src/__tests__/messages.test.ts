/**
 * Dense's refusals say what is really wrong: the budget in bytes precise enough to tell the two
 * numbers apart, Infinity as "no budget", attentionWeights' thread limit, and a call that overflows
 * the engine memory only because every running thread holds its own score buffer.
 */
import { randn, type Tensor, zeros } from '@attnkit/core';
import { thrownInputError as thrown } from '@attnkit/core/testing';
import { setThreadPolicy } from '@attnkit/kernels';
import { afterEach, describe, expect, it } from 'vitest';
import { attentionWeights, dense, denseAttention } from '../../dist/index.js';

const shaped = (shape: number[], seed: number): Tensor => randn(shape, seed);

afterEach(() => {
  setThreadPolicy({ maxThreads: undefined });
});

describe('maxScoresBytes', () => {
  it('Infinity means no budget: accepted by denseAttention, attentionWeights and notSupportedReasons', () => {
    const q = shaped([1, 2, 5, 4], 1);
    const k = shaped([1, 2, 6, 4], 2);
    const v = shaped([1, 2, 6, 3], 3);
    const budgeted = denseAttention(q, k, v);
    expect(denseAttention(q, k, v, { maxScoresBytes: Number.POSITIVE_INFINITY }).data).toEqual(budgeted.data);
    expect(attentionWeights(q, k, { maxScoresBytes: Number.POSITIVE_INFINITY }).shape).toEqual([1, 2, 5, 6]);
    // 2^15 × 2^14 scores (2 GiB) are above the default budget but fit the engine without one
    const longQ = zeros([1, 1, 2 ** 15, 1]);
    const longK = zeros([1, 1, 2 ** 14, 1]);
    expect(dense.notSupportedReasons(longQ, longK, longK)).toHaveLength(1);
    expect(
      dense.notSupportedReasons(longQ, longK, longK, { maxScoresBytes: Number.POSITIVE_INFINITY }),
    ).toEqual([]);
  });

  it('a malformed budget says what is accepted', () => {
    const q = shaped([1, 1, 4, 4], 1);
    for (const bad of [-1, 0, 1.5, Number.NaN, Number.NEGATIVE_INFINITY]) {
      const error = thrown(() => denseAttention(q, q, q, { maxScoresBytes: bad }));
      expect(error.argument).toBe('options.maxScoresBytes');
      expect(error.expected).toBe('a positive integer number of bytes, or Infinity (no budget)');
    }
  });

  it('just above the budget, the two byte counts differ in the message', () => {
    // 16384 × 16385 float32 scores: 1073807360 bytes, 64 KiB above the 1 GiB default; both print as "1.00 GiB"
    const q = zeros([1, 1, 16384, 1]);
    const k = zeros([1, 1, 16385, 1]);
    const error = thrown(() => denseAttention(q, k, k));
    expect(error.expected).toBe('a score matrix of at most 1.00 GiB (1073741824 bytes)');
    expect(error.received).toBe('the 16384 × 16385 score matrix of 1.00 GiB (1073807360 bytes)');
    // The reason is the budget check's own message (docs/design.md, Variant interface).
    const [reason] = dense.notSupportedReasons(q, k, k);
    expect(reason).toContain('at most 1.00 GiB (1073741824 bytes)');
    expect(reason).toContain('of 1.00 GiB (1073807360 bytes)');
  });
});

describe('attentionWeights and threads', () => {
  it('refuses threads > 1 saying attentionWeights runs on the calling thread, not that dense does', () => {
    const q = shaped([1, 2, 4, 4], 1);
    const error = thrown(() => attentionWeights(q, q, { threads: 2 }));
    expect(error.argument).toBe('options.threads');
    expect(error.message).toBe(
      'options.threads: expected 1 (attentionWeights computes its heads on the calling thread), received 2. ' +
        'Leave threads out; denseAttention and the other variants run on threads.',
    );
    expect(attentionWeights(q, q, { threads: 1 }).shape).toEqual([1, 2, 4, 4]);
  });
});

describe('threads and the engine memory', () => {
  // [1, 16, 8192, 4]: 8.5 MiB of q, k, v, out, lse, but 256 MiB of scores per running thread
  const q = zeros([1, 16, 8192, 4]);

  it('an overflow caused by one score buffer per thread says so and names the threads that fit', () => {
    setThreadPolicy({ maxThreads: 16 });
    const reasons = dense.notSupportedReasons(q, q, q, { threads: 16 });
    expect(reasons).toEqual([
      'with threads: 16, each of the 16 running threads holds its own 256.00 MiB of item scratch: ' +
        'the call needs 4.01 GiB of engine memory, above the 3.94 GiB WebAssembly limit; ' +
        'pass threads: 15 or fewer (one thread needs 0.26 GiB)',
    ]);
    const error = thrown(() => denseAttention(q, q, q, { threads: 16 }));
    expect(error.argument).toBe('options');
    expect(error.message).toContain('pass threads: 15 or fewer');
    expect(error.message).not.toContain('split the batch');
    expect(error.message).not.toContain('dense supports every option');
    expect(dense.notSupportedReasons(q, q, q, { threads: 15 })).toEqual([]);
  });

  it('counts only the threads the pool will run (requests above maxThreads are clamped)', () => {
    setThreadPolicy({ maxThreads: 2 });
    expect(dense.notSupportedReasons(q, q, q, { threads: 16 })).toEqual([]);
    expect(dense.workspaceBytes(q, q, q, { threads: 16 })).toBe(
      dense.workspaceBytes(q, q, q, { threads: 2 }),
    );
  });
});
