/**
 * The rolling cache as the paged cache's window policy (issue 14, item 3): the bytes its pages take
 * against the bound stated at creation, results independent of the page size, and what it gained
 * from the paged cache (compact storage, RoPE, native threads), each against slidingWindowAttention
 * (itself held to the float64 oracle by the conformance kit) or closed-form expectations.
 */
import { randn, rope, type Tensor } from '@attnkit/core';
import {
  DECODE_TOLERANCE,
  expectBitwiseEqual,
  expectRefusalChangesNothing,
  expectWithin,
  placeSequence,
  sliceSequence,
} from '@attnkit/core/testing';
import { nativeUnavailableReason } from '@attnkit/kernels';
import { windowPagesPerSequence } from '@attnkit/kernels/runtime';
import { describe, expect, it } from 'vitest';
import {
  createRollingKVCache,
  type RollingKVCache,
  type RollingKVCacheAttendOptions,
  type RollingKVCacheOptions,
  slidingWindowAttention,
} from '../index.js';

const B = 2;
const HQ = 4;
const HKV = 2;
const DK = 8;
const DV = 5;
const L = 420;
const q = randn([B, HQ, L, DK], 61);
const k = randn([B, HKV, L, DK], 62);
const v = randn([B, HKV, L, DV], 63);
const shape = { batch: B, kvHeads: HKV, headDim: DK, valueDim: DV };

/**
 * Decodes positions [0, length): a prefill of `prefill` positions appended at once (its last query
 * attended), then steps of 1, 2, …, maxStepTokens positions in turn. Returns the outputs placed as
 * the full pass's rows (rows before prefill − 1 left zero) and every length the cache reached.
 */
function decode(
  cache: RollingKVCache,
  length: number,
  prefill: number,
  options: RollingKVCacheAttendOptions = {},
  inputs: { q: Tensor; k: Tensor; v: Tensor } = { q, k, v },
) {
  const out = new Float32Array(B * HQ * length * DV);
  const outShape = [B, HQ, length, DV];
  const lengths: number[] = [];
  const at = (x: Tensor, from: number, to: number) => sliceSequence(x, from, to);
  cache.append(at(inputs.k, 0, prefill), at(inputs.v, 0, prefill));
  lengths.push(cache.length);
  placeSequence(out, outShape, cache.attend(at(inputs.q, prefill - 1, prefill), options), prefill - 1);
  for (let t = prefill, size = 1; t < length; size = (size % cache.maxStepTokens) + 1) {
    const end = Math.min(length, t + size);
    const y = cache.step(at(inputs.q, t, end), at(inputs.k, t, end), at(inputs.v, t, end), options);
    placeSequence(out, outShape, y, t);
    lengths.push(cache.length);
    t = end;
  }
  return { out, lengths };
}

/** Rows [from, length) of every (batch, head) of [B, HQ, length, DV] data. */
function rowsFrom(data: Float32Array, length: number, from: number): number[] {
  const rows: number[] = [];
  for (let head = 0; head < B * HQ; head++) {
    rows.push(...data.subarray((head * length + from) * DV, (head + 1) * length * DV));
  }
  return rows;
}

function fullPass(window: number, length: number, inputs = { q, k, v }): Float32Array {
  const cut = (x: Tensor) => sliceSequence(x, 0, length);
  return slidingWindowAttention(cut(inputs.q), cut(inputs.k), cut(inputs.v), {
    window: [window, 0],
    causal: true,
  }).data;
}

/** Pages a sequence of `length` positions holds under the window policy: [⌊(length − C) / P⌋, ⌈length / P⌉). */
function pagesAt(length: number, capacity: number, pageSize: number): number {
  return Math.ceil(length / pageSize) - Math.floor(Math.max(0, length - capacity) / pageSize);
}

