/**
 * The mask of a call (visibility.ts): the range part and the general part compiled per 64 × 64 block
 * must say exactly what the mask's definition says. Random masks and compositions are built together
 * with a predicate written by hand here (from the docs' definitions, not from visibility.ts), over
 * shapes below, at and above one block (Lq, Lk not multiples of 64), per-head and per-batch terms.
 */
import {
  type AttentionMask,
  type AttentionOptions,
  andMasks,
  blockSparseMask,
  causalMask,
  createRng,
  documentMask,
  evaluateMask,
  globalTokensMask,
  isMaskCompiled,
  isVisibleIn,
  kvLengthMask,
  MASK_BLOCK,
  MASK_CACHE_SHAPES,
  notMask,
  orMasks,
  parseAttentionCall,
  predicateMask,
  prefixLMMask,
  problemForShape,
  type Rng,
  visiblePairs,
  windowMask,
} from '@attnkit/core';
import { describe, expect, it } from 'vitest';

type Hand = (b: number, h: number, i: number, j: number) => boolean;
const INF = Number.POSITIVE_INFINITY;

interface Shape {
  batch: number;
  heads: number;
  lq: number;
  lk: number;
}

/** Query key positions written from the definition: the last query of a document faces its last key. */
function positionsOf(shape: Shape, docs: { q: number[]; kv: number[] } | null): Int32Array {
  const p = new Int32Array(shape.lq);
  for (let i = 0; i < shape.lq; i++) p[i] = i + shape.lk - shape.lq;
  if (docs) {
    for (let d = 0; d + 1 < docs.q.length; d++) {
      for (let i = docs.q[d]!; i < docs.q[d + 1]!; i++) p[i] = docs.kv[d + 1]! - (docs.q[d + 1]! - i);
    }
  }
  return p;
}

/** Random cut of n into `parts` non-negative lengths (some empty, some of length 1). */
function randomOffsets(rng: Rng, n: number, parts: number): number[] {
  const cuts = Array.from({ length: parts - 1 }, () => Math.floor(rng.nextFloat() * (n + 1)));
  if (parts > 2) cuts[0] = cuts[1]!; // one empty document
  return [0, ...cuts.sort((a, b) => a - b), n];
}

/** A random general term with its hand-written predicate (p = the query positions of the call). */
/**
 * `topAnd`: the term is reached from the top through ands only, so a document there would be the
 * call's documents (p per document): nested documents are drawn only under an or or a not.
 */
