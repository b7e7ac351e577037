import {
  AttentionInputError,
  errorStats,
  randn,
  referenceAttention,
  referenceRope,
  type Tensor,
} from '@attnkit/core';
import {
  DECODE_TOLERANCE,
  expectBitwiseEqual,
  expectDecodeOracle,
  expectRefusalChangesNothing,
  expectWithin,
  placeSequence,
  sliceSequence,
} from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';
import { createPagedKVCache, type PagedKVCache, type PagedKVCacheOptions } from '../index.js';

const HQ = 4;
const HKV = 2;
const DK = 8;
const DV = 6;
const PAGE = 5;
const LENGTHS = [23, 9, 17];

interface Sequence {
  q: Tensor;
  k: Tensor;
  v: Tensor;
}

function sequences(lengths: readonly number[], seed: number): Sequence[] {
  return lengths.map((length, i) => ({
    q: randn([1, HQ, length, DK], seed + 3 * i),
    k: randn([1, HKV, length, DK], seed + 3 * i + 1),
    v: randn([1, HKV, length, DV], seed + 3 * i + 2),
  }));
}

/** Tensors [1, H, n, D] stacked along the batch axis (the outermost, so the data concatenates). */
function stack(parts: readonly Tensor[]): Tensor {
  const [, h, n, d] = parts[0]!.shape as [number, number, number, number];
  const data = new Float32Array(parts.length * h * n * d);
  parts.forEach((part, s) => {
    data.set(part.data, s * h * n * d);
  });
  return { data, shape: [parts.length, h, n, d] };
}

/** Row s of the batch axis of t, as [1, H, n, D]. */
function unstack(t: Tensor, s: number): Tensor {
  const [, h, n, d] = t.shape as [number, number, number, number];
  return { data: t.data.slice(s * h * n * d, (s + 1) * h * n * d), shape: [1, h, n, d] };
}

/**
 * Decodes `data` through the cache on a schedule of calls over changing subsets of the sequences
 * (so one call carries sequences of different lengths), alternating step with append + attend.
 * Returns each sequence's outputs [1, Hq, L, Dv] and lse.
 */
function decode(
  cache: PagedKVCache,
  data: readonly Sequence[],
  schedule: readonly (readonly [members: readonly number[], count: number])[],
  options: Record<string, unknown> = {},
) {
  const ids = data.map(() => cache.addSequence());
  const done = data.map(() => 0);
  const outs = data.map((s) => new Float32Array(HQ * s.q.shape[2]! * DV));
  const lses = data.map((s) => new Float32Array(HQ * s.q.shape[2]!));
  let call = 0;
  const run = (members: readonly number[], count: number) => {
    const at = (t: Tensor, s: number) => sliceSequence(t, done[s]!, done[s]! + count);
    const q = stack(members.map((s) => at(data[s]!.q, s)));
    const k = stack(members.map((s) => at(data[s]!.k, s)));
    const v = stack(members.map((s) => at(data[s]!.v, s)));
    const memberIds = members.map((s) => ids[s]!);
    const lse = new Float32Array(members.length * HQ * count);
    let out: Tensor;
    if (call++ % 2 === 0) out = cache.step(memberIds, q, k, v, { ...options, lse });
    else {
      cache.append(memberIds, k, v);
      out = cache.attend(memberIds, q, { ...options, lse });
    }
    members.forEach((s, i) => {
      const length = data[s]!.q.shape[2]!;
      placeSequence(outs[s]!, [1, HQ, length, DV], unstack(out, i), done[s]!);
      const rows = unstack({ data: lse, shape: [members.length, HQ, count, 1] }, i);
      placeSequence(lses[s]!, [1, HQ, length, 1], rows, done[s]!);
      done[s] = done[s]! + count;
    });
  };
  for (const [members, count] of schedule) run(members, count);
  // then one token at a time for every sequence with positions left
  for (;;) {
    const members = data.map((_, i) => i).filter((i) => done[i]! < data[i]!.q.shape[2]!);
    if (members.length === 0) break;
    run(members, 1);
  }
  data.forEach((_, s) => {
    expect(cache.length(ids[s]!)).toBe(data[s]!.q.shape[2]);
  });
  return { outs, lses, ids };
}

