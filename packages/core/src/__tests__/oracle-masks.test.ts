/**
 * The float64 oracle on masks and score modifiers against closed forms computed here independently:
 * the whole visibility matrix and the whole score matrix of a head are built first (from the
 * definitions in docs/design.md, Masks, "Order of operations", not from visibility.ts or
 * score-mods.ts), then the softmax with its sink. Documents are checked against attention run on each
 * document alone. Tolerances are float64-level (1e-12): only float64 rounding separates the two.
 * The float32 naive path must agree with the oracle within float32 rounding on the same cases.
 */
import {
  type AttentionOptions,
  alibi,
  alibiSlopes,
  andMasks,
  blockSparseMask,
  causalMask,
  documentMask,
  errorStats,
  formatErrorStats,
  globalTokensMask,
  naiveFloat32Attention,
  orMasks,
  predicateMask,
  prefixLMMask,
  randn,
  referenceAttention,
  scoreFunction,
  softcap,
  type Tensor,
  tensor,
  windowMask,
} from '@attnkit/core';
import { sliceSequence } from '@attnkit/core/testing';
import { describe, expect, it } from 'vitest';

const TIGHT = { atol: 1e-12, rtol: 1e-12 };
/** Naive float32 vs the oracle: O(1) outputs, Lk ≤ 100 sequential float32 sums, scores up to ~30. */
const FLOAT32 = { atol: 2e-5, rtol: 2e-5 };

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = TIGHT) {
  const stats = errorStats(actual, expected, tol);
  expect(stats.failing, `${what}: ${formatErrorStats(stats)}`).toBe(0);
}

type Visible = (b: number, h: number, i: number, j: number) => boolean;
type Score = (s: number, b: number, h: number, i: number, j: number) => number;

interface Spec {
  visible?: Visible;
  /** From the scaled score (bias included when given) to the final logit. */
  score?: Score;
  /** Full [B, Hq, Lq, Lk] bias, already broadcast by the test. */
  bias?: Float64Array;
  sinks?: readonly number[];
  scale?: number;
}

/**
 * Softmax attention with everything materialised: per (b, h), the matrices vis[i][j] and s[i][j],
 * then per row max over visible logits and the sink, weights, out and lse.
 */
function closedForm(q: Tensor, k: Tensor, v: Tensor, spec: Spec) {
  const [B, Hq, Lq, D] = q.shape as [number, number, number, number];
  const [, Hkv, Lk] = k.shape as [number, number, number];
  const Dv = v.shape[3]!;
  const scale = spec.scale ?? 1 / Math.sqrt(D);
  const out = new Float64Array(B * Hq * Lq * Dv);
  const lse = new Float64Array(B * Hq * Lq);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const g = Math.floor(h / (Hq / Hkv));
      const vis: boolean[][] = [];
      const s: number[][] = [];
      for (let i = 0; i < Lq; i++) {
        vis.push([]);
        s.push([]);
        for (let j = 0; j < Lk; j++) {
          vis[i]!.push(spec.visible ? spec.visible(b, h, i, j) : true);
          let dot = 0;
          for (let d = 0; d < D; d++) {
            dot += q.data[((b * Hq + h) * Lq + i) * D + d]! * k.data[((b * Hkv + g) * Lk + j) * D + d]!;
          }
          let x = scale * dot;
          if (spec.bias) x += spec.bias[((b * Hq + h) * Lq + i) * Lk + j]!;
          s[i]!.push(spec.score ? spec.score(x, b, h, i, j) : x);
        }
      }
      for (let i = 0; i < Lq; i++) {
        const row = (b * Hq + h) * Lq + i;
        const sink = spec.sinks ? spec.sinks[h]! : Number.NEGATIVE_INFINITY;
        const logits = s[i]!.filter((_, j) => vis[i]![j]);
        if (logits.length === 0) {
          lse[row] = sink;
          continue;
        }
        const m = Math.max(sink, ...logits);
        const denominator = logits.reduce((acc, x) => acc + Math.exp(x - m), Math.exp(sink - m));
        lse[row] = m + Math.log(denominator);
        for (let j = 0; j < Lk; j++) {
          if (!vis[i]![j]) continue;
          const w = Math.exp(s[i]![j]! - m) / denominator;
          for (let d = 0; d < Dv; d++) out[row * Dv + d]! += w * v.data[((b * Hkv + g) * Lk + j) * Dv + d]!;
        }
      }
    }
  }
  return { out, lse };
}

