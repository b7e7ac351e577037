/**
 * The conformance case table (docs/design.md, Accuracy): awkward sizes, head dims, Lq != Lk both ways, Dv != Dk,
 * GQA / MQA, causal, windows (incl. [0, 0] and wider than the sequence), kvLengths (incl. 0),
 * custom and negative scales, logits around ±1e4, fully masked rows, and seeded random shapes.
 * Sizes stay small except a few 257s and 1025s, so the whole kit runs in seconds per variant
 * even on the plain-JS backend. Cases are plain data so the harness can reuse them.
 */
import {
  andMasks,
  blockSparseMask,
  documentMask,
  globalTokensMask,
  notMask,
  orMasks,
  predicateMask,
  prefixLMMask,
  windowMask,
} from '../mask-values.js';
import { createRng } from '../rng.js';
import { alibi, alibiSlopes, scoreFunction, softcap } from '../score-mods.js';
import { randn } from '../tensor.js';
import type { AttentionOptions, Tensor } from '../types.js';

export interface ConformanceCase {
  name: string;
  shapes: { q: number[]; k: number[]; v: number[] };
  options: AttentionOptions;
  seed: number;
  /** q is multiplied by this, so scaled scores are about N(0, logitScale²) (large-logit cases). */
  logitScale?: number;
}

interface CaseSpec {
  name: string;
  b?: number;
  hq?: number;
  hkv?: number;
  lq: number;
  lk: number;
  dk?: number;
  dv?: number;
  options?: AttentionOptions;
  logitScale?: number;
}

const INF = Number.POSITIVE_INFINITY;
const AWKWARD_LENGTHS = [1, 2, 3, 15, 31, 33, 97, 257];
const HEAD_DIMS = [1, 8, 59, 64, 128];
const RANDOM_CASES = 16;

function describeOptions(options: AttentionOptions): string {
  const parts: string[] = [];
  if (options.causal) parts.push('causal');
  if (options.window) parts.push(`window [${options.window.join(', ')}]`);
  if (options.kvLengths) parts.push(`kvLengths [${Array.from(options.kvLengths).join(', ')}]`);
  if (options.scale !== undefined) parts.push(`scale ${options.scale}`);
  if (options.bias) parts.push(`bias [${options.bias.shape.join(', ')}]`);
  if (options.sinks) parts.push(`sinks [${Array.from(options.sinks).join(', ')}]`);
  return parts.join(', ');
}