const PREFILL: readonly (readonly [readonly number[], number])[] = [
  [[0], 7],
  [[1], 2],
  [[2], 5],
  [[0, 2], 3],
];

function config(extra: Partial<PagedKVCacheOptions> = {}): PagedKVCacheOptions {
  return { kvHeads: HKV, headDim: DK, valueDim: DV, pageSize: PAGE, ...extra };
}

describe('paged KV cache: decode steps equal the full causal pass (float64 oracle, 2× rule)', () => {
  const data = sequences(LENGTHS, 100);
  for (const backend of ['js', undefined] as const) {
    it(`three sequences of different lengths, GQA 4:2, pages of 5, calls over changing subsets (backend ${backend ?? 'default'})`, () => {
      const cache = createPagedKVCache(config({ backend }));
      const { outs, lses } = decode(cache, data, PREFILL);
      data.forEach(({ q, k, v }, s) => {
        expectDecodeOracle(outs[s]!, q, k, v, { causal: true }, `sequence ${s}`);
        expectWithin(
          lses[s]!,
          referenceAttention(q, k, v, { causal: true }).lse,
          DECODE_TOLERANCE,
          `lse ${s}`,
        );
      });
      // 23 + 9 + 17 positions in pages of 5: 5 + 2 + 4 pages, none shared
      expect(cache.pagesInUse).toBe(11);
      expect(cache.pooledPages).toBe(11);
    });
  }

  it('with a causal window at attend, a custom scale and blocks of 2 query rows', () => {
    const cache = createPagedKVCache(config());
    const options = { window: [4, 0] as const, scale: 0.3, blockQ: 2 };
    const { outs } = decode(cache, data, PREFILL, options);
    data.forEach(({ q, k, v }, s) => {
      expectDecodeOracle(outs[s]!, q, k, v, { causal: true, window: [4, 0], scale: 0.3 }, `sequence ${s}`);
    });
  });

  it('one page per position and one page for everything give the same bits as pages of 5', () => {
    const reference = decode(createPagedKVCache(config()), data, PREFILL).outs;
    for (const pageSize of [1, 64]) {
      const { outs } = decode(createPagedKVCache(config({ pageSize })), data, PREFILL);
      outs.forEach((out, s) => {
        expectBitwiseEqual(out, reference[s]!, `pageSize ${pageSize}, sequence ${s}`);
      });
    }
  });

  it('removed sequences give their pages back and new ones reuse them (the pool does not grow)', () => {
    const cache = createPagedKVCache(config());
    const first = decode(cache, data, PREFILL);
    expect(cache.pooledPages).toBe(11);
    for (const id of first.ids) cache.removeSequence(id);
    expect(cache.pagesInUse).toBe(0);
    const second = decode(cache, data, PREFILL);
    expect(cache.pooledPages).toBe(11);
    second.outs.forEach((out, s) => {
      expectBitwiseEqual(out, first.outs[s]!, `sequence ${s} again`);
    });
    expect(() => cache.length(first.ids[0]!)).toThrow(AttentionInputError);
  });
});

