/**
 * The conformance case table (docs/design.md, Accuracy): awkward sizes, head dims, Lq != Lk both ways, Dv != Dk,
 * GQA / MQA, causal, windows (incl. [0, 0] and wider than the sequence), kvLengths (incl. 0),
 * custom and negative scales, logits around ±1e4, fully masked rows, and seeded random shapes.
 * Sizes stay small except a few 257s and 1025s, so the whole kit runs in seconds per variant
 * even on the plain-JS backend. Cases are plain data so the harness can reuse them.
 */
import { createRng } from '../rng.js';
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
