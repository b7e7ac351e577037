import { AttentionInputError, randn, type Tensor } from '@attnkit/core';
import {
  DECODE_TOLERANCE,
  expectBitwiseEqual,
  expectRefusalChangesNothing,
  expectWithin,
  placeSequence,
  sliceSequence,
} from '@attnkit/core/testing';
import { defaultBackend } from '@attnkit/kernels';
import { describe, expect, it } from 'vitest';
import {
  createRollingKVCache,
  type RollingKVCache,
  type RollingKVCacheAttendOptions,
  slidingWindowAttention,
} from '../index.js';

// Decode steps against the full pass: core/testing's DECODE_TOLERANCE (its justification is there).

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>) =>
  expectWithin(actual, expected, DECODE_TOLERANCE);

const B = 2;
const HQ = 4;
const HKV = 2;
const L = 150; // much longer than the window: its pages are given back and reused ~20 times
const WINDOW = 6;
const DK = 8;
const DV = 5;
const q = randn([B, HQ, L, DK], 51);
const k = randn([B, HKV, L, DK], 52);
const v = randn([B, HKV, L, DV], 53);
const full = slidingWindowAttention(q, k, v, { window: [WINDOW, 0], causal: true });

describe('rolling KV cache decoding equals the full sliding-window pass', () => {
  for (const backend of ['js', undefined] as const) {
    it(`token by token with a ring of window + 1 entries (backend ${backend ?? 'default'})`, () => {
      const cache = createRollingKVCache({
        batch: B,
        kvHeads: HKV,
        headDim: DK,
        valueDim: DV,
        window: WINDOW,
        backend,
      });
      expect(cache.capacity).toBe(WINDOW + 1);
      expect(cache.backend).toBe(backend ?? defaultBackend());
      const out = new Float32Array(full.data.length);
      const lse = new Float32Array(B * HQ * L);
      const fullLse = new Float32Array(B * HQ * L);
      slidingWindowAttention(q, k, v, { window: [WINDOW, 0], causal: true, lse: fullLse });
      const stepLse = new Float32Array(B * HQ);
      for (let t = 0; t < L; t++) {
        cache.append(sliceSequence(k, t, t + 1), sliceSequence(v, t, t + 1));
        placeSequence(out, full.shape, cache.attend(sliceSequence(q, t, t + 1), { lse: stepLse }), t);
        for (let row = 0; row < B * HQ; row++) lse[row * L + t] = stepLse[row]!;
      }
      expect(cache.length).toBe(L);
      expectClose(out, full.data);
      expectClose(lse, fullLse);
    });
  }

  it('in steps of 3 queries (maxStepTokens: 3), including a short last step', () => {
    const cache = createRollingKVCache({
      batch: B,
      kvHeads: HKV,
      headDim: DK,
      valueDim: DV,
      window: WINDOW,
      maxStepTokens: 3,
    });
    const out = new Float32Array(full.data.length);
    for (let start = 0; start < L; start += 3) {
      const end = Math.min(L, start + 3);
      cache.append(sliceSequence(k, start, end), sliceSequence(v, start, end));
      placeSequence(out, full.shape, cache.attend(sliceSequence(q, start, end)), start);
    }
    expectClose(out, full.data);
  });

  it('after a long prefill appended at once (only the last window + 1 positions are kept)', () => {
    const prefill = 100;
    const cache = createRollingKVCache({ batch: B, kvHeads: HKV, headDim: DK, valueDim: DV, window: WINDOW });
    cache.append(sliceSequence(k, 0, prefill), sliceSequence(v, 0, prefill));
    const out = new Float32Array(full.data.length);
    placeSequence(out, full.shape, cache.attend(sliceSequence(q, prefill - 1, prefill)), prefill - 1);
    for (let t = prefill; t < L; t++) {
      cache.append(sliceSequence(k, t, t + 1), sliceSequence(v, t, t + 1));
      placeSequence(out, full.shape, cache.attend(sliceSequence(q, t, t + 1)), t);
    }
    const tail = (data: Float32Array) => {
      const rows: number[] = [];
      for (let head = 0; head < B * HQ; head++) {
        rows.push(...data.subarray((head * L + prefill - 1) * DV, (head + 1) * L * DV));
      }
      return rows;
    };
    expectClose(tail(out), tail(full.data));
  });

  it('window 0 attends only the current token', () => {
    const cache = createRollingKVCache({ batch: B, kvHeads: HKV, headDim: DK, valueDim: DV, window: 0 });
    const expected = slidingWindowAttention(q, k, v, { window: [0, 0], scale: 0.5 });
    const out = new Float32Array(expected.data.length);
    for (let t = 0; t < 20; t++) {
      cache.append(sliceSequence(k, t, t + 1), sliceSequence(v, t, t + 1));
      placeSequence(out, expected.shape, cache.attend(sliceSequence(q, t, t + 1), { scale: 0.5 }), t);
    }
    const firstRows = (data: Float32Array) => {
      const rows: number[] = [];
      for (let head = 0; head < B * HQ; head++)
        rows.push(...data.subarray(head * L * DV, (head * L + 20) * DV));
      return rows;
    };
    expectClose(firstRows(out), firstRows(expected.data));
  });
});