describe('fork: prefix pages shared copy-on-write, continuations diverge', () => {
  const PREFIX = 12; // pages of 5: two full pages and one holding 2 positions
  const prefix = sequences([PREFIX], 300)[0]!;
  // two continuations of 8 positions each, and what each full sequence is
  const tails = sequences([8, 8], 400);
  const whole = tails.map((tail) => ({
    q: concat(prefix.q, tail.q),
    k: concat(prefix.k, tail.k),
    v: concat(prefix.v, tail.v),
  }));

  function concat(a: Tensor, b: Tensor): Tensor {
    const [, h, la, d] = a.shape as [number, number, number, number];
    const lb = b.shape[2]!;
    const data = new Float32Array(h * (la + lb) * d);
    placeSequence(data, [1, h, la + lb, d], a, 0);
    placeSequence(data, [1, h, la + lb, d], b, la);
    return { data, shape: [1, h, la + lb, d] };
  }

  /** Steps the tail of `which` into sequence id in chunks of 3, writing its outputs after the prefix. */
  function continueWith(cache: PagedKVCache, id: number, which: number, out: Float32Array) {
    const tail = tails[which]!;
    for (let at = 0; at < 8; at += 3) {
      const end = Math.min(8, at + 3);
      const y = cache.step(
        [id],
        sliceSequence(tail.q, at, end),
        sliceSequence(tail.k, at, end),
        sliceSequence(tail.v, at, end),
      );
      placeSequence(out, [1, HQ, PREFIX + 8, DV], y, PREFIX + at);
    }
  }

  for (const order of [
    ['original', 'fork'],
    ['fork', 'original'],
  ] as const) {
    it(`fork shares every page, then appends diverge (${order[0]} appends first)`, () => {
      const cache = createPagedKVCache(config());
      const original = cache.addSequence();
      const outs = [new Float32Array(HQ * (PREFIX + 8) * DV), new Float32Array(HQ * (PREFIX + 8) * DV)];
      const prefixOut = cache.step([original], prefix.q, prefix.k, prefix.v);
      placeSequence(outs[0]!, [1, HQ, PREFIX + 8, DV], prefixOut, 0);
      placeSequence(outs[1]!, [1, HQ, PREFIX + 8, DV], prefixOut, 0);
      const pages = cache.pagesOf(original);
      expect(pages).toHaveLength(3);

      const forked = cache.fork(original);
      expect(cache.length(forked)).toBe(PREFIX);
      expect(cache.pagesOf(forked)).toEqual(pages); // the same pages …
      expect(cache.pagesInUse).toBe(3); // … taken once

      const ids = { original, fork: forked };
      const tailOf = { original: 0, fork: 1 };
      const first = order[0];
      const second = order[1];
      continueWith(cache, ids[first], tailOf[first], outs[tailOf[first]]!);
      // the first writer copied the shared, partly filled last page; full pages stay shared
      expect(cache.pagesOf(ids[first]).slice(0, 2)).toEqual(pages.slice(0, 2));
      expect(cache.pagesOf(ids[first])[2]).not.toBe(pages[2]);
      expect(cache.pagesOf(ids[second])).toEqual(pages);
      continueWith(cache, ids[second], tailOf[second], outs[tailOf[second]]!);
      // the second writer owned the old last page alone by then: it wrote in place
      expect(cache.pagesOf(ids[second]).slice(0, 3)).toEqual(pages);
      // 2 shared + 2 × (last page + 1 more) = 6 pages for 2 × 20 positions
      expect(cache.pagesInUse).toBe(6);

      whole.forEach(({ q, k, v }, which) => {
        expectDecodeOracle(outs[which]!, q, k, v, { causal: true }, `continuation ${which}`);
      });
      // and bitwise what a cache that never forked gives for the same sequence
      whole.forEach(({ q, k, v }, which) => {
        const alone = createPagedKVCache(config());
        const id = alone.addSequence();
        alone.step(
          [id],
          sliceSequence(q, 0, PREFIX),
          sliceSequence(k, 0, PREFIX),
          sliceSequence(v, 0, PREFIX),
        );
        const single = new Float32Array(HQ * (PREFIX + 8) * DV);
        placeSequence(single, [1, HQ, PREFIX + 8, DV], prefixOut, 0);
        continueWith(alone, id, which, single);
        expectBitwiseEqual(outs[which]!, single, `continuation ${which} vs no fork`);
      });
    });
  }

  it('both continuations in one call; removing the original leaves the fork whole', () => {
    const cache = createPagedKVCache(config());
    const original = cache.addSequence();
    cache.append([original], prefix.k, prefix.v);
    const forked = cache.fork(original);
    const q = stack(tails.map((t) => t.q));
    const out = cache.step([original, forked], q, stack(tails.map((t) => t.k)), stack(tails.map((t) => t.v)));
    whole.forEach(({ q: wq, k, v }, which) => {
      const reference = referenceAttention(wq, k, v, { causal: true }).out;
      const rows = sliceSequence(
        { data: Float32Array.from(reference), shape: [1, HQ, PREFIX + 8, DV] },
        PREFIX,
        PREFIX + 8,
      );
      expectWithin(unstack(out, which).data, rows.data, DECODE_TOLERANCE, `continuation ${which}`);
    });
    const shared = cache.pagesOf(forked).slice(0, 2);
    cache.removeSequence(original);
    expect(cache.pagesOf(forked).slice(0, 2)).toEqual(shared);
    expect(cache.pagesInUse).toBe(4); // the fork's 20 positions
    const again = cache.attend([forked], sliceSequence(tails[1]!.q, 7, 8));
    expectBitwiseEqual(again.data, sliceSequence(unstack(out, 1), 7, 8).data, 'fork after the original went');
  });
});

