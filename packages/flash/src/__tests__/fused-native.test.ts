/**
 * The fused native flash kernel (packages/native, OP_FLASH_BLOCK; work.ts attendSegmentFused): that
 * it is the path native calls take on the problems it covers, that it computes what the generic
 * native loop computes (float64 oracle within flash's tolerance, the 2× rule, and within the 2× bound
 * of the generic path's own result) on every CPU path this machine runs, and that it hands the rows
 * back where it must: hidden non-finite values (the kv head runs the generic loop) and an overflowing
 * accumulator (the generic loop's second pass). Counts come from fusedFlashCounts, so calls whose
 * counts are read run on one thread (a pool worker counts in its own module instance).
 * Imports the built package: pool workers load the built work module.
 */
import {
  type AttentionOptions,
  alibi,
  blockSparseMask,
  documentMask,
  errorStats,
  formatErrorStats,
  naiveFloat32Attention,
  prefixLMMask,
  randn,
  referenceAttention,
  scoreFunction,
  softcap,
  type Tensor,
} from '@attnkit/core';
import { twoXRule } from '@attnkit/core/testing';
import {
  type NativePath,
  nativePathInfo,
  nativeUnavailableReason,
  setNativePath,
  startThreads,
  stopThreads,
} from '@attnkit/kernels';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { flash } from '../../dist/index.js';
import { fusedFlashCounts, setFusedFlash } from '../../dist/work.js';
import type { FlashOptions } from '../options.js';

const TOLERANCE = { atol: 1e-4, rtol: 1e-4 }; // flash's conformance tolerance
const LSE_TOLERANCE = { atol: 1e-4, rtol: 2 ** -20 };

const NATIVE_WHY = nativeUnavailableReason();
const describeNative = NATIVE_WHY === undefined ? describe : describe.skip;
const PATHS: readonly NativePath[] = nativePathInfo()?.paths ?? [];

interface Run {
  out: Float32Array;
  lse: Float32Array;
  /** Segments the fused kernel ran, and how many of them it handed back (overflow). */
  segments: number;
  overflows: number;
}

/** One native flash call on one thread, fused or generic, with the fused counts it caused. */
function run(q: Tensor, k: Tensor, v: Tensor, options: FlashOptions, fused: boolean, threads = 1): Run {
  const rows = q.shape[0]! * q.shape[1]! * q.shape[2]!;
  const lse = new Float32Array(rows);
  const segments = fusedFlashCounts.segments;
  const overflows = fusedFlashCounts.overflows;
  setFusedFlash(fused);
  try {
    const out = flash.forward(q, k, v, { ...options, backend: 'native', threads, lse });
    return {
      out: out.data,
      lse,
      segments: fusedFlashCounts.segments - segments,
      overflows: fusedFlashCounts.overflows - overflows,
    };
  } finally {
    setFusedFlash(true);
  }
}

/** Fused and generic both within tolerance of the oracle and the 2× rule, and of each other. */
function expectAgree(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions, fused: Run, generic: Run) {
  const reference = referenceAttention(q, k, v, options);
  const rule = twoXRule(naiveFloat32Attention(q, k, v, options), reference.out);
  for (const [name, got] of [
    ['fused', fused],
    ['generic', generic],
  ] as const) {
    const stats = errorStats(got.out, reference.out, TOLERANCE);
    expect(stats.failing, `${name} out: ${formatErrorStats(stats)}`).toBe(0);
    expect(stats.maxAbs, `${name}: 2× rule`).toBeLessThanOrEqual(rule.bound);
    const lse = errorStats(got.lse, reference.lse, LSE_TOLERANCE);
    expect(lse.failing, `${name} lse: ${formatErrorStats(lse)}`).toBe(0);
  }
  const between = errorStats(fused.out, generic.out).maxAbs;
  expect(between, `fused vs generic ${between} > 2× bound ${rule.bound}`).toBeLessThanOrEqual(rule.bound);
}

interface Case {
  name: string;
  q: number[];
  k: number[];
  /** Dv when it differs from Dk. */
  dv?: number;
  options: AttentionOptions;
  blocks?: FlashOptions;
  /** Fused segments a one-thread call runs (items × key splits; one segment per item here). */
  segments: number;
}

