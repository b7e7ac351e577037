/**
 * Compact KV storage (float16, int8 with a per-row scale) in the paged cache, and split-KV in the
 * caches' attend (docs/design.md, Caches and the layer).
 */
import { errorStats, randn, referenceAttention, type Tensor } from '@attnkit/core';
import {
  DECODE_TOLERANCE,
  expectBitwiseEqual,
  expectDecodeOracle,
  expectRefusalChangesNothing,
  expectWithin,
  sliceSequence,
} from '@attnkit/core/testing';
import { type Backend, nativeUnavailableReason } from '@attnkit/kernels';
import { describe, expect, it } from 'vitest';
import { causalAttention, createKVCache, createPagedKVCache, type PagedKVCache } from '../index.js';

const HQ = 4;
const HKV = 2;
const DK = 8;
const DV = 6;
const PAGE = 5;
const L = 23;
const BACKENDS: readonly Backend[] = [
  'js',
  'wasm',
  ...(nativeUnavailableReason() === undefined ? (['native'] as const) : []),
];
const STORAGES = ['float32', 'float16', 'int8'] as const;

/** Integers in [−127, 127] times 2^−7, each row of `depth` holding a ±127: exact in half and in int8 · scale. */
function representable(shape: number[], seed: number): Tensor {
  const depth = shape[shape.length - 1]!;
  const base = randn(shape, seed);
  const data = new Float32Array(base.data.length);
  for (let row = 0; row < data.length / depth; row++) {
    for (let c = 0; c < depth; c++) {
      data[row * depth + c] =
        Math.max(-127, Math.min(127, Math.round(base.data[row * depth + c]! * 50))) / 128;
    }
    data[row * depth + (row % depth)] = (row % 2 === 0 ? 127 : -127) / 128;
  }
  return { data, shape };
}

/** Prefill 9 positions, then decode the rest one token a step; returns the outputs [1, Hq, L, Dv]. */
function decodeOne(cache: PagedKVCache, q: Tensor, k: Tensor, v: Tensor): Float32Array {
  const id = cache.addSequence();
  const out = new Float32Array(HQ * L * DV);
  const place = (part: Tensor, from: number, to: number) => {
    for (let h = 0; h < HQ; h++) {
      out.set(part.data.subarray(h * (to - from) * DV, (h + 1) * (to - from) * DV), (h * L + from) * DV);
    }
  };
  place(cache.step([id], sliceSequence(q, 0, 9), sliceSequence(k, 0, 9), sliceSequence(v, 0, 9)), 0, 9);
  for (let t = 9; t < L; t++) {
    const at = (x: Tensor) => sliceSequence(x, t, t + 1);
    place(cache.step([id], at(q), at(k), at(v)), t, t + 1);
  }
  return out;
}