describe('window policy: pages older than the window go back to the pool', () => {
  const data = sequences([41, 30], 500);
  const WINDOW = 6;
  for (const maxStepTokens of [1, 3]) {
    it(`window ${WINDOW}, maxStepTokens ${maxStepTokens}: equal to the windowed full pass, pages bounded`, () => {
      const cache = createPagedKVCache(config({ window: WINDOW, maxStepTokens, pageSize: 4 }));
      const ids = data.map(() => cache.addSequence());
      const outs = data.map((s) => new Float32Array(HQ * s.q.shape[2]! * DV));
      const done = [0, 0];
      let most = 0;
      // the first sequence alone for 5 positions, then both, maxStepTokens at a time
      for (let round = 0; done.some((d, s) => d < data[s]!.q.shape[2]!); round++) {
        const members = round === 0 ? [0] : [0, 1].filter((s) => done[s]! < data[s]!.q.shape[2]!);
        const count = Math.min(maxStepTokens, ...members.map((s) => data[s]!.q.shape[2]! - done[s]!));
        const at = (t: Tensor, s: number) => sliceSequence(t, done[s]!, done[s]! + count);
        const y = cache.step(
          members.map((s) => ids[s]!),
          stack(members.map((s) => at(data[s]!.q, s))),
          stack(members.map((s) => at(data[s]!.k, s))),
          stack(members.map((s) => at(data[s]!.v, s))),
        );
        members.forEach((s, i) => {
          placeSequence(outs[s]!, [1, HQ, data[s]!.q.shape[2]!, DV], unstack(y, i), done[s]!);
          done[s] = done[s]! + count;
        });
        most = Math.max(most, cache.pagesInUse);
      }
      data.forEach(({ q, k, v }, s) => {
        expectDecodeOracle(outs[s]!, q, k, v, { causal: true, window: [WINDOW, 0] }, `sequence ${s}`);
      });
      // window + maxStepTokens positions span at most ceil(that / 4) + 1 pages per sequence
      const bound = 2 * (Math.ceil((WINDOW + maxStepTokens) / 4) + 1);
      expect(most).toBeLessThanOrEqual(bound);
      expect(cache.pooledPages).toBeLessThanOrEqual(bound);
      expect(cache.pagesOf(ids[0]!).length).toBeLessThan(41 / 4);
    });
  }

  it('the byte limit counts the pages an append gives back: a full cache decodes on at the limit', () => {
    // pages of one position, window 3 + 1 query: every step takes one page and gives one back, so a
    // limit of exactly 4 pages holds forever (counting the new page before the freed one would refuse)
    const pageBytes = 4 * (16 * Math.ceil((HKV * DK) / 16) + 16 * Math.ceil((HKV * DV) / 16));
    const cache = createPagedKVCache(config({ window: 3, pageSize: 1, maxBytes: 4 * pageBytes }));
    const id = cache.addSequence();
    const { q, k, v } = data[0]!;
    const out = new Float32Array(HQ * 41 * DV);
    for (let t = 0; t < 41; t++) {
      const y = cache.step(
        [id],
        sliceSequence(q, t, t + 1),
        sliceSequence(k, t, t + 1),
        sliceSequence(v, t, t + 1),
      );
      placeSequence(out, [1, HQ, 41, DV], y, t);
      expect(cache.pagesInUse).toBe(Math.min(t + 1, 4));
    }
    expect(cache.pooledPages).toBe(4);
    expectDecodeOracle(out, q, k, v, { causal: true, window: [3, 0] }, 'at the limit');
    // one page more than the window needs is refused: a second sequence cannot start
    const other = cache.addSequence();
    expect(() => cache.append([other], sliceSequence(k, 0, 1), sliceSequence(v, 0, 1))).toThrow(/^k: /);
  });

  it('a prefill longer than the window keeps only the pages a later query can see', () => {
    const cache = createPagedKVCache(config({ window: 3, pageSize: 2 }));
    const id = cache.addSequence();
    const { k, v } = data[0]!;
    cache.append([id], sliceSequence(k, 0, 20), sliceSequence(v, 0, 20));
    // positions 16..19 can still be seen (window 3 + 1 query): pages 8 and 9
    expect(cache.pagesOf(id)).toHaveLength(2);
    expect(cache.pagesInUse).toBe(2);
    const q = sliceSequence(data[0]!.q, 20, 21);
    const y = cache.step([id], q, sliceSequence(k, 20, 21), sliceSequence(v, 20, 21));
    const reference = referenceAttention(
      sliceSequence(data[0]!.q, 0, 21),
      sliceSequence(k, 0, 21),
      sliceSequence(v, 0, 21),
      { causal: true, window: [3, 0] },
    ).out;
    const last = sliceSequence({ data: Float32Array.from(reference), shape: [1, HQ, 21, DV] }, 20, 21);
    expectWithin(y.data, last.data, DECODE_TOLERANCE, 'the step after a long prefill');
    expect(() => cache.attend([id], sliceSequence(data[0]!.q, 19, 21))).toThrow(/maxStepTokens/);
  });
});