function specs(): CaseSpec[] {
  const list: CaseSpec[] = [];
  // 1. Awkward lengths, square, with and without the causal mask; two 1025s.
  for (const l of AWKWARD_LENGTHS) list.push({ name: 'square', lq: l, lk: l });
  for (const l of AWKWARD_LENGTHS) list.push({ name: 'square', lq: l, lk: l, options: { causal: true } });
  list.push({ name: 'long', hq: 1, hkv: 1, lq: 1025, lk: 1025, dk: 64, dv: 64 });
  list.push({ name: 'long', hq: 1, hkv: 1, lq: 1025, lk: 1025, dk: 64, dv: 64, options: { causal: true } });
  // Decoding against a long context: few (batch, head, query-block) items, so the variants that split
  // their keys (split-KV) run several ranges and merge them.
  list.push({ name: 'decode', b: 1, hq: 4, hkv: 2, lq: 1, lk: 2049, dk: 32, dv: 32 });
  list.push({
    name: 'decode',
    b: 1,
    hq: 2,
    hkv: 1,
    lq: 3,
    lk: 2049,
    dk: 32,
    dv: 16,
    options: { causal: true },
  });
  list.push({
    name: 'decode',
    b: 2,
    hq: 2,
    hkv: 2,
    lq: 2,
    lk: 1500,
    dk: 16,
    dv: 16,
    options: { window: [700, 0], kvLengths: [1500, 901] },
  });
  // 2. Head dims, and Dv != Dk.
  for (const d of HEAD_DIMS) list.push({ name: 'head dim', lq: 31, lk: 31, dk: d, dv: d });
  list.push({ name: 'head dim', lq: 33, lk: 33, dk: 128, dv: 128, options: { causal: true } });
  for (const [dk, dv] of [
    [8, 59],
    [64, 1],
    [59, 128],
    [1, 64],
  ] as const) {
    list.push({ name: 'Dv != Dk', lq: 15, lk: 33, dk, dv });
  }
  // 3. Lq != Lk in both directions (decode, cross-attention; causal leaves early rows empty when Lq > Lk).
  for (const [lq, lk] of [
    [1, 97],
    [1, 1025],
    [15, 257],
    [33, 1],
    [97, 15],
    [257, 33],
  ] as const) {
    list.push({ name: 'Lq != Lk', lq, lk });
    list.push({ name: 'Lq != Lk', lq, lk, options: { causal: true } });
  }
  // 4. GQA and MQA.
  list.push({ name: 'GQA', b: 2, hq: 6, hkv: 2, lq: 33, lk: 33, dk: 16, dv: 16 });
  list.push({ name: 'GQA', b: 2, hq: 6, hkv: 2, lq: 33, lk: 33, dk: 16, dv: 16, options: { causal: true } });
  list.push({ name: 'MQA', b: 1, hq: 4, hkv: 1, lq: 15, lk: 31, dk: 8, dv: 12 });
  list.push({
    name: 'MQA',
    b: 2,
    hq: 4,
    hkv: 1,
    lq: 31,
    lk: 15,
    options: { causal: true, kvLengths: [15, 7] },
  });
  // 5. Windows: empty reach, one-sided, unbounded on one side, wider than the sequence, with causal.
  for (const window of [
    [0, 0],
    [2, 1],
    [4, 0],
    [INF, 3],
    [3, INF],
    [0, INF],
    [1000, 1000],
  ] as const) {
    list.push({ name: 'window', lq: 33, lk: 33, options: { window } });
  }
  list.push({ name: 'window', lq: 33, lk: 33, options: { window: [5, 7], causal: true } });
  list.push({ name: 'window', lq: 15, lk: 33, options: { window: [0, 0] } });
  list.push({ name: 'window', lq: 33, lk: 15, options: { window: [2, 2] } });
  list.push({ name: 'window', lq: 257, lk: 257, options: { window: [16, 0] } });
  // 6. kvLengths, including 0 (that batch entry sees nothing) and combined with masks.
  list.push({ name: 'kvLengths', b: 3, lq: 31, lk: 31, options: { kvLengths: [31, 0, 5] } });
  list.push({ name: 'kvLengths', b: 3, lq: 31, lk: 31, options: { kvLengths: [31, 0, 17], causal: true } });
  list.push({ name: 'kvLengths', b: 2, lq: 4, lk: 9, options: { kvLengths: [0, 0] } });
  list.push({ name: 'kvLengths', b: 2, lq: 33, lk: 33, options: { kvLengths: [20, 2], window: [3, 3] } });
  list.push({ name: 'kvLengths', b: 2, lq: 1, lk: 97, options: { kvLengths: new Int32Array([97, 40]) } });
  // 7. Scales, including a negative one (valid maths: it prefers dissimilar keys).
  for (const scale of [0.5, -0.3, 3]) list.push({ name: 'scale', lq: 15, lk: 15, options: { scale } });
  // 8. Scores around ±1e4: max subtraction must keep everything finite and exact.
  list.push({ name: 'logits ±1e4', lq: 33, lk: 33, dk: 16, dv: 16, logitScale: 1e4 });
  list.push({ name: 'logits ±1e4', lq: 97, lk: 97, options: { causal: true }, logitScale: 1e4 });
  list.push({ name: 'logits ±1e4', b: 2, hq: 4, hkv: 2, lq: 1, lk: 257, logitScale: 1e4 });
  list.push({
    name: 'logits ±1e4',
    lq: 15,
    lk: 31,
    dk: 1,
    dv: 3,
    logitScale: 1e4,
    options: { window: [4, 4] },
  });
  // 9. Fully masked rows.
  list.push({ name: 'empty rows', lq: 16, lk: 16, options: { window: [1, 0], kvLengths: [4] } });
  list.push({ name: 'empty rows', lq: 40, lk: 8, options: { window: [0, 0] } });
  list.push({ name: 'empty rows', lq: 9, lk: 9, options: { window: [0, 0], kvLengths: [0] } });
  return list;
}