describe('the memory bound stated at creation', () => {
  it('windowPagesPerSequence is the most pages C consecutive positions touch (all C <= 40, P <= 45)', () => {
    for (let capacity = 1; capacity <= 40; capacity++) {
      for (let pageSize = 1; pageSize <= 45; pageSize++) {
        let most = 0;
        for (let length = 1; length <= capacity + 3 * pageSize; length++) {
          most = Math.max(most, pagesAt(length, capacity, pageSize));
        }
        expect(windowPagesPerSequence(capacity - 1, 1, pageSize), `C ${capacity}, P ${pageSize}`).toBe(most);
      }
    }
  });

  for (const [window, maxStepTokens, pageSize] of [
    [6, 1, undefined], // pages of C = 7: 2 pages, the mirrored ring's 14 positions
    [6, 2, 3],
    [10, 3, 4],
    [5, 1, 1],
    [6, 3, 16], // a page longer than C
    [200, 1, undefined], // C = 201 > 128: pages of 128, at most 3
  ] as const) {
    it(`window ${window}, maxStepTokens ${maxStepTokens}, pageSize ${pageSize ?? 'default'}: the pool holds exactly the pages the lengths reached, never past storageBytes; outputs = the full pass`, () => {
      const cache = createRollingKVCache({
        ...shape,
        window,
        maxStepTokens,
        ...(pageSize !== undefined ? { pageSize } : {}),
      });
      const P = cache.pageSize;
      expect(P).toBe(pageSize ?? Math.min(128, window + maxStepTokens));
      const perSequence = windowPagesPerSequence(window, maxStepTokens, P);
      expect(cache.storageBytes).toBe(B * perSequence * cache.pageBytes);
      // float32 pages: keys then values of Hkv · P rows, each part rounded up to 16 floats
      const align = (n: number) => 16 * Math.ceil(n / 16);
      expect(cache.pageBytes).toBe(4 * (align(HKV * P * DK) + align(HKV * P * DV)));
      const { out, lengths } = decode(cache, L, 37);
      const most = Math.max(...lengths.map((length) => pagesAt(length, cache.capacity, P)));
      expect(cache.pooledBytes).toBe(B * most * cache.pageBytes);
      expect(cache.pooledBytes).toBeLessThanOrEqual(cache.storageBytes);
      if (maxStepTokens === 1) expect(cache.pooledBytes).toBe(cache.storageBytes); // reached
      expectWithin(rowsFrom(out, L, 36), rowsFrom(fullPass(window, L), L, 36), DECODE_TOLERANCE);
    });
  }

  it('a cache exactly at maxBytes decodes without a refusal; reset keeps the pages for the next sequence', () => {
    const probe = createRollingKVCache({ ...shape, window: 9, maxStepTokens: 2, pageSize: 4 });
    const cache = createRollingKVCache({
      ...shape,
      window: 9,
      maxStepTokens: 2,
      pageSize: 4,
      maxBytes: probe.storageBytes,
    });
    decode(cache, 120, 1);
    expect(cache.pooledBytes).toBeLessThanOrEqual(probe.storageBytes);
    const pooled = cache.pooledBytes;
    cache.reset();
    expect(cache.length).toBe(0);
    const { out } = decode(cache, 60, 20);
    expect(cache.pooledBytes).toBe(pooled);
    expectWithin(rowsFrom(out, 60, 19), rowsFrom(fullPass(9, 60), 60, 19), DECODE_TOLERANCE);
  });
});

describe('results do not depend on the page size', () => {
  for (const backend of ['js', 'wasm', undefined] as const) {
    it(`pages of 1, 3, 5, 8 (the default: C) and 64 give the same bits (backend ${backend ?? 'default'})`, () => {
      const make = (pageSize: number) =>
        createRollingKVCache({ ...shape, window: 6, maxStepTokens: 2, pageSize, backend });
      const reference = decode(make(8), 150, 11).out;
      expect(make(8).pageSize).toBe(createRollingKVCache({ ...shape, window: 6, maxStepTokens: 2 }).pageSize);
      for (const pageSize of [1, 3, 5, 64]) {
        expectBitwiseEqual(decode(make(pageSize), 150, 11).out, reference, `pageSize ${pageSize}`);
      }
      expectWithin(rowsFrom(reference, 150, 10), rowsFrom(fullPass(6, 150), 150, 10), DECODE_TOLERANCE);
    });
  }
});

describe('compact storage (the paged cache’s float16 and int8)', () => {
  // Each key and value row holds integers in [−127, 127] / 64 with one entry at ±127 / 64: exact in
  // float16, and in int8 with the row's scale max|x| / 127 = 1/64 exactly. Both then store the same
  // numbers as float32, so the attend reads the same values and gives the same bits.
  const exact = (shapeOf: number[], seed: number): Tensor => {
    const noise = randn(shapeOf, seed).data;
    const depth = shapeOf[3]!;
    const data = new Float32Array(noise.length);
    for (let i = 0; i < data.length; i++) {
      const integer = Math.max(-127, Math.min(127, Math.round(noise[i]! * 40)));
      data[i] = (i % depth === 0 ? (integer < 0 ? -127 : 127) : integer) / 64;
    }
    return { data, shape: shapeOf };
  };
  const inputs = { q, k: exact([B, HKV, L, DK], 71), v: exact([B, HKV, L, DV], 72) };

  for (const backend of ['js', 'wasm', undefined] as const) {
    it(`float16 and int8 give float32 storage's bits on exactly representable rows (backend ${backend ?? 'default'}); float32 = the full pass`, () => {
      const make = (storage: RollingKVCacheOptions['storage']) =>
        createRollingKVCache({ ...shape, window: 6, maxStepTokens: 2, storage, backend });
      const float32 = decode(make('float32'), 150, 11, {}, inputs).out;
      for (const storage of ['float16', 'int8'] as const) {
        const cache = make(storage);
        expect(cache.storage).toBe(storage);
        expectBitwiseEqual(decode(cache, 150, 11, {}, inputs).out, float32, storage);
      }
      expectWithin(rowsFrom(float32, 150, 10), rowsFrom(fullPass(6, 150, inputs), 150, 10), DECODE_TOLERANCE);
    });
  }

  it('smaller pages: float16 halves and int8 quarters the key and value bytes of a page (plus int8 scales)', () => {
    const bytes = (storage: RollingKVCacheOptions['storage']) =>
      createRollingKVCache({ batch: 1, kvHeads: 2, headDim: 64, valueDim: 64, window: 127, storage })
        .pageBytes;
    // 2 kv heads × 128 positions × 64 features = 16384 elements each for keys and values
    expect([bytes('float32'), bytes('float16'), bytes('int8')]).toEqual([
      2 * 16384 * 4,
      2 * 16384 * 2,
      2 * (16384 + 256 * 4),
    ]);
  });
});