describe('rope: the cache rotates keys on append and queries on attend at the sequence positions', () => {
  const data = sequences(LENGTHS, 700);
  for (const rope of [{}, { base: 500, style: 'interleaved' as const, rotaryDim: 6 }]) {
    it(`equals referenceRope on the full q and k, then attention (rope ${JSON.stringify(rope)})`, () => {
      const cache = createPagedKVCache(config({ rope }));
      const { outs } = decode(cache, data, PREFILL);
      data.forEach(({ q, k, v }, s) => {
        // referenceRope is float64; rope rounds the same values once, so these are rope's bits
        const qr = { data: Float32Array.from(referenceRope(q, rope)), shape: q.shape };
        const kr = { data: Float32Array.from(referenceRope(k, rope)), shape: k.shape };
        expectDecodeOracle(outs[s]!, qr, kr, v, { causal: true }, `sequence ${s}`);
      });
    });
  }

  it('rotates: without rope the same inputs give another result', () => {
    const plain = decode(createPagedKVCache(config()), data, PREFILL).outs;
    const rotated = decode(createPagedKVCache(config({ rope: {} })), data, PREFILL).outs;
    expect(errorStats(rotated[0]!, plain[0]!).maxAbs).toBeGreaterThan(1e-2);
  });
});

describe('refusals change nothing (same bits afterwards as a cache that never saw the call)', () => {
  const data = sequences([14, 14], 900);
  const PAGE_BYTES = 4 * (16 * Math.ceil((HKV * PAGE * DK) / 16) + 16 * Math.ceil((HKV * PAGE * DV) / 16));
  const slice = (s: number, t: 'q' | 'k' | 'v', from: number, to: number) =>
    sliceSequence(data[s]![t], from, to);
  const both = (t: 'q' | 'k' | 'v', from: number, to: number) =>
    stack([slice(0, t, from, to), slice(1, t, from, to)]);
  const counters = (cache: PagedKVCache) => ({
    inUse: cache.pagesInUse,
    pooled: cache.pooledPages,
    ...Object.fromEntries(cache.sequenceIds.map((id) => [`length ${id}`, cache.length(id)])),
    ...Object.fromEntries(cache.sequenceIds.map((id) => [`pages ${id}`, cache.pagesOf(id).join(',')])),
  });
  /** Two sequences of 8 positions (2 pages each: 4 of the limit's 5). */
  const before = (cache: PagedKVCache) => {
    const a = cache.addSequence();
    const b = cache.addSequence();
    cache.append([a, b], both('k', 0, 8), both('v', 0, 8));
  };
  /** Fills both to 10 (still 4 pages), then sequence 1 alone to 14 and attends both. */
  const after = (cache: PagedKVCache) => {
    const out1 = cache.step([0, 1], both('q', 8, 10), both('k', 8, 10), both('v', 8, 10));
    const out2 = cache.step([1], slice(1, 'q', 10, 14), slice(1, 'k', 10, 14), slice(1, 'v', 10, 14));
    return [out1.data, out2.data];
  };
  const limited = () => createPagedKVCache(config({ maxBytes: 5 * PAGE_BYTES }));

  it('the byte limit: an append for two sequences of which one alone would fit', () => {
    expectRefusalChangesNothing({
      create: limited,
      before,
      refuse: (cache) => cache.append([0, 1], both('k', 8, 12), both('v', 8, 12)), // 2 more pages: 6 > 5
      argument: 'k',
      after,
      observe: counters,
    });
  });

  it('the byte limit counts a copy on write: a fork whose first append needs one page too many', () => {
    expectRefusalChangesNothing({
      create: limited,
      before: (cache) => {
        before(cache);
        cache.append([0, 1], both('k', 8, 9), both('v', 8, 9)); // partial last pages: 2 × 2 pages
        cache.fork(0); // shares 0's pages: still 4 in use
        cache.append([1], slice(1, 'k', 9, 11), slice(1, 'v', 9, 11)); // page 3 of sequence 1: 5 in use
      },
      refuse: (cache) => cache.append([2], slice(0, 'k', 9, 10), slice(0, 'v', 9, 10)), // copy: 6 > 5
      argument: 'k',
      after: (cache) => {
        cache.removeSequence(2);
        const out = cache.step([0], slice(0, 'q', 9, 10), slice(0, 'k', 9, 10), slice(0, 'v', 9, 10));
        return [out.data];
      },
      observe: counters,
    });
  });

  it('the refusal says what the limit holds and what the call needed', () => {
    const cache = limited();
    before(cache);
    expect(() => cache.append([0, 1], both('k', 8, 12), both('v', 8, 12))).toThrow(
      /^k: .*at most 1 more pages .*5 pages of \d+ bytes; 4 in use.*needing 2 pages/,
    );
  });

  for (const [name, argument, refuse] of [
    ['an unknown id', 'ids[1]', (c: PagedKVCache) => c.append([0, 7], both('k', 8, 9), both('v', 8, 9))],
    ['an id twice', 'ids', (c: PagedKVCache) => c.append([0, 0], both('k', 8, 9), both('v', 8, 9))],
    ['no ids', 'ids', (c: PagedKVCache) => c.append([], both('k', 8, 9), both('v', 8, 9))],
    ['a negative id', 'ids[0]', (c: PagedKVCache) => c.append([-1, 0], both('k', 8, 9), both('v', 8, 9))],
    [
      'k for one sequence, ids for two',
      'k',
      (c: PagedKVCache) => c.append([0, 1], slice(0, 'k', 8, 9), both('v', 8, 9)),
    ],
    [
      'v with fewer positions than k',
      'v',
      (c: PagedKVCache) => c.append([0, 1], both('k', 8, 10), both('v', 8, 9)),
    ],
    [
      'a step whose attend is refused (causal: false)',
      'options.causal',
      (c: PagedKVCache) =>
        c.step([0, 1], both('q', 8, 9), both('k', 8, 9), both('v', 8, 9), { causal: false }),
    ],
    [
      'a step with kvLengths (each sequence has its own length)',
      'options.kvLengths',
      (c: PagedKVCache) =>
        c.step([0, 1], both('q', 8, 9), both('k', 8, 9), both('v', 8, 9), { kvLengths: [1, 1] } as never),
    ],
    [
      // core's cached-call check names k (the cached keys' heads do not divide q's)
      'a step whose q has 3 heads over 2 kv heads',
      'k',
      (c: PagedKVCache) => c.step([0, 1], randn([2, 3, 1, DK], 1), both('k', 8, 9), both('v', 8, 9)),
    ],
  ] as const) {
    it(`a malformed call (${name}) names ${argument}`, () => {
      expectRefusalChangesNothing({ create: limited, before, refuse, argument, after, observe: counters });
    });
  }

  it('attend on an empty sequence, and unknown ids elsewhere, are refused', () => {
    const cache = createPagedKVCache(config());
    const id = cache.addSequence();
    expect(() => cache.attend([id], slice(0, 'q', 0, 1))).toThrow(/^q: .*empty/);
    expect(() => cache.fork(5)).toThrow(/^id: /);
    expect(() => cache.removeSequence(5)).toThrow(/^id: /);
    expect(() => cache.attend([id], slice(0, 'q', 0, 1), { backend: 'js' } as never)).toThrow(
      /options\.backend/,
    );
  });
});