describe('rolling KV cache errors', () => {
  const make = () =>
    createRollingKVCache({ batch: B, kvHeads: HKV, headDim: DK, valueDim: DV, window: WINDOW });

  it('refuses more queries than maxStepTokens (their keys are already overwritten)', () => {
    const cache = make();
    cache.append(sliceSequence(k, 0, 10), sliceSequence(v, 0, 10));
    expect(() => cache.attend(sliceSequence(q, 8, 10))).toThrow(/maxStepTokens/);
  });

  it('refuses attend on an empty cache, causal: false and options it cannot honour', () => {
    const cache = make();
    expect(() => cache.attend(sliceSequence(q, 0, 1))).toThrow(/empty rolling KV cache/);
    cache.append(sliceSequence(k, 0, 1), sliceSequence(v, 0, 1));
    expect(() => cache.attend(sliceSequence(q, 0, 1), { causal: false })).toThrow(/options\.causal/);
    expect(() => cache.attend(sliceSequence(q, 0, 1), { window: [3, 0] } as never)).toThrow(
      /options\.window/,
    );
  });

  it('refuses appends of the wrong shape and bad creation options', () => {
    const cache = make();
    expect(() => cache.append(randn([B, HKV, 1, DK + 1], 1), sliceSequence(v, 0, 1))).toThrow(
      AttentionInputError,
    );
    expect(() => cache.append(sliceSequence(k, 0, 2), sliceSequence(v, 0, 1))).toThrow(/^v: /);
    expect(() => createRollingKVCache({ batch: 1, kvHeads: 1, headDim: 4, valueDim: 4, window: -1 })).toThrow(
      /options\.window/,
    );
    expect(() =>
      createRollingKVCache({ batch: 1, kvHeads: 1, headDim: 4, valueDim: 4, window: 2, maxStepTokens: 0 }),
    ).toThrow(/options\.maxStepTokens/);
  });

  it('reset() starts a new sequence', () => {
    const cache = make();
    cache.append(sliceSequence(k, 0, 30), sliceSequence(v, 0, 30));
    cache.reset();
    expect(cache.length).toBe(0);
    cache.append(sliceSequence(k, 0, 1), sliceSequence(v, 0, 1));
    expectClose(cache.attend(sliceSequence(q, 0, 1)).data, sliceSequence(full, 0, 1).data);
  });
});

describe('a refused call changes nothing (same bits afterwards as a ring that never saw it)', () => {
  const slice = sliceSequence;
  const make = () =>
    createRollingKVCache({
      batch: B,
      kvHeads: HKV,
      headDim: DK,
      valueDim: DV,
      window: WINDOW,
      maxStepTokens: 2,
    });
  const counters = (cache: RollingKVCache) => ({ length: cache.length, capacity: cache.capacity });
  // 11 positions, window + maxStepTokens = 8: pages have been given back and reused, so a stray
  // write would overwrite a live key.
  const before = (cache: RollingKVCache) => cache.append(slice(k, 0, 11), slice(v, 0, 11));
  /** Steps of 1 and 2 tokens past another wrap, keeping every out and lse. */
  const decode = (cache: RollingKVCache) => {
    const results: Float32Array[] = [];
    for (let t = 11; t < 30; t += t % 2 === 0 ? 2 : 1) {
      const end = Math.min(30, t + (t % 2 === 0 ? 2 : 1));
      cache.append(slice(k, t, end), slice(v, t, end));
      const lse = new Float32Array(B * HQ * (end - t));
      results.push(cache.attend(slice(q, t, end), { lse }).data, lse);
    }
    return results;
  };

  for (const [name, argument, refuse] of [
    [
      'k of the wrong head dim',
      'k',
      (c: RollingKVCache) => c.append(randn([B, HKV, 1, DK + 1], 1), slice(v, 11, 12)),
    ],
    [
      'v with more positions than k',
      'v',
      (c: RollingKVCache) => c.append(slice(k, 11, 12), slice(v, 11, 13)),
    ],
    [
      'v of the wrong batch',
      'v',
      (c: RollingKVCache) => c.append(slice(k, 11, 12), randn([1, HKV, 1, DV], 2)),
    ],
    ['attend with more queries than maxStepTokens', 'q', (c: RollingKVCache) => c.attend(slice(q, 8, 11))],
    [
      'attend with an unknown option',
      'options.window',
      (c: RollingKVCache) => c.attend(slice(q, 10, 11), { window: [2, 0] } as never),
    ],
  ] as const) {
    it(`${name}, then decoding on`, () => {
      expectRefusalChangesNothing({
        create: make,
        before,
        refuse,
        argument,
        after: decode,
        observe: counters,
      });
    });
  }
});