describe('compact KV storage in the paged cache', () => {
  it('stores the bytes it says: a page of float16 is half, of int8 a quarter plus a scale per row', () => {
    const bytes = (storage: (typeof STORAGES)[number]) =>
      createPagedKVCache({ kvHeads: HKV, headDim: DK, valueDim: DV, pageSize: PAGE, storage }).pageBytes;
    const align = (floats: number) => 64 * Math.ceil(floats / 16);
    const rows = HKV * PAGE;
    expect(bytes('float32')).toBe(align(rows * DK) + align(rows * DV));
    expect(bytes('float16')).toBe(align((rows * DK) / 2) + align((rows * DV) / 2));
    expect(bytes('int8')).toBe(align((rows * DK) / 4) + align(rows) + align((rows * DV) / 4) + align(rows));
  });

  it('values exactly representable in half and in int8 · scale: every format gives the bits of float32 storage, on every backend, within the 2× rule', () => {
    const q = randn([1, HQ, L, DK], 11);
    const k = representable([1, HKV, L, DK], 12);
    const v = representable([1, HKV, L, DV], 13);
    const byBackend: Float32Array[] = [];
    for (const backend of BACKENDS) {
      const results = STORAGES.map((storage) =>
        decodeOne(
          createPagedKVCache({ kvHeads: HKV, headDim: DK, valueDim: DV, pageSize: PAGE, storage, backend }),
          q,
          k,
          v,
        ),
      );
      expectDecodeOracle(results[0]!, q, k, v, { causal: true }, `${backend} float32`);
      expectBitwiseEqual(results[1]!, results[0]!, `${backend}: float16 vs float32 storage`);
      expectBitwiseEqual(results[2]!, results[0]!, `${backend}: int8 vs float32 storage`);
      byBackend.push(results[0]!);
    }
    // js, wasm and native agree (each within the oracle's bounds, so within DECODE_TOLERANCE of each other)
    for (const other of byBackend.slice(1)) expectWithin(other, byBackend[0]!, DECODE_TOLERANCE, 'backends');
  });

  it('random inputs: each format against the float64 oracle, error reported (not judged); js, wasm and native agree', () => {
    const q = randn([1, HQ, L, DK], 21);
    const k = randn([1, HKV, L, DK], 22);
    const v = randn([1, HKV, L, DV], 23);
    const reference = referenceAttention(q, k, v, { causal: true }).out;
    const errors: Record<string, number> = {};
    for (const storage of STORAGES) {
      const outs = BACKENDS.map((backend) =>
        decodeOne(
          createPagedKVCache({ kvHeads: HKV, headDim: DK, valueDim: DV, pageSize: PAGE, storage, backend }),
          q,
          k,
          v,
        ),
      );
      for (const [i, out] of outs.entries()) {
        errors[`${storage}@${BACKENDS[i]}`] = errorStats(out, reference).maxAbs;
        // the backends expand the same stored bytes: they differ only by the gemms' roundings
        expectWithin(out, outs[0]!, DECODE_TOLERANCE, `${storage}: ${BACKENDS[i]} vs js`);
      }
    }
    console.log(
      `paged cache, max |error| against the float64 oracle by storage@backend: ${JSON.stringify(errors)}`,
    );
    // the compact formats really store fewer bits (float32's error is a rounding of a few ulp)
    expect(errors['float16@js']!).toBeGreaterThan(10 * errors['float32@js']!);
    expect(errors['int8@js']!).toBeGreaterThan(errors['float16@js']!);
  });

  const counters = (cache: PagedKVCache) => ({
    inUse: cache.pagesInUse,
    pooled: cache.pooledPages,
    ...Object.fromEntries(cache.sequenceIds.map((id) => [`length ${id}`, cache.length(id)])),
  });
  const q = randn([1, HQ, 14, DK], 31);
  const k = randn([1, HKV, 14, DK], 32);
  const v = randn([1, HKV, 14, DV], 33);
  const cut = (x: Tensor, from: number, to: number) => sliceSequence(x, from, to);
  const after = (cache: PagedKVCache) => [cache.attend([0], cut(q, 9, 10)).data];
  for (const storage of ['float16', 'int8'] as const) {
    it(`${storage}: maxBytes counts the compact pages (2 fit where float32 pages would not), and a refused append changes nothing`, () => {
      const pageBytes = createPagedKVCache({
        kvHeads: HKV,
        headDim: DK,
        valueDim: DV,
        pageSize: PAGE,
        storage,
      }).pageBytes;
      const float32Page = createPagedKVCache({
        kvHeads: HKV,
        headDim: DK,
        valueDim: DV,
        pageSize: PAGE,
      }).pageBytes;
      expect(2 * float32Page).toBeGreaterThan(3 * pageBytes - 1);
      expectRefusalChangesNothing({
        create: () =>
          createPagedKVCache({
            kvHeads: HKV,
            headDim: DK,
            valueDim: DV,
            pageSize: PAGE,
            storage,
            maxBytes: 3 * pageBytes - 1,
          }),
        before: (cache) => {
          cache.addSequence();
          // 2 pages: fits only because compact bytes are counted (2 float32 pages exceed the limit)
          cache.append([0], cut(k, 0, 10), cut(v, 0, 10));
        },
        refuse: (cache) => cache.append([0], cut(k, 10, 14), cut(v, 10, 14)), // a 3rd page
        argument: 'k',
        after,
        observe: counters,
      });
    });
  }

  it('int8: a non-finite value is refused, naming v, and changes nothing', () => {
    const bad = { data: v.data.slice(), shape: v.shape };
    bad.data[5 * DV + 1] = Number.POSITIVE_INFINITY; // head 0, position 5
    expectRefusalChangesNothing({
      create: () =>
        createPagedKVCache({ kvHeads: HKV, headDim: DK, valueDim: DV, pageSize: PAGE, storage: 'int8' }),
      before: (cache) => {
        cache.addSequence();
        cache.append([0], cut(k, 0, 3), cut(v, 0, 3));
      },
      refuse: (cache) => cache.append([0], cut(k, 3, 10), cut(bad, 3, 10)),
      argument: 'v',
      after: (cache) => {
        cache.append([0], cut(k, 3, 10), cut(v, 3, 10));
        return after(cache);
      },
      observe: counters,
    });
  });
});

