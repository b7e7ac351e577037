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
import { causalAttention, createKVCache, type KVCache, type KVCacheAttendOptions } from '../index.js';

// Decode steps against the full pass: core/testing's DECODE_TOLERANCE (its justification is there).

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>) =>
  expectWithin(actual, expected, DECODE_TOLERANCE);

const B = 2;
const HQ = 4;
const HKV = 2;
const L = 37;
const DK = 8;
const DV = 6;
const q = randn([B, HQ, L, DK], 21);
const k = randn([B, HKV, L, DK], 22);
const v = randn([B, HKV, L, DV], 23);

function decode(chunk: number, attendOptions: Record<string, unknown> = {}, capacity = 4) {
  const cache = createKVCache({
    batch: B,
    kvHeads: HKV,
    headDim: DK,
    valueDim: DV,
    capacity,
    growth: 'double',
  });
  const outShape = [B, HQ, L, DV];
  const out = new Float32Array(B * HQ * L * DV);
  for (let start = 0; start < L; start += chunk) {
    const end = Math.min(L, start + chunk);
    cache.append(sliceSequence(k, start, end), sliceSequence(v, start, end));
    placeSequence(out, outShape, cache.attend(sliceSequence(q, start, end), attendOptions), start);
  }
  return { out, cache };
}

describe('KV-cache decoding equals causalAttention over the full sequence', () => {
  for (const backend of ['js', undefined] as const) {
    it(`token by token, through several doublings (backend ${backend ?? 'default'})`, () => {
      const cache = createKVCache({
        batch: B,
        kvHeads: HKV,
        headDim: DK,
        valueDim: DV,
        capacity: 1,
        backend,
      });
      const full = causalAttention(q, k, v, { backend });
      const out = new Float32Array(full.data.length);
      for (let t = 0; t < L; t++) {
        cache.append(sliceSequence(k, t, t + 1), sliceSequence(v, t, t + 1));
        placeSequence(out, full.shape as number[], cache.attend(sliceSequence(q, t, t + 1)), t);
      }
      expect(cache.length).toBe(L);
      expect(cache.capacity).toBe(64);
      expect(cache.backend).toBe(backend ?? defaultBackend());
      expectClose(out, full.data);
    });
  }

  it('in chunks of 3 (new queries causal among themselves)', () => {
    expectClose(decode(3).out, causalAttention(q, k, v).data);
  });

  it('with a causal window and a custom scale', () => {
    const options = { window: [5, 0] as const, scale: 0.2 };
    expectClose(decode(3, options).out, causalAttention(q, k, v, options).data);
    expectClose(decode(1, options).out, causalAttention(q, k, v, options).data);
  });

  it('with odd query blocks inside a chunk', () => {
    expectClose(decode(7, { blockQ: 2 }).out, causalAttention(q, k, v).data);
  });

  it('fills lse like the full pass', () => {
    const cache = createKVCache({ batch: B, kvHeads: HKV, headDim: DK, valueDim: DV, capacity: L });
    cache.append(k, v);
    const lse = new Float32Array(B * HQ * L);
    const fullLse = new Float32Array(B * HQ * L);
    expectClose(cache.attend(q, { lse }).data, causalAttention(q, k, v, { lse: fullLse }).data);
    expectClose(lse, fullLse);
  });

  it('reset() forgets the positions and decodes the same again', () => {
    const { out, cache } = decode(5);
    cache.reset();
    expect(cache.length).toBe(0);
    const again = new Float32Array(out.length);
    for (let start = 0; start < L; start += 5) {
      const end = Math.min(L, start + 5);
      cache.append(sliceSequence(k, start, end), sliceSequence(v, start, end));
      placeSequence(again, [B, HQ, L, DV], cache.attend(sliceSequence(q, start, end)), start);
    }
    expect(Array.from(again)).toEqual(Array.from(out));
  });
});