describe('a window the byte limit cannot hold is named as the caller wrote it (item 9)', () => {
  const config = { batch: 1, kvHeads: 1, headDim: 4, valueDim: 4 };

  it('over options.maxBytes: options.window, and the message names the limit', () => {
    // window 63 + 1 step = 64 positions in pages of 64: at most 2 pages of 64 · 8 floats · 4 bytes = 4096 bytes > 2048
    let error: unknown;
    try {
      createRollingKVCache({ ...config, window: 63, maxBytes: 2048 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AttentionInputError);
    expect((error as AttentionInputError).argument).toBe('options.window');
    expect((error as Error).message).toBe(
      'options.window: expected a cache of at most 2048 bytes (options.maxBytes), received window + maxStepTokens = 64 positions in pages of 64 (at most 2 pages of 2048 bytes per sequence, 1 sequence) needing 4096 bytes. Use a smaller window, raise maxBytes, or split the batch over several caches.',
    );
    const atLimit = createRollingKVCache({ ...config, window: 31, maxBytes: 2048 }); // exactly at the limit
    expect([atLimit.capacity, atLimit.pageSize, atLimit.storageBytes]).toEqual([32, 32, 2048]);
  });

  it('over the WebAssembly memory limit: options.window, before anything is allocated', () => {
    expect(() => createRollingKVCache({ ...config, window: 2 ** 28 })).toThrow(/^options\.window: /);
  });
});

describe('step(q, k, v): append and attend in one call, both checked before the ring is written', () => {
  const make = () =>
    createRollingKVCache({
      batch: B,
      kvHeads: HKV,
      headDim: DK,
      valueDim: DV,
      window: WINDOW,
      maxStepTokens: 2,
    });
  const counters = (cache: RollingKVCache) => ({ length: cache.length, capacity: cache.capacity });
  const stepOf = (cache: RollingKVCache, from: number, to: number, options?: RollingKVCacheAttendOptions) =>
    cache.step(sliceSequence(q, from, to), sliceSequence(k, from, to), sliceSequence(v, from, to), options);
  const before = (cache: RollingKVCache) => {
    for (let t = 0; t < 11; t++) stepOf(cache, t, t + 1);
  };
  const decodeOn = (cache: RollingKVCache) => [11, 13, 14, 16, 17].map((t) => stepOf(cache, t, t + 2).data);

  it('gives the same bits as append then attend, and the full pass within rounding', () => {
    const stepped = make();
    const split = make();
    const out = new Float32Array(full.data.length);
    for (let t = 0; t < 40; t += 2) {
      const stepOut = stepOf(stepped, t, t + 2, { scale: 0.3 });
      split.append(sliceSequence(k, t, t + 2), sliceSequence(v, t, t + 2));
      expectBitwiseEqual(stepOut.data, split.attend(sliceSequence(q, t, t + 2), { scale: 0.3 }).data);
      placeSequence(out, full.shape, stepOut, t);
    }
    expect(counters(stepped)).toEqual({ length: 40, capacity: WINDOW + 2 });
    const scaled = slidingWindowAttention(q, k, v, { window: [WINDOW, 0], causal: true, scale: 0.3 });
    const first40 = (t: Tensor) => sliceSequence(t, 0, 40).data;
    expectClose(first40({ data: out, shape: full.shape }), first40(scaled));
  });

  for (const [name, argument, refuse] of [
    ['more queries than maxStepTokens', 'q', (c: RollingKVCache) => stepOf(c, 11, 14)],
    [
      'an option the ring cannot honour',
      'options.window',
      (c: RollingKVCache) => stepOf(c, 11, 12, { window: [2, 0] } as never),
    ],
    ['causal: false', 'options.causal', (c: RollingKVCache) => stepOf(c, 11, 12, { causal: false })],
    [
      'lse sized for another step',
      'options.lse',
      (c: RollingKVCache) => stepOf(c, 11, 13, { lse: new Float32Array(B * HQ) }),
    ],
  ] as const) {
    it(`an attend refusal (${name}) overwrites no live key`, () => {
      expectRefusalChangesNothing({
        create: make,
        before,
        refuse,
        argument,
        after: decodeOn,
        observe: counters,
      });
    });
  }

  it('checkAttendOptions names what attend would refuse', () => {
    const cache = make();
    expect(() => cache.checkAttendOptions({ scale: 0.5 })).not.toThrow();
    expect(() => cache.checkAttendOptions({ window: [2, 0] })).toThrow(/^options\.window: /);
    expect(() => cache.checkAttendOptions({ blockQ: 2 })).toThrow(/^options\.blockQ: /);
    expect(() => cache.checkAttendOptions({ causal: false })).toThrow(/^options\.causal: /);
  });
});