/** Seeded random shapes and masks (the same on every run and platform). */
function randomSpecs(): CaseSpec[] {
  const rng = createRng(20240611);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.nextFloat() * (hi - lo + 1));
  const list: CaseSpec[] = [];
  for (let i = 0; i < RANDOM_CASES; i++) {
    const b = int(1, 2);
    const hkv = int(1, 3);
    const hq = hkv * int(1, 3);
    const lq = int(1, 70);
    const lk = int(1, 70);
    const options: AttentionOptions = {};
    const kind = int(0, 4);
    if (kind === 1 || kind === 4) options.causal = true;
    if (kind === 2 || kind === 4) options.window = [int(0, 20), rng.nextFloat() < 0.3 ? INF : int(0, 20)];
    if (kind === 3 || kind === 4) options.kvLengths = Array.from({ length: b }, () => int(0, lk));
    list.push({ name: 'random', b, hq, hkv, lq, lk, dk: int(1, 72), dv: int(1, 72), options });
  }
  return list;
}

/** The case table, in a fixed order with fixed seeds. */
export function conformanceCases(): ConformanceCase[] {
  return [...specs(), ...randomSpecs()].map((s, index) => {
    const b = s.b ?? 1;
    const hq = s.hq ?? 2;
    const hkv = s.hkv ?? hq;
    const dk = s.dk ?? 8;
    const dv = s.dv ?? dk;
    const options = s.options ?? {};
    const detail = describeOptions(options);
    const c: ConformanceCase = {
      name:
        `${s.name}: q [${b}, ${hq}, ${s.lq}, ${dk}], kv [${b}, ${hkv}, ${s.lk}, ${dk}|${dv}]` +
        `${detail ? `, ${detail}` : ''}${s.logitScale ? `, logits x${s.logitScale}` : ''}`,
      shapes: { q: [b, hq, s.lq, dk], k: [b, hkv, s.lk, dk], v: [b, hkv, s.lk, dv] },
      options,
      seed: 1000 + index,
    };
    if (s.logitScale !== undefined) c.logitScale = s.logitScale;
    return c;
  });
}

/** Deterministic inputs of a case: q, k, v ~ N(0, 1) from three seeds derived from c.seed. */
export function makeCaseInputs(c: ConformanceCase): { q: Tensor; k: Tensor; v: Tensor } {
  const q = randn(c.shapes.q, c.seed * 3);
  const k = randn(c.shapes.k, c.seed * 3 + 1);
  const v = randn(c.shapes.v, c.seed * 3 + 2);
  if (c.logitScale !== undefined) {
    for (let i = 0; i < q.data.length; i++) q.data[i] = q.data[i]! * c.logitScale;
  }
  return { q, k, v };
}

// ---------------------------------------------------------------------------------------------
// Masks and score modifiers (docs/design.md, Masks): cases the kit runs for the features a variant
// declares in config.maskSupport.

/** A mask or score-modifier feature a variant may declare (ConformanceConfig.maskSupport). */
export type MaskFeature =
  | 'document'
  | 'prefixLM'
  | 'globalTokens'
  | 'blockSparse'
  | 'predicate'
  | 'composition'
  | 'alibi'
  | 'softcap'
  | 'scoreFunction'
  | 'bias'
  | 'sinks';