describe('createPagedKVCache options', () => {
  const argument = (call: () => unknown) => {
    try {
      call();
    } catch (error) {
      expect(error).toBeInstanceOf(AttentionInputError);
      return (error as AttentionInputError).argument;
    }
    throw new Error('nothing thrown');
  };
  it('names the option it refuses', () => {
    expect(argument(() => createPagedKVCache(config({ pageSize: 0 })))).toBe('options.pageSize');
    expect(argument(() => createPagedKVCache({ ...config(), blockQ: 4 } as never))).toBe('options.blockQ');
    expect(argument(() => createPagedKVCache(config({ rope: { rotaryDim: 5 } })))).toBe(
      'options.rope.rotaryDim',
    );
    expect(argument(() => createPagedKVCache(config({ rope: { base: 1 } })))).toBe('options.rope.base');
    expect(argument(() => createPagedKVCache(config({ maxStepTokens: 2 })))).toBe('options.maxStepTokens');
    expect(argument(() => createPagedKVCache(config({ maxBytes: 100 })))).toBe('options.maxBytes');
  });

  it('a view is an AttentionCache over some sequences; its reset clears only them', () => {
    const data = sequences([6, 6], 42);
    const cache = createPagedKVCache(config());
    const ids = [cache.addSequence(), cache.addSequence()];
    const other = cache.addSequence();
    cache.append([other], data[0]!.k, data[0]!.v);
    const view = cache.view(ids);
    expect(view.batch).toBe(2);
    const y = view.step(
      stack(data.map((d) => d.q)),
      stack(data.map((d) => d.k)),
      stack(data.map((d) => d.v)),
    );
    expect(view.length).toBe(6);
    data.forEach(({ q, k, v }, s) => {
      expectDecodeOracle(unstack(y, s).data, q, k, v, { causal: true }, `view row ${s}`);
    });
    view.reset();
    expect(view.length).toBe(0);
    expect(cache.length(other)).toBe(6);
    expect(cache.pagesInUse).toBe(2);
  });
});