const CASES: Case[] = [
  { name: 'causal', q: [1, 2, 200, 64], k: [1, 2, 200, 64], options: { causal: true }, segments: 2 * 4 },
  {
    name: 'windowed [40, 5]',
    q: [1, 2, 300, 32],
    k: [1, 2, 300, 32],
    options: { window: [40, 5] },
    segments: 2 * 5,
  },
  {
    name: 'padded (kvLengths), non-causal',
    q: [2, 1, 130, 64],
    k: [2, 1, 181, 64],
    options: { kvLengths: [181, 61] },
    segments: 2 * 3,
  },
  {
    name: 'GQA 4:2, causal',
    q: [1, 4, 130, 64],
    k: [1, 2, 130, 64],
    options: { causal: true },
    segments: 4 * 3,
  },
  {
    name: 'Lq ≠ Lk (bottom-right), causal',
    q: [1, 2, 50, 48],
    k: [1, 2, 333, 48],
    options: { causal: true },
    segments: 2,
  },
  {
    name: 'split-KV decode: Lq 1 against 4096 keys',
    q: [1, 2, 1, 64],
    k: [1, 2, 4096, 64],
    options: {},
    segments: 2 * 8,
  },
  {
    name: 'Dv 24 ≠ Dk 20 (packed value tiles), causal window, ragged tiles',
    q: [1, 3, 33, 20],
    k: [1, 1, 45, 20],
    dv: 24,
    options: { window: [9, 0] },
    blocks: { blockQ: 5, blockK: 7 },
    segments: 3 * 7,
  },
  {
    name: 'sinks (applied to finished rows)',
    q: [1, 2, 70, 64],
    k: [1, 2, 90, 64],
    options: { causal: true, sinks: [0.5, -1] },
    segments: 2 * 2,
  },
  {
    name: 'ALiBi, causal (modifier inside the kernel)',
    q: [1, 2, 150, 64],
    k: [1, 2, 150, 64],
    options: { causal: true, scoreMod: alibi([0.5, 0.0625]) },
    segments: 2 * 3,
  },
  {
    name: 'softcap then ALiBi, non-causal window, ragged tiles',
    q: [1, 2, 70, 32],
    k: [1, 2, 90, 32],
    options: { window: [30, 30], scoreMod: [softcap(2), alibi([0.25, 1])] },
    blocks: { blockQ: 16, blockK: 24 },
    segments: 2 * 5,
  },
  {
    // 2 heads × (block 0: docs 0, 1 | block 1: docs 1, 2 | block 2: doc 2): a segment per document
    name: 'packed documents (lengths 0, 40, 100, 30), causal, window [20, 0]',
    q: [1, 2, 170, 32],
    k: [1, 2, 170, 32],
    options: { causal: true, window: [20, 0], mask: documentMask([0, 0, 40, 140, 170]) },
    segments: 2 * 5,
  },
  {
    name: 'documents packed differently (decode: 1 query per document)',
    q: [1, 2, 3, 32],
    k: [1, 2, 300, 32],
    options: { causal: true, mask: documentMask([0, 1, 2, 3], [0, 100, 180, 300]) },
    segments: 2 * 3,
  },
  {
    name: 'block-sparse layout of 64-blocks (its runs tiled, unmasked)',
    q: [1, 2, 256, 32],
    k: [1, 2, 256, 32],
    options: {
      mask: blockSparseMask(
        Array.from({ length: 4 }, (_, i) =>
          Array.from({ length: 4 }, (_, j) => i === j || j === 0 || (i + j) % 3 === 0),
        ),
        64,
      ),
    },
    segments: 2 * 4,
  },
];

function inputs(c: Case, seed: number): [Tensor, Tensor, Tensor] {
  const vShape = [...c.k];
  if (c.dv !== undefined) vShape[3] = c.dv;
  return [randn(c.q, seed), randn(c.k, seed + 1), randn(vShape, seed + 2)];
}

beforeAll(async () => {
  await startThreads(2);
});
afterAll(async () => {
  await stopThreads();
});