export const MASK_FEATURES: readonly MaskFeature[] = [
  'document',
  'prefixLM',
  'globalTokens',
  'blockSparse',
  'predicate',
  'composition',
  'alibi',
  'softcap',
  'scoreFunction',
  'bias',
  'sinks',
];

/** The option that carries each feature (a refusal's reason must name it). */
export const MASK_FEATURE_OPTION: Readonly<Record<MaskFeature, 'mask' | 'scoreMod' | 'bias' | 'sinks'>> = {
  document: 'mask',
  prefixLM: 'mask',
  globalTokens: 'mask',
  blockSparse: 'mask',
  predicate: 'mask',
  composition: 'mask',
  alibi: 'scoreMod',
  softcap: 'scoreMod',
  scoreFunction: 'scoreMod',
  bias: 'bias',
  sinks: 'sinks',
};

/** A conformance case that needs mask or score-modifier features ('composition': or, not, nested terms). */
export interface MaskCase extends ConformanceCase {
  readonly features: readonly MaskFeature[];
}

interface MaskSpec {
  name: string;
  features: MaskFeature[];
  b?: number;
  lq: number;
  lk: number;
  dk?: number;
  /** Built per case (a bias needs the case's seed and shape). */
  options: (seed: number) => AttentionOptions;
}

/** A fixed 0/1 block layout of rows × cols with density about 1/2 and a full diagonal. */
function layoutOf(rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, (_, r) =>
    Array.from({ length: cols }, (_, c) => (r === c || (r * 3 + c * 5) % 4 < 2 ? 1 : 0)),
  );
}

/**
 * The mask cases: GQA (Hq = 4, Hkv = 2) everywhere, N ≤ 300 so the kit stays fast on the JS backend,
 * documents of lengths 0 and 1 and longer than a 256-key tile, queries and keys packed differently,
 * documents with causal and a window, each modifier alone and composed, block-sparse blocks aligned
 * and not aligned to 64, a predicate equal to causal, global tokens ORed with a window.
 */