function randomTerm(
  rng: Rng,
  shape: Shape,
  p: Int32Array,
  depth: number,
  topAnd: boolean,
): [AttentionMask, Hand] {
  const int = (lo: number, hi: number) => lo + Math.floor(rng.nextFloat() * (hi - lo + 1));
  // compositions at the top half the time, leaves (and nested documents) below, leaves only at depth 3
  const kind =
    depth === 0
      ? rng.nextFloat() < 0.5
        ? int(7, 9)
        : int(0, 6)
      : depth > 2
        ? int(0, 6)
        : int(0, topAnd ? 9 : 10);
  switch (kind) {
    case 0: {
      const left = rng.nextFloat() < 0.2 ? INF : int(0, 70);
      const right = rng.nextFloat() < 0.3 ? INF : int(0, 20);
      return [windowMask(left, right), (_b, _h, i, j) => j >= p[i]! - left && j <= p[i]! + right];
    }
    case 1: {
      const prefix = int(0, shape.lk);
      return [prefixLMMask(prefix), (_b, _h, i, j) => j < prefix || j <= p[i]!];
    }
    case 2: {
      const indices = Array.from({ length: int(0, 4) }, () => int(0, shape.lk - 1));
      const set = new Set(indices);
      return [globalTokensMask(indices), (_b, _h, i, j) => set.has(j) || set.has(p[i]!)];
    }
    case 3: {
      const bq = [16, 48, 64, 100][int(0, 3)]!;
      const bk = [16, 48, 64, 100][int(0, 3)]!;
      const layout = Array.from({ length: Math.ceil(shape.lq / bq) }, () =>
        Array.from({ length: Math.ceil(shape.lk / bk) }, () => (rng.nextFloat() < 0.5 ? 1 : 0)),
      );
      return [
        blockSparseMask(layout, bq, bk),
        (_b, _h, i, j) => layout[Math.floor(i / bq)]![Math.floor(j / bk)] === 1,
      ];
    }
    case 4: {
      // reads h and b: evaluated per head and per batch entry
      const fn: Hand = (b, h, i, j) => (i * 7 + j * 3 + h * 5 + b * 11) % 5 !== 0;
      return [predicateMask(fn), fn];
    }
    case 5: {
      // the same for every head and entry, declared so (one group)
      const fn: Hand = (_b, _h, i, j) => Math.abs(i - j) % 3 !== 1;
      return [predicateMask(fn, { sameForEveryHead: true, sameForEveryBatch: true }), fn];
    }
    case 6: {
      const lengths = Array.from({ length: shape.batch }, () => int(0, shape.lk));
      return [kvLengthMask(lengths), (b, _h, _i, j) => j < lengths[b]!];
    }
    case 7: {
      const parts = Array.from({ length: int(0, 3) }, () => randomTerm(rng, shape, p, depth + 1, topAnd));
      return [andMasks(...parts.map((x) => x[0])), (b, h, i, j) => parts.every((x) => x[1](b, h, i, j))];
    }
    case 8: {
      const parts = Array.from({ length: int(1, 3) }, () => randomTerm(rng, shape, p, depth + 1, false));
      return [orMasks(...parts.map((x) => x[0])), (b, h, i, j) => parts.some((x) => x[1](b, h, i, j))];
    }
    case 9: {
      const [inner, hand] = randomTerm(rng, shape, p, depth + 1, false);
      return [notMask(inner), (b, h, i, j) => !hand(b, h, i, j)];
    }
    default: {
      // a document mask below the top: its documents only, the positions stay the call's
      const q = randomOffsets(rng, shape.lq, 3);
      const kv = randomOffsets(rng, shape.lk, 3);
      const docOf = (offsets: number[], x: number) => {
        let d = 0;
        while (!(x >= offsets[d]! && x < offsets[d + 1]!)) d++;
        return d;
      };
      return [documentMask(q, kv), (_b, _h, i, j) => docOf(q, i) === docOf(kv, j)];
    }
  }
}

interface RandomCall {
  shape: Shape;
  mask: AttentionMask;
  /** The mask option alone, by hand. */
  hand: Hand;
  options: AttentionOptions;
  /** The whole call (mask and the causal / window / kvLengths options), by hand. */
  handCall: Hand;
}

function randomCall(rng: Rng): RandomCall {
  const pick = <T>(list: readonly T[]) => list[Math.floor(rng.nextFloat() * list.length)]!;
  const shape: Shape = {
    batch: pick([1, 2]),
    heads: pick([1, 3]),
    lq: pick([1, 5, 63, 64, 65, 130, 200]),
    lk: pick([1, 7, 63, 64, 65, 129, 200]),
  };
  let docs: { q: number[]; kv: number[] } | null = null;
  if (rng.nextFloat() < 0.4) {
    const parts = pick([2, 3, 4]);
    docs = { q: randomOffsets(rng, shape.lq, parts), kv: randomOffsets(rng, shape.lk, parts) };
  }
  const p = positionsOf(shape, docs);
  const [term, termHand] = randomTerm(rng, shape, p, 0, true);
  let mask = term;
  let hand = termHand;
  if (docs) {
    const d = docs;
    const docOfRow = new Int32Array(shape.lq);
    const docOfKey = new Int32Array(shape.lk);
    for (let x = 0; x + 1 < d.q.length; x++) {
      docOfRow.fill(x, d.q[x]!, d.q[x + 1]!);
      docOfKey.fill(x, d.kv[x]!, d.kv[x + 1]!);
    }
    mask = andMasks(documentMask(d.q, d.kv), term);
    hand = (b, h, i, j) => docOfRow[i] === docOfKey[j] && termHand(b, h, i, j);
  }
  const options: AttentionOptions = { mask };
  const kind = Math.floor(rng.nextFloat() * 4);
  let extra: Hand = () => true;
  if (kind === 1) {
    options.causal = true;
    extra = (_b, _h, i, j) => j <= p[i]!;
  } else if (kind === 2) {
    const left = Math.floor(rng.nextFloat() * 40);
    const right = Math.floor(rng.nextFloat() * 40);
    options.window = [left, right];
    extra = (_b, _h, i, j) => j >= p[i]! - left && j <= p[i]! + right;
  } else if (kind === 3) {
    const lengths = Array.from({ length: shape.batch }, () => Math.floor(rng.nextFloat() * (shape.lk + 1)));
    options.kvLengths = lengths;
    extra = (b, _h, _i, j) => j < lengths[b]!;
  }
  const whole = hand;
  return { shape, mask, hand, options, handCall: (b, h, i, j) => whole(b, h, i, j) && extra(b, h, i, j) };
}

