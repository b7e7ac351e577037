import { AttentionInputError, errorStats, formatErrorStats, randn, type Tensor } from '@attnkit/core';
import { defaultBackend } from '@attnkit/kernels';
import { describe, expect, it } from 'vitest';
import { causalAttention, createKVCache } from '../index.js';

// Decoding computes the same float32 dot products, row maxima and sums as the full pass; only the
// order of the summed terms may differ (which masked, exactly-zero columns share a block, and on the
// SIMD backend which lane a term lands in). For ≤ 64 keys that reorders sums of ≤ 64 terms: at most
// ≈ 64 · 2^-24 ≈ 4e-6 relative, so 1e-5 absolute and relative is a tight, honest bound.
const DECODE_TOLERANCE = { atol: 1e-5, rtol: 1e-5 };

/** Rows [start, end) of axis 2 of a [B, H, L, D] tensor, as a new contiguous tensor. */
function sliceSequence(t: Tensor, start: number, end: number): Tensor {
  const [b, h, length, d] = t.shape as [number, number, number, number];
  const rows = end - start;
  const data = new Float32Array(b * h * rows * d);
  for (let head = 0; head < b * h; head++) {
    data.set(t.data.subarray((head * length + start) * d, (head * length + end) * d), head * rows * d);
  }
  return { data, shape: [b, h, rows, d] };
}

/** Writes `part` ([B, H, rows, D]) into rows [start, …) of axis 2 of `whole`. */
function placeSequence(whole: Float32Array, shape: number[], part: Tensor, start: number): void {
  const [b, h, length, d] = shape as [number, number, number, number];
  const rows = part.shape[2]!;
  for (let head = 0; head < b * h; head++) {
    whole.set(part.data.subarray(head * rows * d, (head + 1) * rows * d), (head * length + start) * d);
  }
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>) {
  const stats = errorStats(actual, expected, DECODE_TOLERANCE);
  expect(stats.failing, formatErrorStats(stats)).toBe(0);
}

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