function maskSpecs(): MaskSpec[] {
  const slopes = alibiSlopes(4);
  return [
    {
      name: 'document: lengths 1, 0, 263 (longer than a tile), 36',
      features: ['document'],
      lq: 300,
      lk: 300,
      options: () => ({ mask: documentMask([0, 1, 1, 264, 300]) }),
    },
    {
      name: 'document: lengths 1, 0, 263, 36',
      features: ['document'],
      lq: 300,
      lk: 300,
      options: () => ({ mask: documentMask([0, 1, 1, 264, 300]), causal: true }),
    },
    {
      name: 'document: queries 1, 2, 0, 4 against keys 40, 1, 59, 190 (decoding packed sequences)',
      features: ['document'],
      lq: 7,
      lk: 290,
      options: () => ({ mask: documentMask([0, 1, 3, 3, 7], [0, 40, 41, 100, 290]), causal: true }),
    },
    {
      name: 'document: queries 5, 3 against keys 2, 60 (early rows of document 0 see nothing)',
      features: ['document'],
      lq: 8,
      lk: 62,
      options: () => ({ mask: documentMask([0, 5, 8], [0, 2, 62]), causal: true }),
    },
    {
      name: 'document: lengths 1, 69, 0, 60 with a window',
      features: ['document'],
      lq: 130,
      lk: 130,
      options: () => ({ mask: documentMask([0, 1, 70, 70, 130]), causal: true, window: [16, 0] }),
    },
    {
      name: 'document: lengths 50, 80 with kvLengths',
      features: ['document'],
      b: 2,
      lq: 130,
      lk: 130,
      options: () => ({ mask: documentMask([0, 50, 130]), causal: true, kvLengths: [130, 90] }),
    },
    {
      name: 'prefixLM: prefix 20',
      features: ['prefixLM'],
      lq: 97,
      lk: 97,
      options: () => ({ mask: prefixLMMask(20) }),
    },
    {
      name: 'prefixLM: prefix 30, Lq < Lk',
      features: ['prefixLM'],
      lq: 33,
      lk: 70,
      options: () => ({ mask: prefixLMMask(30) }),
    },
    {
      name: 'globalTokens: 0, 5, 64',
      features: ['globalTokens'],
      lq: 100,
      lk: 100,
      options: () => ({ mask: globalTokensMask([0, 5, 64]), causal: true }),
    },
    {
      name: 'globalTokens 0, 70 ORed with a window [8, 0]',
      features: ['globalTokens', 'composition'],
      lq: 130,
      lk: 130,
      options: () => ({ mask: orMasks(globalTokensMask([0, 70]), windowMask(8, 0)) }),
    },
    {
      name: 'blockSparse: blocks of 64',
      features: ['blockSparse'],
      lq: 200,
      lk: 200,
      options: () => ({ mask: blockSparseMask(layoutOf(4, 4), 64, 64) }),
    },
    {
      name: 'blockSparse: blocks of 48 (not aligned to tiles)',
      features: ['blockSparse'],
      lq: 150,
      lk: 200,
      options: () => ({ mask: blockSparseMask(layoutOf(4, 5), 48, 48) }),
    },
    {
      name: 'predicate: equal to causal',
      features: ['predicate'],
      lq: 130,
      lk: 130,
      options: () => ({
        mask: predicateMask((_b, _h, i, j) => j <= i, { sameForEveryHead: true, sameForEveryBatch: true }),
      }),
    },
    {
      name: 'predicate: per head and batch entry',
      features: ['predicate'],
      b: 2,
      lq: 70,
      lk: 70,
      options: () => ({ mask: predicateMask((b, h, i, j) => (i + 2 * j + h + b) % 3 !== 0) }),
    },
    {
      name: 'composition: a local band or the far past (or, not)',
      features: ['composition'],
      lq: 97,
      lk: 97,
      options: () => ({
        mask: orMasks(windowMask(4, 0), notMask(windowMask(Number.POSITIVE_INFINITY, 40))),
        causal: true,
      }),
    },
    {
      name: 'composition: documents and not block-sparse',
      features: ['document', 'blockSparse', 'composition'],
      lq: 120,
      lk: 120,
      options: () => ({
        mask: andMasks(documentMask([0, 50, 120]), notMask(blockSparseMask(layoutOf(3, 3), 48, 48))),
      }),
    },
    {
      name: 'alibi: the paper’s slopes',
      features: ['alibi'],
      lq: 130,
      lk: 130,
      options: () => ({ scoreMod: alibi(slopes), causal: true }),
    },
    {
      name: 'alibi: inside documents',
      features: ['alibi', 'document'],
      lq: 100,
      lk: 100,
      options: () => ({ scoreMod: alibi(slopes), mask: documentMask([0, 30, 31, 100]), causal: true }),
    },
    {
      name: 'softcap: cap 5 over logits scaled by 2',
      features: ['softcap'],
      lq: 65,
      lk: 65,
      options: () => ({ scoreMod: softcap(5), scale: 2 }),
    },
    {
      name: 'scoreFunction: a distance penalty',
      features: ['scoreFunction'],
      lq: 70,
      lk: 70,
      options: () => ({ scoreMod: scoreFunction((s, _b, h, i, j) => s - 0.05 * (h + 1) * Math.abs(i - j)) }),
    },
    {
      name: 'bias: [1, Hq, Lq, Lk] shared by the batch',
      features: ['bias'],
      b: 2,
      lq: 33,
      lk: 70,
      options: (seed) => ({ bias: randn([1, 4, 33, 70], seed * 7) }),
    },
    {
      name: 'bias: [B, 1, Lq, Lk] shared by the heads',
      features: ['bias'],
      b: 2,
      lq: 70,
      lk: 70,
      options: (seed) => ({ bias: randn([2, 1, 70, 70], seed * 7), causal: true }),
    },
    {
      name: 'sinks: one per head',
      features: ['sinks'],
      lq: 65,
      lk: 65,
      options: () => ({ sinks: [0, 1, -1, 2], causal: true }),
    },
    {
      name: 'sinks: with empty rows (zeros, lse = the sink)',
      features: ['sinks'],
      b: 2,
      lq: 33,
      lk: 33,
      options: () => ({ sinks: [0.5, -0.5, 3, 0], kvLengths: [33, 0] }),
    },
    {
      name: 'alibi then softcap',
      features: ['alibi', 'softcap'],
      lq: 130,
      lk: 130,
      options: () => ({ scoreMod: [alibi(slopes), softcap(3)], causal: true }),
    },
    {
      name: 'bias and sinks',
      features: ['bias', 'sinks'],
      lq: 97,
      lk: 97,
      options: (seed) => ({ bias: randn([1, 4, 97, 97], seed * 7), sinks: [1, 0, -2, 0.5] }),
    },
    {
      name: 'documents, alibi, softcap, bias and sinks together',
      features: ['document', 'alibi', 'softcap', 'bias', 'sinks'],
      lq: 260,
      lk: 260,
      options: (seed) => ({
        mask: documentMask([0, 1, 1, 259, 260]),
        causal: true,
        scoreMod: [alibi(slopes), softcap(4)],
        bias: randn([1, 1, 260, 260], seed * 7),
        sinks: [0, 1, 2, 3],
      }),
    },
  ];
}