function problemOf(shape: Shape, options: AttentionOptions) {
  return problemForShape(
    {
      batch: shape.batch,
      qHeads: shape.heads,
      kvHeads: 1,
      qLength: shape.lq,
      kvLength: shape.lk,
      headDim: 2,
      valueDim: 2,
    },
    options,
  );
}

describe('the compiled mask equals its definition', () => {
  const rng = createRng(424242);
  for (let n = 0; n < 60; n++) {
    const call = randomCall(rng);
    const { shape } = call;
    it(`random mask ${n}: B ${shape.batch}, Hq ${shape.heads}, Lq ${shape.lq}, Lk ${shape.lk}, options ${Object.keys(call.options).join(' ')}`, () => {
      const maskOnly = problemOf(shape, { mask: call.mask });
      const problem = problemOf(shape, call.options);
      const evaluated = evaluateMask(call.mask, shape.lq, shape.lk);
      let pairs = 0;
      for (let b = 0; b < shape.batch; b++) {
        for (let h = 0; h < shape.heads; h++) {
          for (let i = 0; i < shape.lq; i++) {
            for (let j = 0; j < shape.lk; j++) {
              const want = call.hand(b, h, i, j);
              if (evaluated(b, h, i, j) !== want) expect.fail(`evaluateMask at ${[b, h, i, j]}: ${!want}`);
              if (isVisibleIn(maskOnly, b, h, i, j) !== want) {
                expect.fail(`isVisibleIn (mask alone) at ${[b, h, i, j]}: ${!want}`);
              }
              const wantCall = call.handCall(b, h, i, j);
              if (isVisibleIn(problem, b, h, i, j) !== wantCall) {
                expect.fail(
                  `isVisibleIn (with ${JSON.stringify(call.options)}) at ${[b, h, i, j]}: ${!wantCall}`,
                );
              }
              if (wantCall) pairs++;
            }
          }
        }
      }
      expect(visiblePairs(problem), 'visiblePairs vs the brute-force count').toBe(pairs);
    });
  }
});