/** The oracle and the closed form agree (out and lse), and naive float32 is within float32 rounding. */
function check(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions, spec: Spec) {
  const oracle = referenceAttention(q, k, v, options);
  const expected = closedForm(q, k, v, spec);
  expectClose(oracle.out, expected.out, 'out');
  expectClose(oracle.lse, expected.lse, 'lse');
  expectClose(naiveFloat32Attention(q, k, v, options), oracle.out, 'naive float32 out', FLOAT32);
  return oracle;
}

const inputs = (b: number, hq: number, hkv: number, lq: number, lk: number, d = 8, dv = d, seed = 11) => ({
  q: randn([b, hq, lq, d], seed),
  k: randn([b, hkv, lk, d], seed + 1),
  v: randn([b, hkv, lk, dv], seed + 2),
});

/** Rows [from, to) of every (b, h) of an oracle result of shape [B, H, L, width]. */
function rowsOf(data: Float64Array, bh: number, length: number, width: number, from: number, to: number) {
  const rows: number[] = [];
  for (let x = 0; x < bh; x++) {
    for (let i = from; i < to; i++)
      rows.push(...data.subarray((x * length + i) * width, (x * length + i + 1) * width));
  }
  return rows;
}

describe('documents: each equals attention over that document alone', () => {
  const cases: { name: string; qOff: number[]; kvOff: number[]; options: AttentionOptions }[] = [
    { name: 'lengths 3, 0, 1, 70', qOff: [0, 3, 3, 4, 74], kvOff: [0, 3, 3, 4, 74], options: {} },
    {
      name: 'lengths 3, 0, 1, 70, causal',
      qOff: [0, 3, 3, 4, 74],
      kvOff: [0, 3, 3, 4, 74],
      options: { causal: true },
    },
    {
      name: 'lengths 3, 0, 1, 70, window [4, 2]',
      qOff: [0, 3, 3, 4, 74],
      kvOff: [0, 3, 3, 4, 74],
      options: { window: [4, 2] },
    },
    {
      name: 'packed differently (2, 1, 0, 7 queries against 5, 0, 3, 72 keys), causal',
      qOff: [0, 2, 3, 3, 10],
      kvOff: [0, 5, 5, 8, 80],
      options: { causal: true },
    },
    {
      name: 'packed differently, causal and window [3, 0]',
      qOff: [0, 2, 3, 3, 10],
      kvOff: [0, 5, 5, 8, 80],
      options: { causal: true, window: [3, 0] },
    },
    {
      name: 'more queries than keys in a document, causal (its first rows see nothing)',
      qOff: [0, 6, 9],
      kvOff: [0, 2, 9],
      options: { causal: true },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const Lq = c.qOff.at(-1)!;
      const Lk = c.kvOff.at(-1)!;
      const { q, k, v } = inputs(2, 4, 2, Lq, Lk, 8, 5);
      const same = c.qOff === c.kvOff;
      const mask = same ? documentMask(c.qOff) : documentMask(c.qOff, c.kvOff);
      const packed = referenceAttention(q, k, v, { ...c.options, mask });
      expectClose(
        naiveFloat32Attention(q, k, v, { ...c.options, mask }),
        packed.out,
        'naive float32 out',
        FLOAT32,
      );
      for (let d = 0; d + 1 < c.qOff.length; d++) {
        const [qs, qe, ks, ke] = [c.qOff[d]!, c.qOff[d + 1]!, c.kvOff[d]!, c.kvOff[d + 1]!];
        if (qe === qs) continue;
        const out = rowsOf(packed.out, 8, Lq, 5, qs, qe);
        const lse = rowsOf(packed.lse, 8, Lq, 1, qs, qe);
        if (ke === ks) {
          // no keys: every row of the document is empty
          expect(out.every((x) => x === 0)).toBe(true);
          expect(lse.every((x) => x === Number.NEGATIVE_INFINITY)).toBe(true);
          continue;
        }
        const alone = referenceAttention(
          sliceSequence(q, qs, qe),
          sliceSequence(k, ks, ke),
          sliceSequence(v, ks, ke),
          c.options,
        );
        expectClose(out, alone.out, `document ${d} out`);
        expectClose(lse, alone.lse, `document ${d} lse`);
      }
    });
  }
});