describe('RoPE applied by the cache at the sequence positions', () => {
  for (const [name, options] of [
    ['neox, every feature', {}],
    ['interleaved, 4 of 8 features, base 500', { style: 'interleaved', rotaryDim: 4, base: 500 }],
  ] as const) {
    it(`${name}: decoding past many windows = slidingWindowAttention of rope(q), rope(k) at positions 0…L−1`, () => {
      const cache = createRollingKVCache({ ...shape, window: 6, maxStepTokens: 2, rope: options });
      const { out } = decode(cache, 150, 11);
      const cut = (x: Tensor) => sliceSequence(x, 0, 150);
      const expected = slidingWindowAttention(rope(cut(q), options), rope(cut(k), options), cut(v), {
        window: [6, 0],
        causal: true,
      }).data;
      expectWithin(rowsFrom(out, 150, 10), rowsFrom(expected, 150, 10), DECODE_TOLERANCE);
      // without the rotation the result differs well beyond rounding: the test can fail
      const plain = rowsFrom(fullPass(6, 150), 150, 10);
      const rotated = rowsFrom(out, 150, 10);
      expect(Math.max(...plain.map((x, i) => Math.abs(x - rotated[i]!)))).toBeGreaterThan(1e-2);
    });
  }

  it('refuses an odd rotaryDim at creation naming options.rope.rotaryDim', () => {
    expect(() => createRollingKVCache({ ...shape, window: 6, rope: { rotaryDim: 3 } })).toThrow(
      /^options\.rope\.rotaryDim: /,
    );
  });
});

describe('threads: the paged decode jobs on native threads', () => {
  it.skipIf(nativeUnavailableReason() !== undefined)(
    'native: threads 2 and 3 give the bits of threads 1 (B · Hkv = 4 jobs a step), within rounding of the full pass',
    () => {
      const make = () => createRollingKVCache({ ...shape, window: 40, maxStepTokens: 2, backend: 'native' });
      const one = decode(make(), 300, 50, { threads: 1 }).out;
      for (const threads of [2, 3]) {
        const cache = make();
        expect(() => cache.checkAttendOptions({ threads })).not.toThrow();
        expectBitwiseEqual(decode(cache, 300, 50, { threads }).out, one, `threads ${threads}`);
      }
      expectWithin(rowsFrom(one, 300, 49), rowsFrom(fullPass(40, 300), 300, 49), DECODE_TOLERANCE);
    },
  );

  for (const backend of ['js', 'wasm'] as const) {
    it(`${backend}: threads > 1 is refused naming options.threads (attend and step), changing nothing`, () => {
      const make = () => createRollingKVCache({ ...shape, window: 6, maxStepTokens: 2, backend });
      expect(() => make().checkAttendOptions({ threads: 2 })).toThrow(/^options\.threads: /);
      expect(() => make().checkAttendOptions({ threads: 1 })).not.toThrow();
      for (const refuse of [
        (c: RollingKVCache) => c.attend(sliceSequence(q, 10, 11), { threads: 2 }),
        (c: RollingKVCache) =>
          c.step(sliceSequence(q, 11, 12), sliceSequence(k, 11, 12), sliceSequence(v, 11, 12), {
            threads: 2,
          }),
      ]) {
        expectRefusalChangesNothing({
          create: make,
          before: (c) => c.append(sliceSequence(k, 0, 11), sliceSequence(v, 0, 11)),
          refuse,
          argument: 'options.threads',
          after: (c) => [decode(c, 40, 1).out],
          observe: (c) => ({ length: c.length, pooledBytes: c.pooledBytes }),
        });
      }
    });
  }
});