describe('KV cache errors', () => {
  const one = (t: Tensor) => sliceSequence(t, 0, 1);

  it("refuses to grow past its capacity with growth: 'none', naming the cache and the numbers", () => {
    const cache = createKVCache({
      batch: B,
      kvHeads: HKV,
      headDim: DK,
      valueDim: DV,
      capacity: 4,
      growth: 'none',
    });
    cache.append(sliceSequence(k, 0, 3), sliceSequence(v, 0, 3));
    let error: unknown;
    try {
      cache.append(sliceSequence(k, 3, 5), sliceSequence(v, 3, 5));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AttentionInputError);
    const message = (error as Error).message;
    expect(message).toMatch(/KV cache/);
    expect(message).toMatch(/capacity 4/);
    expect(message).toMatch(/holds 3/);
    expect(message).toMatch(/capacity >= 5/);
    expect(cache.length).toBe(3); // a refused append changes nothing
  });

  it('refuses attend on an empty cache, causal: false and options it cannot honour', () => {
    const cache = createKVCache({ batch: B, kvHeads: HKV, headDim: DK, valueDim: DV, capacity: 4 });
    expect(() => cache.attend(one(q))).toThrow(/empty KV cache/);
    cache.append(one(k), one(v));
    expect(() => cache.attend(one(q), { causal: false })).toThrow(/options\.causal/);
    expect(() => cache.attend(one(q), { backend: 'js' } as never)).toThrow(/options\.backend/);
    expect(() => cache.attend(one(q), { kvLengths: [1] })).toThrow(/options\.kvLengths/);
  });

  it('refuses appends of the wrong shape, naming k or v', () => {
    const cache = createKVCache({ batch: B, kvHeads: HKV, headDim: DK, valueDim: DV, capacity: 4 });
    expect(() => cache.append(randn([B, HKV, 1, DK + 1], 1), one(v))).toThrow(/^k: /);
    expect(() => cache.append(one(k), randn([B, HKV, 2, DV], 1))).toThrow(/^v: /);
    expect(() => cache.append(one(k), randn([B, 1, 1, DV], 1))).toThrow(/^v: /);
    expect(cache.length).toBe(0);
  });

  it('refuses bad creation options, naming them', () => {
    expect(() => createKVCache({ batch: 1, kvHeads: 1, headDim: 4, valueDim: 4, capacity: 0 })).toThrow(
      /options\.capacity/,
    );
    expect(() =>
      createKVCache({
        batch: 1,
        kvHeads: 1,
        headDim: 4,
        valueDim: 4,
        capacity: 2,
        growth: 'triple' as never,
      }),
    ).toThrow(/options\.growth/);
  });

  it('refuses queries whose heads do not group over the cached kv heads', () => {
    const cache = createKVCache({ batch: B, kvHeads: HKV, headDim: DK, valueDim: DV, capacity: 4 });
    cache.append(one(k), one(v));
    expect(() => cache.attend(randn([B, 3, 1, DK], 1))).toThrow(AttentionInputError);
  });
});

describe('a refused call changes nothing (same bits afterwards as a cache that never saw it)', () => {
  const slice = (t: Tensor, from: number, to: number) => sliceSequence(t, from, to);
  const config = { batch: B, kvHeads: HKV, headDim: DK, valueDim: DV, capacity: 4 };
  // 4 positions: 4 · (a(2·2·4·8) + a(2·2·4·6)) = 896 bytes; 8 would take 1792, over this limit.
  const SMALL_LIMIT = 1200;
  const counters = (cache: KVCache) => ({ length: cache.length, capacity: cache.capacity });
  /** Fills the cache to its capacity of 4 and attends, keeping out and lse. */
  const fillAndAttend = (cache: KVCache) => {
    cache.append(slice(k, 3, 4), slice(v, 3, 4));
    const lse = new Float32Array(B * HQ * 2);
    const out = cache.attend(slice(q, 2, 4), { lse, window: [2, 0] });
    return [out.data, lse];
  };

  it("growth 'double' refused by maxBytes: length, capacity and later results unchanged", () => {
    expectRefusalChangesNothing({
      create: () => createKVCache({ ...config, maxBytes: SMALL_LIMIT }),
      before: (cache) => cache.append(slice(k, 0, 3), slice(v, 0, 3)),
      refuse: (cache) => cache.append(slice(k, 3, 5), slice(v, 3, 5)),
      argument: 'k',
      after: fillAndAttend,
      observe: counters,
    });
  });

  it("growth 'none' past the capacity", () => {
    expectRefusalChangesNothing({
      create: () => createKVCache({ ...config, growth: 'none' }),
      before: (cache) => cache.append(slice(k, 0, 3), slice(v, 0, 3)),
      refuse: (cache) => cache.append(slice(k, 3, 6), slice(v, 3, 6)),
      argument: 'k',
      after: fillAndAttend,
      observe: counters,
    });
  });

  for (const [name, argument, refuse] of [
    ['k of the wrong head dim', 'k', (c: KVCache) => c.append(randn([B, HKV, 2, DK + 1], 1), slice(v, 3, 5))],
    ['v with fewer positions than k', 'v', (c: KVCache) => c.append(slice(k, 3, 5), slice(v, 3, 4))],
    [
      'k.data too short',
      'k.data',
      (c: KVCache) => c.append({ data: new Float32Array(3), shape: [B, HKV, 1, DK] }, slice(v, 3, 4)),
    ],
  ] as const) {
    it(`a malformed append (${name}), then appends that grow the cache`, () => {
      expectRefusalChangesNothing({
        create: () => createKVCache(config),
        before: (cache) => cache.append(slice(k, 0, 3), slice(v, 0, 3)),
        refuse,
        argument,
        after: (cache) => {
          cache.append(slice(k, 3, 9), slice(v, 3, 9)); // grows 4 → 16
          return [cache.attend(slice(q, 3, 9)).data, ...fillAndAttend(cache)];
        },
        observe: counters,
      });
    });
  }
});