describe('masks against their materialised matrices', () => {
  it('prefix-LM, prefix 5, Lq < Lk (p = i + 3)', () => {
    const { q, k, v } = inputs(1, 2, 1, 9, 12);
    check(q, k, v, { mask: prefixLMMask(5) }, { visible: (_b, _h, i, j) => j < 5 || j <= i + 3 });
  });

  it('global tokens ORed with a window [2, 0], GQA', () => {
    const { q, k, v } = inputs(2, 4, 2, 20, 20);
    const global = new Set([0, 7]);
    check(
      q,
      k,
      v,
      { mask: orMasks(globalTokensMask([7, 0]), windowMask(2, 0)) },
      { visible: (_b, _h, i, j) => global.has(i) || global.has(j) || (j <= i && j >= i - 2) },
    );
  });

  it('block-sparse with blocks of 48 × 32 over 100 × 70', () => {
    const { q, k, v } = inputs(1, 2, 2, 100, 70);
    const layout = [
      [1, 0, 1],
      [0, 1, 0],
      [1, 1, 0],
    ];
    check(
      q,
      k,
      v,
      { mask: blockSparseMask(layout, 48, 32) },
      { visible: (_b, _h, i, j) => layout[Math.floor(i / 48)]![Math.floor(j / 32)] === 1 },
    );
  });

  it('a per-head predicate ANDed with causal and kvLengths', () => {
    const { q, k, v } = inputs(2, 3, 3, 70, 70);
    const fn = (_b: number, h: number, i: number, j: number) => (i + 2 * j + h) % 3 !== 0;
    check(
      q,
      k,
      v,
      { mask: predicateMask(fn), causal: true, kvLengths: [70, 40] },
      { visible: (b, h, i, j) => fn(b, h, i, j) && j <= i && j < (b === 0 ? 70 : 40) },
    );
  });
});