describe('the compiled general part', () => {
  const shape = { batch: 2, heads: 3, lq: 130, lk: 70 };

  it('a predicate is evaluated once per element of its groups, then never again for that shape', () => {
    let calls = 0;
    const mask = predicateMask(
      (_b, _h, i, j) => {
        calls++;
        return j <= i;
      },
      { sameForEveryBatch: true },
    );
    const first = problemOf(shape, { mask });
    // per head (3 groups), not per batch entry
    expect(calls).toBe(3 * shape.lq * shape.lk);
    const second = problemOf(shape, { mask });
    expect(calls, 'second call, same shape').toBe(3 * shape.lq * shape.lk);
    expect(second.generalMask).toBe(first.generalMask);
    expect(first.generalMask!.perHead).toBe(true);
    expect(first.generalMask!.perBatch).toBe(false);
  });

  it('blocks: empty, full and partial classes and one byte per element of a partial block', () => {
    const problem = problemOf(shape, {
      mask: blockSparseMask(
        [
          [1, 0],
          [0, 1],
          [1, 1],
        ],
        64,
        64,
      ),
    });
    const mask = problem.generalMask!;
    expect([mask.qBlocks, mask.kBlocks, mask.perHead, mask.perBatch]).toEqual([3, 2, false, false]);
    // aligned with the 64 × 64 blocks: every block is empty or full, and no bytes are kept
    expect(Array.from(mask.classes)).toEqual([1, 0, 0, 1, 1, 1]);
    expect(mask.bits.length).toBe(0);
    const unaligned = problemOf(shape, { mask: blockSparseMask([[1], [0], [1]], 48, 70) }).generalMask!;
    // rows 0..47 and 96..129 visible: block rows 0 (0..63) and 1 (64..127) partial, 2 (128, 129) full
    expect(Array.from(unaligned.classes)).toEqual([2, 2, 2, 2, 1, 1]);
    expect(unaligned.bits.length).toBe(4 * MASK_BLOCK * MASK_BLOCK);
  });

  it('a call without general terms has no compiled part', () => {
    expect(
      problemOf(shape, { mask: andMasks(documentMask([0, 100, 130], [0, 1, 70]), causalMask()) }).generalMask,
    ).toBe(null);
  });

  it('the cache is keyed by mask value and shape, and keeps the last MASK_CACHE_SHAPES shapes', () => {
    const mask = orMasks(globalTokensMask([0]), windowMask(3, 0));
    const problem = problemOf(shape, { mask });
    expect(isMaskCompiled(mask, problem)).toBe(true);
    expect(problemOf(shape, { mask, causal: true }).generalMask, 'other options, same shape').toBe(
      problem.generalMask,
    );
    // an equal value is another value
    const twin = orMasks(globalTokensMask([0]), windowMask(3, 0));
    expect(isMaskCompiled(twin, problem)).toBe(false);
    expect(problemOf(shape, { mask: twin }).generalMask).not.toBe(problem.generalMask);
    // another shape: B, Hq, Lq, Lk each count
    for (const other of [
      { ...shape, batch: 1 },
      { ...shape, heads: 1 },
      { ...shape, lq: 129 },
      { ...shape, lk: 71 },
    ]) {
      const otherProblem = problemOf(other, {});
      expect(isMaskCompiled(mask, otherProblem), JSON.stringify(other)).toBe(false);
      const compiled = problemOf(other, { mask });
      expect(isMaskCompiled(mask, otherProblem)).toBe(true);
      expect(compiled.generalMask).not.toBe(problem.generalMask);
    }
    expect(isMaskCompiled(mask, problem), '5 shapes are within the cache').toBe(true);
    for (let lk = 80; lk < 80 + MASK_CACHE_SHAPES; lk++) problemOf({ ...shape, lk }, { mask });
    expect(isMaskCompiled(mask, problem), 'evicted after MASK_CACHE_SHAPES newer shapes').toBe(false);
  });

  it('the documents are part of the shape key', () => {
    let calls = 0;
    const mask = andMasks(
      documentMask([0, 65, 130]),
      predicateMask(
        () => {
          calls++;
          return true;
        },
        { sameForEveryHead: true, sameForEveryBatch: true },
      ),
    );
    const square = { ...shape, lq: 130, lk: 130 };
    problemOf(square, { mask });
    expect(calls).toBe(130 * 130);
    problemOf(square, { mask });
    expect(calls).toBe(130 * 130);
  });

  it('isVisibleIn in a parsed call with GQA reads the query head', () => {
    const q = { data: new Float32Array(1 * 4 * 3 * 1), shape: [1, 4, 3, 1] };
    const k = { data: new Float32Array(1 * 2 * 3 * 1), shape: [1, 2, 3, 1] };
    const { problem } = parseAttentionCall(q, k, k, { mask: predicateMask((_b, h, _i, j) => j === h % 3) });
    for (let h = 0; h < 4; h++) {
      for (let j = 0; j < 3; j++) expect(isVisibleIn(problem, 0, h, 1, j)).toBe(j === h % 3);
    }
  });
});