function maskCase(s: MaskSpec, seed: number): MaskCase {
  const b = s.b ?? 1;
  const dk = s.dk ?? 16;
  const options = s.options(seed);
  const detail = describeOptions(options);
  return {
    name: `${s.name}: q [${b}, 4, ${s.lq}, ${dk}], kv [${b}, 2, ${s.lk}, ${dk}]${detail ? `, ${detail}` : ''}`,
    shapes: { q: [b, 4, s.lq, dk], k: [b, 2, s.lk, dk], v: [b, 2, s.lk, dk] },
    options,
    seed,
    features: s.features,
  };
}

/** The mask cases, in a fixed order with fixed seeds (fresh mask values on every call). */
export function maskCases(): MaskCase[] {
  return maskSpecs().map((s, index) => maskCase(s, 5000 + index));
}

/**
 * A small call that uses `feature` alone, for the refusal check of an undeclared feature. Causal, so a
 * variant that computes causal attention only refuses it for the feature, not for being non-causal.
 */
export function maskRefusalCase(feature: MaskFeature): MaskCase {
  const features: MaskFeature[] = [feature];
  const options: Record<MaskFeature, () => AttentionOptions> = {
    document: () => ({ mask: documentMask([0, 10, 33]) }),
    prefixLM: () => ({ mask: prefixLMMask(5) }),
    globalTokens: () => ({ mask: globalTokensMask([0]) }),
    blockSparse: () => ({ mask: blockSparseMask(layoutOf(3, 3), 16, 16) }),
    predicate: () => ({ mask: predicateMask((_b, _h, i, j) => (i + j) % 2 === 0) }),
    composition: () => ({
      mask: orMasks(windowMask(2, 0), notMask(windowMask(Number.POSITIVE_INFINITY, 20))),
    }),
    alibi: () => ({ scoreMod: alibi(alibiSlopes(4)) }),
    softcap: () => ({ scoreMod: softcap(5) }),
    scoreFunction: () => ({ scoreMod: scoreFunction((s) => s / 2) }),
    bias: () => ({ bias: randn([1, 4, 33, 33], 77) }),
    sinks: () => ({ sinks: [0, 0, 0, 0] }),
  };
  return maskCase(
    {
      name: `refused ${feature}`,
      features,
      lq: 33,
      lk: 33,
      options: () => ({ ...options[feature](), causal: true }),
    },
    6000 + MASK_FEATURES.indexOf(feature),
  );
}