function errorOf(call: () => unknown): AttentionInputError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(AttentionInputError);
    return error as AttentionInputError;
  }
  throw new Error('expected an AttentionInputError');
}

const argumentOf = (call: () => unknown) => errorOf(call).argument;

describe('a capacity the byte limit cannot hold is named as the caller wrote it (item 9)', () => {
  const config = { batch: 1, kvHeads: 1, headDim: 4, valueDim: 4 };

  it('over the WebAssembly memory limit: options.capacity, before anything is allocated', () => {
    expect(argumentOf(() => createKVCache({ ...config, capacity: 2 ** 28 }))).toBe('options.capacity');
  });

  it('over options.maxBytes: options.capacity, and the message names the limit', () => {
    // 64 positions · 8 floats · 4 bytes = 2048 bytes > 1024
    const error = errorOf(() => createKVCache({ ...config, capacity: 64, maxBytes: 1024 }));
    expect(error.argument).toBe('options.capacity');
    expect(error.message).toBe(
      'options.capacity: expected a cache of at most 1024 bytes (options.maxBytes), received 64 positions needing 2048 bytes. Use a smaller capacity, raise maxBytes, or split the batch over several caches.',
    );
    expect(createKVCache({ ...config, capacity: 32, maxBytes: 1024 }).capacity).toBe(32); // exactly at the limit
  });
});

describe('step(q, k, v): append and attend in one call, both checked before the append', () => {
  const config = { batch: B, kvHeads: HKV, headDim: DK, valueDim: DV, capacity: 4 };
  const counters = (cache: KVCache) => ({ length: cache.length, capacity: cache.capacity });
  const stepOf = (cache: KVCache, from: number, to: number, options?: KVCacheAttendOptions) =>
    cache.step(sliceSequence(q, from, to), sliceSequence(k, from, to), sliceSequence(v, from, to), options);
  const decodeOn = (cache: KVCache) => [stepOf(cache, 3, 4).data, stepOf(cache, 4, 9, { blockQ: 2 }).data];

  it('gives the same bits as append then attend', () => {
    const stepped = createKVCache(config);
    const split = createKVCache(config);
    for (const [from, to] of [
      [0, 3],
      [3, 4],
      [4, 11],
    ] as const) {
      const lse = new Float32Array(B * HQ * (to - from));
      const splitLse = new Float32Array(lse.length);
      const out = stepOf(stepped, from, to, { lse, window: [4, 0] });
      split.append(sliceSequence(k, from, to), sliceSequence(v, from, to));
      const expected = split.attend(sliceSequence(q, from, to), { lse: splitLse, window: [4, 0] });
      expectBitwiseEqual(out.data, expected.data);
      expectBitwiseEqual(lse, splitLse);
    }
    expect(counters(stepped)).toEqual({ length: 11, capacity: 16 });
  });

  for (const [name, argument, options] of [
    ['kvLengths past the length the step would reach', 'options.kvLengths', { kvLengths: [6, 1] }],
    ['a typo', 'options.blockq', { blockq: 2 }],
    ['causal: false', 'options.causal', { causal: false }],
    [
      'out sized for another step',
      'options.out',
      { out: { data: new Float32Array(B * HQ * DV), shape: [B, HQ, 1, DV] } },
    ],
  ] as const) {
    it(`an attend refusal (${name}) appends nothing, even when the append would grow the cache`, () => {
      expectRefusalChangesNothing({
        create: () => createKVCache(config),
        before: (cache) => void stepOf(cache, 0, 3),
        refuse: (cache) => stepOf(cache, 3, 5, options as KVCacheAttendOptions),
        argument,
        after: decodeOn,
        observe: counters,
      });
    });
  }

  it('queries whose head dim differs from the cache: refused before the append', () => {
    expectRefusalChangesNothing({
      create: () => createKVCache(config),
      before: (cache) => void stepOf(cache, 0, 3),
      refuse: (cache) =>
        cache.step(randn([B, HQ, 1, DK + 1], 3), sliceSequence(k, 3, 4), sliceSequence(v, 3, 4)),
      argument: 'k',
      after: decodeOn,
      observe: counters,
    });
  });

  it('checkAttendOptions names what attend would refuse, whatever the length', () => {
    const cache = createKVCache(config);
    expect(() => cache.checkAttendOptions({ blockQ: 2, window: [3, 0], scale: 0.5 })).not.toThrow();
    expect(argumentOf(() => cache.checkAttendOptions({ threads: 2 }))).toBe('options.threads');
    expect(argumentOf(() => cache.checkAttendOptions({ causal: false }))).toBe('options.causal');
    expect(argumentOf(() => cache.checkAttendOptions({ blockQ: 0 }))).toBe('options.blockQ');
    expect(argumentOf(() => cache.checkAttendOptions(3))).toBe('options');
  });
});