describeNative('fused native flash', () => {
  afterEach(() => {
    if (NATIVE_WHY === undefined) setNativePath();
  });

  for (const path of PATHS) {
    for (const c of CASES) {
      it(`${path}: ${c.name} runs fused and matches the generic native loop`, () => {
        setNativePath(path);
        const [q, k, v] = inputs(c, 7);
        const options = { ...c.options, ...c.blocks };
        const fused = run(q, k, v, options, true);
        const generic = run(q, k, v, options, false);
        expect(fused.segments).toBe(c.segments);
        expect(fused.overflows).toBe(0);
        expect(generic.segments).toBe(0);
        expectAgree(q, k, v, c.options, fused, generic);
      });
    }
  }

  it('the fused path gives the same bits on 1 and 2 threads', () => {
    for (const c of CASES) {
      const [q, k, v] = inputs(c, 3);
      const options = { ...c.options, ...c.blocks };
      const one = run(q, k, v, options, true, 1);
      const two = run(q, k, v, options, true, 2);
      expect(Array.from(two.out), c.name).toEqual(Array.from(one.out));
      expect(Array.from(two.lse), c.name).toEqual(Array.from(one.lse));
    }
  });

  it('NaN in q: that row is NaN (out and lse), the others match the generic loop', () => {
    const c = CASES[0]!;
    const [q, k, v] = inputs(c, 21);
    const row = 77; // head 0, row 77
    q.data[row * 64 + 5] = Number.NaN;
    const fused = run(q, k, v, c.options, true);
    const generic = run(q, k, v, c.options, false);
    expect(fused.segments).toBe(c.segments);
    expect(Number.isNaN(fused.lse[row]!)).toBe(true);
    for (let i = 0; i < 64; i++) expect(Number.isNaN(fused.out[row * 64 + i]!)).toBe(true);
    let nanRows = 0;
    for (let r = 0; r < fused.lse.length; r++) if (Number.isNaN(fused.lse[r]!)) nanRows++;
    expect(nanRows).toBe(1);
    // every other row agrees with the generic loop within the 2× bound of the clean problem
    const [cq] = inputs(c, 21);
    const rule = twoXRule(
      naiveFloat32Attention(cq, k, v, c.options),
      referenceAttention(cq, k, v, c.options).out,
    );
    for (let i = 0; i < fused.out.length; i++) {
      if (Math.floor(i / 64) === row) continue;
      expect(Math.abs(fused.out[i]! - generic.out[i]!)).toBeLessThanOrEqual(rule.bound);
    }
  });

  it('hidden NaN values: their kv head falls back to the generic loop, the other head stays fused', () => {
    // kv head 0 holds a NaN value at key 150, beyond kvLengths = 120: hidden from every row
    const q = randn([1, 2, 100, 32], 31);
    const k = randn([1, 2, 160, 32], 32);
    const v = randn([1, 2, 160, 32], 33);
    v.data[150 * 32 + 3] = Number.NaN;
    const options = { kvLengths: [120] };
    const fused = run(q, k, v, options, true);
    const generic = run(q, k, v, options, false);
    expect(fused.segments).toBe(2); // head 1's two query blocks only
    for (const x of fused.out) expect(Number.isFinite(x)).toBe(true);
    const clean = randn([1, 2, 160, 32], 33);
    expectAgree(q, k, clean, options, fused, generic);
  });

  it('values near FLT_MAX: the accumulator overflows, the rows rerun on the generic loop and stay finite', () => {
    // equal scores: every row averages values of 3e38 over 300 keys, whose unnormalised sum overflows
    const n = 300;
    const q = randn([1, 1, 70, 16], 41, 0);
    const k = randn([1, 1, n, 16], 42, 0);
    const v = { data: new Float32Array(n * 16).fill(3e38), shape: [1, 1, n, 16] };
    const fused = run(q, k, v, {}, true);
    const generic = run(q, k, v, {}, false);
    expect(fused.segments).toBe(2);
    expect(fused.overflows).toBe(2);
    expect(Array.from(fused.out)).toEqual(Array.from(generic.out));
    // a sum of n weights·values in float32: within n rounding errors of the exact 3e38
    for (const x of fused.out) expect(Math.abs(x - 3e38)).toBeLessThanOrEqual(n * 2 ** -24 * 3e38);
    for (const l of fused.lse) expect(l).toBeCloseTo(Math.log(n), 5);
  });

  it('prefix-LM, a block-sparse mask with partial 64-blocks, a score function or a bias run the generic loop', () => {
    const q = randn([1, 1, 64, 16], 51);
    const k = randn([1, 1, 64, 16], 52);
    const layout = [
      [true, false],
      [true, true],
    ];
    const uncovered: [string, FlashOptions][] = [
      ['prefix-LM', { mask: prefixLMMask(8) }],
      ['block-sparse', { mask: blockSparseMask(layout, 32, 32) }],
      ['score function', { scoreMod: scoreFunction((score) => score * 0.5) }],
      ['bias', { bias: randn([1, 1, 64, 64], 53) }],
    ];
    for (const [name, options] of uncovered) {
      expect(run(q, k, k, options, true).segments, name).toBe(0);
    }
    expect(run(q, k, k, {}, true).segments).toBe(1);
  });
});

if (NATIVE_WHY !== undefined) {
  describe.skip(`fused native flash — native is unavailable: ${NATIVE_WHY}`, () => {
    it('skipped', () => {});
  });
}