describe('score modifiers against closed forms', () => {
  it('ALiBi: s + slope_h · (j − p), p = i + Lk − Lq, causal', () => {
    const { q, k, v } = inputs(1, 4, 2, 6, 10);
    const slopes = alibiSlopes(4);
    check(
      q,
      k,
      v,
      { scoreMod: alibi(slopes), causal: true },
      {
        visible: (_b, _h, i, j) => j <= i + 4,
        score: (s, _b, h, i, j) => s + slopes[h]! * (j - (i + 4)),
      },
    );
  });

  it('ALiBi equals a bias slope_h · j (a per-row constant moves lse only, by −slope_h · p)', () => {
    const { q, k, v } = inputs(1, 2, 2, 5, 7);
    const slopes = [0.5, -0.25];
    const bias = tensor(
      Array.from({ length: 2 * 5 * 7 }, (_, x) => slopes[Math.floor(x / 35)]! * (x % 7)),
      [1, 2, 5, 7],
    );
    const withAlibi = referenceAttention(q, k, v, { scoreMod: alibi(slopes) });
    const withBias = referenceAttention(q, k, v, { bias });
    expectClose(withAlibi.out, withBias.out, 'out');
    expectClose(
      withAlibi.lse,
      Array.from(withBias.lse, (x, row) => x - slopes[Math.floor(row / 5)]! * ((row % 5) + 2)),
      'lse',
    );
  });

  it('ALiBi inside documents reads the position in the document', () => {
    const { q, k, v } = inputs(1, 2, 1, 6, 6);
    const slopes = [0.5, 0.125];
    const doc = (x: number) => (x < 2 ? 0 : 1);
    check(
      q,
      k,
      v,
      { scoreMod: alibi(slopes), mask: documentMask([0, 2, 6]) },
      {
        visible: (_b, _h, i, j) => doc(i) === doc(j),
        // packed alike, so p = i inside every document
        score: (s, _b, h, i, j) => s + slopes[h]! * (j - i),
      },
    );
  });

  it('softcap: cap · tanh(s / cap), on logits large enough to be capped', () => {
    const { q, k, v } = inputs(1, 2, 2, 9, 9);
    check(
      q,
      k,
      v,
      { scoreMod: softcap(2), scale: 3 },
      {
        scale: 3,
        score: (s) => 2 * Math.tanh(s / 2),
      },
    );
  });

  it('scoreFunction(cap · tanh(s / cap)) gives softcap’s bits', () => {
    const { q, k, v } = inputs(2, 2, 1, 7, 9);
    const viaFunction = referenceAttention(q, k, v, {
      scoreMod: scoreFunction((s) => 1.5 * Math.tanh(s / 1.5)),
      causal: true,
    });
    const builtIn = referenceAttention(q, k, v, { scoreMod: softcap(1.5), causal: true });
    expect(Array.from(viaFunction.out)).toEqual(Array.from(builtIn.out));
    expect(Array.from(viaFunction.lse)).toEqual(Array.from(builtIn.lse));
  });

  it('scoreFunction sees (b, h, i, j)', () => {
    const { q, k, v } = inputs(2, 2, 2, 4, 5);
    const fn = (s: number, b: number, h: number, i: number, j: number) => s * (1 + b) - 0.1 * h * (i - j);
    check(q, k, v, { scoreMod: scoreFunction(fn) }, { score: fn });
  });

  it('bias broadcast over B and over H, each against the bias expanded by hand', () => {
    const [B, H, Lq, Lk] = [2, 3, 4, 6];
    const { q, k, v } = inputs(B, H, 1, Lq, Lk);
    for (const [bb, bh] of [
      [1, 1],
      [B, 1],
      [1, H],
      [B, H],
    ] as const) {
      const bias = randn([bb, bh, Lq, Lk], 99);
      const full = new Float64Array(B * H * Lq * Lk);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          for (let x = 0; x < Lq * Lk; x++) {
            full[(b * H + h) * Lq * Lk + x] =
              bias.data[((bb === 1 ? 0 : b) * bh + (bh === 1 ? 0 : h)) * Lq * Lk + x]!;
          }
        }
      }
      check(q, k, v, { bias, causal: true }, { bias: full, visible: (_b, _h, i, j) => j <= i + 2 });
    }
  });

  it('a −∞ bias gives a key weight 0 without hiding it; a row of −∞ biases gives zeros and lse −∞', () => {
    const { q, k, v } = inputs(1, 1, 1, 2, 3, 4, 2);
    const bias = tensor(
      [0, Number.NEGATIVE_INFINITY, 0, ...new Array(3).fill(Number.NEGATIVE_INFINITY)],
      [1, 1, 2, 3],
    );
    const { out, lse } = referenceAttention(q, k, v, { bias });
    const expected = closedForm(q, k, v, { visible: (_b, _h, _i, j) => j !== 1 });
    expectClose(out.subarray(0, 2), expected.out.subarray(0, 2), 'row 0');
    expect(lse[0]).toBeCloseTo(expected.lse[0]!, 12);
    expect(Array.from(out.subarray(2))).toEqual([0, 0]);
    expect(lse[1]).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('sinks', () => {
  it('lse = logaddexp(lse without, sink) and out = out without · exp(lse without − lse)', () => {
    const { q, k, v } = inputs(2, 3, 1, 5, 8, 8, 4);
    const sinks = [-1, 0.5, 4];
    const without = referenceAttention(q, k, v, { causal: true });
    const withSinks = check(
      q,
      k,
      v,
      { causal: true, sinks },
      { sinks, visible: (_b, _h, i, j) => j <= i + 3 },
    );
    for (let row = 0; row < without.lse.length; row++) {
      const h = Math.floor(row / 5) % 3;
      const a = without.lse[row]!;
      const sink = sinks[h]!;
      const m = Math.max(a, sink);
      const lse = m + Math.log(Math.exp(a - m) + Math.exp(sink - m));
      expect(withSinks.lse[row]).toBeCloseTo(lse, 12);
      for (let d = 0; d < 4; d++) {
        expect(withSinks.out[row * 4 + d]).toBeCloseTo(without.out[row * 4 + d]! * Math.exp(a - lse), 12);
      }
    }
  });

  it('an empty row with a sink gives zeros and lse = the sink', () => {
    const { q, k, v } = inputs(2, 2, 2, 3, 3, 4, 2);
    const { out, lse } = referenceAttention(q, k, v, { kvLengths: [3, 0], sinks: [1.5, -2] });
    expect(Array.from(out.subarray(12))).toEqual(new Array(12).fill(0));
    expect(Array.from(lse.subarray(6))).toEqual([1.5, 1.5, 1.5, -2, -2, -2]);
    expect(
      Array.from(naiveFloat32Attention(q, k, v, { kvLengths: [3, 0], sinks: [1.5, -2] }).subarray(12)),
    ).toEqual(new Array(12).fill(0));
  });

  it('a sink far above every score takes all the weight: out → 0, lse → the sink', () => {
    const { q, k, v } = inputs(1, 1, 1, 2, 4, 4, 2);
    const { out, lse } = referenceAttention(q, k, v, { sinks: [1000] });
    expect(Array.from(out).every((x) => Math.abs(x) < 1e-300)).toBe(true);
    expect(Array.from(lse)).toEqual([1000, 1000]);
  });
});

describe('order of operations: s = scale·q·k + bias → modifiers in order → mask → softmax', () => {
  const { q, k, v } = inputs(1, 2, 2, 6, 6);
  const bias = randn([1, 1, 6, 6], 5);
  for (let x = 0; x < bias.data.length; x++) bias.data[x] = bias.data[x]! * 3;

  it('bias before softcap: cap · tanh((s + bias) / cap), not cap · tanh(s / cap) + bias', () => {
    const options = { bias, scoreMod: softcap(1), causal: true };
    const visible: Visible = (_b, _h, i, j) => j <= i;
    const oracle = check(q, k, v, options, {
      bias: Float64Array.from([...bias.data, ...bias.data]), // shared by both heads
      score: (s) => Math.tanh(s),
      visible,
    });
    // the other order gives another result: the test would see a swap
    const swapped = closedForm(q, k, v, {
      score: (s, _b, _h, i, j) => Math.tanh(s) + bias.data[i * 6 + j]!,
      visible,
    });
    expect(errorStats(oracle.out, swapped.out).maxAbs).toBeGreaterThan(1e-2);
  });

  it('modifiers in the order given: [alibi, softcap] caps the ALiBi term, [softcap, alibi] does not', () => {
    const slopes = [2, 1];
    const visible: Visible = (_b, _h, i, j) => j <= i;
    const first = check(
      q,
      k,
      v,
      { scoreMod: [alibi(slopes), softcap(1)], causal: true },
      { score: (s, _b, h, i, j) => Math.tanh(s + slopes[h]! * (j - i)), visible },
    );
    const second = check(
      q,
      k,
      v,
      { scoreMod: [softcap(1), alibi(slopes)], causal: true },
      { score: (s, _b, h, i, j) => Math.tanh(s) + slopes[h]! * (j - i), visible },
    );
    expect(errorStats(first.out, second.out).maxAbs).toBeGreaterThan(1e-2);
  });

  it('the mask comes after the modifiers: a modifier cannot make a hidden key visible', () => {
    const { out, lse } = referenceAttention(q, k, v, {
      mask: andMasks(causalMask()),
      scoreMod: scoreFunction(() => 50),
      sinks: [50, 50],
    });
    // every visible logit is 50, as is the sink: row i has i + 1 keys of weight 1/(i + 2) each
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < 6; i++) {
        expect(lse[h * 6 + i]).toBeCloseTo(50 + Math.log(i + 2), 12);
        for (let d = 0; d < 8; d++) {
          let mean = 0;
          for (let j = 0; j <= i; j++) mean += v.data[(h * 6 + j) * 8 + d]!;
          expect(out[(h * 6 + i) * 8 + d]).toBeCloseTo(mean / (i + 2), 12);
        }
      }
    }
  });
});