describe('split-KV in the caches: one token against a long cache', () => {
  const LONG = 2048;
  const D = 128;

  it("createKVCache: a split attend (1 head: 4 key ranges) has the bits of causalAttention's split call on 1 and 2 threads, within the 2× rule", () => {
    const q = randn([1, 1, LONG, D], 41);
    const k = randn([1, 1, LONG, D], 42);
    const v = randn([1, 1, LONG, D], 43);
    const last = sliceSequence(q, LONG - 1, LONG);
    const cache = createKVCache({
      batch: 1,
      kvHeads: 1,
      headDim: D,
      valueDim: D,
      capacity: LONG,
      backend: 'wasm',
    });
    cache.append(k, v);
    const out = cache.attend(last);
    for (const threads of [1, 2]) {
      const variant = causalAttention(last, k, v, { causal: true, backend: 'wasm', threads });
      expectBitwiseEqual(out.data, variant.data, `cache vs causalAttention, threads ${threads}`);
    }
    expectDecodeOracle(out.data, last, k, v, { causal: true }, 'split cache attend');
  });

  for (const backend of BACKENDS) {
    for (const storage of STORAGES) {
      it(`paged on ${backend} (${storage}): the split attend (1 sequence) and the unsplit one (16 forks of it) meet the 2× rule and agree`, () => {
        const q = randn([1, 1, 1, D], 51);
        const k = storage === 'float32' ? randn([1, 1, LONG, D], 52) : representable([1, 1, LONG, D], 52);
        const v = storage === 'float32' ? randn([1, 1, LONG, D], 53) : representable([1, 1, LONG, D], 53);
        const cache = createPagedKVCache({ kvHeads: 1, headDim: D, valueDim: D, storage, backend });
        const id = cache.addSequence();
        cache.append([id], k, v);
        // positions 0..LONG−1, the query at the last one: it sees every key. One sequence of one kv
        // head is 1 item (split); 16 sequences are 16 items on both paths (not split)
        const split = cache.attend([id], q);
        const ids = [id];
        for (let i = 1; i < 16; i++) ids.push(cache.fork(id));
        const copies = { data: new Float32Array(16 * D), shape: [16, 1, 1, D] };
        for (let s = 0; s < 16; s++) copies.data.set(q.data, s * D);
        const unsplit = cache.attend(ids, copies);
        const reference = { causal: false };
        expectDecodeOracle(split.data, q, k, v, reference, 'split');
        expectDecodeOracle(unsplit.data.subarray(0, D), q, k, v, reference, 'unsplit');
        expect(Array.from(unsplit.data.subarray(15 * D))).toEqual(Array.from(unsplit.data.subarray(0, D)));
        expectWithin(split.data, unsplit.data.subarray(0, D), DECODE_TOLERANCE, 'split vs unsplit');
      });
    }
  }

  it.skipIf(nativeUnavailableReason() !== undefined)(
    'paged on native: threads 1, 2 and 3 give the same bits (one long sequence in split jobs; a batch of mixed lengths; every storage), within the 2× rule',
    () => {
      const heads = 4;
      const kvHeads = 2;
      const lengths = [LONG, 700, 1, 1500];
      for (const storage of STORAGES) {
        const cache = createPagedKVCache({ kvHeads, headDim: D, valueDim: D, storage, backend: 'native' });
        const ids = lengths.map((length, s) => {
          const id = cache.addSequence();
          const make = (seed: number) =>
            storage === 'float32'
              ? randn([1, kvHeads, length, D], seed)
              : representable([1, kvHeads, length, D], seed);
          cache.append([id], make(60 + s), make(70 + s));
          return id;
        });
        const q = randn([lengths.length, heads, 1, D], 81);
        const one = randn([1, heads, 1, D], 82);
        expect(() => cache.checkAttendOptions({ threads: 2 })).not.toThrow();
        const batch1 = cache.attend(ids, q, { threads: 1 });
        const single1 = cache.attend([ids[0]!], one, { threads: 1 });
        for (const threads of [2, 3]) {
          expectBitwiseEqual(
            cache.attend(ids, q, { threads }).data,
            batch1.data,
            `${storage} batch, ${threads} threads`,
          );
          expectBitwiseEqual(
            cache.attend([ids[0]!], one, { threads }).data,
            single1.data,
            `${storage} one sequence (split jobs), ${threads} threads`,
          );
        }
        if (storage === 'float32') {
          const k = randn([1, kvHeads, LONG, D], 60);
          const v = randn([1, kvHeads, LONG, D], 70);
          expectDecodeOracle(single1.data, one, k, v, { causal: false }, 'one sequence on threads');
        }
      }
    },
  );

  it('threads > 1 where the attend cannot honour it (js, wasm, the tiled path) is refused naming options.threads, and the refused step changes nothing', () => {
    const runs: { backend: Backend; tiled?: boolean }[] = [
      { backend: 'js' },
      { backend: 'wasm' },
      ...(nativeUnavailableReason() === undefined ? [{ backend: 'native' as const, tiled: true }] : []),
    ];
    for (const run of runs) {
      expectRefusalChangesNothing({
        create: () => {
          const cache = createPagedKVCache({ kvHeads: HKV, headDim: DK, valueDim: DV, backend: run.backend });
          if (run.tiled) cache.attendPath = 'tiled';
          const id = cache.addSequence();
          cache.append([id], randn([1, HKV, 7, DK], 91), randn([1, HKV, 7, DV], 92));
          return { cache, id };
        },
        refuse: ({ cache, id }) =>
          cache.step(
            [id],
            randn([1, HQ, 1, DK], 93),
            randn([1, HKV, 1, DK], 94),
            randn([1, HKV, 1, DV], 95),
            {
              threads: 2,
            },
          ),
        argument: 'options.threads',
        after: ({ cache, id }) => [
          cache.step([id], randn([1, HQ, 1, DK], 96), randn([1, HKV, 1, DK], 97), randn([1, HKV, 1, DV], 98))
            .data,
        ],
        observe: ({ cache, id }) => ({ length: cache.length(id) }),
      });
      // threads: 1 is every backend's default and is accepted; checkAttendOptions says what attend would
      const cache = createPagedKVCache({ kvHeads: HKV, headDim: DK, valueDim: DV, backend: run.backend });
      if (run.tiled) cache.attendPath = 'tiled';
      expect(() => cache.checkAttendOptions({ threads: 2 })).toThrow(/options\.threads/);
      expect(() => cache.checkAttendOptions({ threads: 1 })).not.toThrow();
      const id = cache.addSequence();
      cache.append([id], randn([1, HKV, 3, DK], 97), randn([1, HKV, 3, DV], 98));
      expect(cache.attend([id], randn([1, HQ, 1, DK], 99), { threads: 1 }).shape).toEqual([1, HQ, 1, DV]);
    }
  });
});
