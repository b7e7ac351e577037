/**
 * The conformance kit every variant package runs from its tests (docs/design.md, Accuracy):
 * `describeVariant(variant, config)` registers one vitest test per case of `conformanceCases()`
 * (cases the variant does not support are reported as skipped with the reason, and a separate
 * test checks that forward refuses them), plus one test per malformed-input class.
 * Per supported case it checks, against the float64 oracle (or the variant's own oracle):
 *   1. the output shape and per-element error within the declared tolerance;
 *   2. exact variants: the 2×-float32-dense rule (max error <= 2 × the naive float32 path's + a floor);
 *   3. determinism: a rerun gives bitwise the same output;
 *   4. `out` given: the result is written there and returned, bitwise equal to the plain call;
 *   5. `lse` given: close to the oracle's log-sum-exp (−Infinity exactly for empty rows).
 * And, for every variant alike (docs/design.md, Variant interface):
 *   - hidden keys: every key and value a row cannot see is NaN, and the rows come out as without it;
 *   - unknown options: refused by forward naming `options.<key>`; reasons say "invalid input";
 *     workspaceBytes is 0;
 *   - malformed input: forward names the argument, notSupportedReasons returns a reason, never throws,
 *     and workspaceBytes is 0;
 *   - threads (config.threads): threads = 2 gives the bits of threads = 1, output and lse;
 *   - workspace (config.measureArenaBytes): the arena bytes a call really takes never exceed
 *     workspaceBytes, which stays within 25 % (+ 64 KiB) of them.
 * Masks and score modifiers (config.maskSupport, default none; docs/design.md, Masks): the variant
 * declares the features it supports ('document', 'prefixLM', 'globalTokens', 'blockSparse',
 * 'predicate', 'composition', 'alibi', 'softcap', 'scoreFunction', 'bias', 'sinks'). Every case of
 * `maskCases()` whose features are all declared runs the checks 1–5 above (out and lse against the
 * oracle, the 2× rule), plus hidden-key poisoning (NaN and Infinity in the keys and values the mask
 * hides) and, with config.threads, threads = 2 against threads = 1. For every feature not declared,
 * a call using it alone must be refused: notSupportedReasons non-empty and naming the option that
 * carries it (mask, scoreMod, bias or sinks), forward throwing an AttentionInputError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorStats, formatErrorStats, type Tolerance } from '../accuracy.js';
import { AttentionInputError } from '../errors.js';
import { isVisible } from '../masks.js';
import { naiveFloat32Attention } from '../naive.js';
import { referenceAttention } from '../oracle.js';
import type { AttentionOptions, AttentionVariant, Tensor } from '../types.js';
import { validateAttentionInputs } from '../validate.js';
import { isVisibleIn } from '../visibility.js';
import {
  type ConformanceCase,
  conformanceCases,
  MASK_FEATURE_OPTION,
  MASK_FEATURES,
  type MaskCase,
  type MaskFeature,
  makeCaseInputs,
  maskCases,
  maskRefusalCase,
} from './cases.js';
import { malformedInputs } from './malformed.js';
import { defaultLseTolerance, firstBitDifference, maxAbsFinite, twoXRule } from './rules.js';

export interface ConformanceConfig {
  /** vs the oracle, per element |out − ref| <= atol + rtol·|ref|. */
  tolerance: Tolerance;
  /** Extra options merged into every call (e.g. { backend: 'js' }, { blockQ: 16 }). */
  options?: Record<string, unknown>;
  /** Default variant.exact; false → compare against `oracle` instead of softmax attention. */
  exact?: boolean;
  oracle?: (
    q: Tensor,
    k: Tensor,
    v: Tensor,
    options: AttentionOptions,
  ) => { out: Float64Array; lse?: Float64Array };
  /** Default true: check the lse output too (linear sets false). */
  lse?: boolean;
  /**
   * Tolerance of lse vs the oracle. Default { atol: tolerance.atol, rtol: max(tolerance.rtol, 2^-20) }:
   * lse is stored in float32 and can be as large as the scores (±1e4 in the large-logit cases), so a
   * few float32 ulps of its own magnitude are the least any float32 method can promise.
   */
  lseTolerance?: Tolerance;
  /** The pool's controls (kernels' startThreads / stopThreads): enables the thread-determinism tests. */
  threads?: { start(count: number): Promise<unknown>; stop(): Promise<unknown> };
  /** Peak engine-arena bytes a call takes (kernels' runtime measureArenaBytes): enables the workspace test. */
  measureArenaBytes?: (call: () => unknown, backend?: string) => number;
  /**
   * The mask and score-modifier features the variant supports (default none): the kit runs the mask
   * cases whose features are all declared and checks that every other feature is refused, with a
   * reason naming its option (see the file header).
   */
  maskSupport?: readonly MaskFeature[];
}

/**
 * Large-logit cases (scores ~ ±1e4): any float32 method computes each score with an error of about
 * sqrt(Dk)·2^-24·Σ_d|scale·q_d·k_d| <= sqrt(Dk)·2^-24·|scale|·max‖q_i‖·max‖k_j‖ (Cauchy–Schwarz), and
 * a score error δ moves the output by at most 2·max|δ|·max|v| and lse by max|δ|. That allowance is
 * added to the declared tolerance for those cases only (it is ~1e-2 there and negligible elsewhere):
 * they exist to catch overflow, NaN and lost max-subtraction (O(1) errors); the 2× rule still holds
 * the variant to float32-dense precision on them.
 */
function largeLogitAllowance(
  c: ConformanceCase,
  q: Tensor,
  k: Tensor,
  v: Tensor,
): { out: number; lse: number } {
  if (c.logitScale === undefined) return { out: 0, lse: 0 };
  const headDim = q.shape[3]!;
  const scale = c.options.scale ?? 1 / Math.sqrt(headDim);
  const rowNorm = (t: Tensor) => {
    let max = 0;
    for (let row = 0; row < t.data.length; row += headDim) {
      let sum = 0;
      for (let d = 0; d < headDim; d++) sum += t.data[row + d]! ** 2;
      max = Math.max(max, Math.sqrt(sum));
    }
    return max;
  };
  const scoreError = Math.sqrt(headDim) * 2 ** -24 * Math.abs(scale) * rowNorm(q) * rowNorm(k);
  return { out: 2 * scoreError * maxAbsFinite(v.data), lse: scoreError };
}

function expectInputError(call: () => unknown, argument: string, context: string): AttentionInputError {
  let caught: unknown;
  try {
    call();
  } catch (error) {
    caught = error;
  }
  expect(
    caught,
    `${context}: expected an AttentionInputError naming '${argument}', nothing was thrown`,
  ).toBeDefined();
  expect(caught, `${context}: expected an AttentionInputError, got ${String(caught)}`).toBeInstanceOf(
    AttentionInputError,
  );
  return caught as AttentionInputError;
}

function checkCase(
  variant: AttentionVariant,
  config: ConformanceConfig,
  c: ConformanceCase,
  exact: boolean,
): void {
  const { q, k, v } = makeCaseInputs(c);
  const callOptions = { ...c.options, ...config.options } as AttentionOptions;
  const [batch, qHeads, qLength] = c.shapes.q as [number, number, number, number];
  const valueDim = c.shapes.v[3]!;
  const shape = [batch, qHeads, qLength, valueDim];
  const rows = batch * qHeads * qLength;

  const reference = exact ? referenceAttention(q, k, v, c.options) : config.oracle!(q, k, v, callOptions);

  const allowance = largeLogitAllowance(c, q, k, v);
  const tolerance = { atol: config.tolerance.atol + allowance.out, rtol: config.tolerance.rtol };

  // 1. Shape and accuracy.
  const first = variant.forward(q, k, v, callOptions);
  expect(first.shape, 'output shape [B, Hq, Lq, Dv]').toEqual(shape);
  expect(first.data, 'output data').toBeInstanceOf(Float32Array);
  const stats = errorStats(first.data, reference.out, tolerance);
  expect(
    stats.failing,
    `${variant.name} vs ${exact ? 'float64 oracle' : 'its oracle'}: ${formatErrorStats(stats)} ` +
      `(tolerance atol ${tolerance.atol}, rtol ${tolerance.rtol})`,
  ).toBe(0);

  // 2. The 2× rule: no worse than twice the plain float32 path on the same input.
  if (exact) {
    const rule = twoXRule(naiveFloat32Attention(q, k, v, c.options), reference.out);
    const naiveMaxAbs = rule.naiveMaxAbs;
    // Large logits: the naive path's own error is one draw of the score error every float32 method
    // has there (δ above), so twice it is no bound for another summation order (an FMA kernel's, say):
    // those cases compare against the larger of the two.
    const bound = Math.max(rule.bound, allowance.out);
    expect(
      stats.maxAbs,
      `${variant.name} max error ${stats.maxAbs} exceeds 2 × naive float32's ${naiveMaxAbs} + floor ` +
        `(bound ${bound}); worst at ${stats.worstIndex}: got ${stats.worstActual}, expected ${stats.worstExpected}`,
    ).toBeLessThanOrEqual(bound);
  }

  // 3. Determinism of reruns: bitwise.
  const second = variant.forward(q, k, v, callOptions);
  const diff = firstBitDifference(first.data, second.data);
  expect(diff, `rerun differs at ${diff}: ${first.data[diff]} then ${second.data[diff]}`).toBe(-1);

  // 4–5. `out` (pre-filled with NaN so an unwritten element shows) and `lse`.
  const checkLse = config.lse !== false && reference.lse !== undefined;
  const out: Tensor = { data: new Float32Array(rows * valueDim).fill(Number.NaN), shape };
  const lse = new Float32Array(rows).fill(Number.NaN);
  const written = variant.forward(q, k, v, checkLse ? { ...callOptions, out, lse } : { ...callOptions, out });
  expect(written === out, 'forward must return the `out` tensor it was given').toBe(true);
  const outDiff = firstBitDifference(first.data, out.data);
  expect(
    outDiff,
    `with out: element ${outDiff} is ${out.data[outDiff]}, without: ${first.data[outDiff]}`,
  ).toBe(-1);
  if (checkLse) {
    const declared = config.lseTolerance ?? defaultLseTolerance(config.tolerance);
    const lseTolerance = { atol: declared.atol + allowance.lse, rtol: declared.rtol };
    const lseStats = errorStats(lse, reference.lse!, lseTolerance);
    expect(
      lseStats.failing,
      `lse vs oracle: ${formatErrorStats(lseStats)} (tolerance atol ${lseTolerance.atol}, rtol ${lseTolerance.rtol})`,
    ).toBe(0);
  }

  // Workspace is an analytic byte count.
  const workspace = variant.workspaceBytes(q, k, v, callOptions);
  expect(Number.isFinite(workspace) && workspace >= 0, `workspaceBytes = ${workspace}`).toBe(true);
}

/** One case: checked when the variant supports it, else skipped with the reasons and its refusal checked. */
function registerCase(
  variant: AttentionVariant,
  config: ConformanceConfig,
  c: ConformanceCase,
  exact: boolean,
): void {
  const extra = config.options ?? {};
  let reasons: string[];
  try {
    const { q, k, v } = makeCaseInputs(c);
    reasons = variant.notSupportedReasons(q, k, v, { ...c.options, ...extra } as AttentionOptions);
  } catch (error) {
    it(c.name, () => {
      throw new Error(`notSupportedReasons must not throw, it threw: ${String(error)}`);
    });
    return;
  }
  if (reasons.length === 0) {
    it(c.name, () => checkCase(variant, config, c, exact));
    return;
  }
  it.skip(`${c.name} — not supported: ${reasons.join('; ')}`, () => {});
  it(`refuses (not supported): ${c.name}`, () => {
    const { q, k, v } = makeCaseInputs(c);
    const error = expectInputError(
      () => variant.forward(q, k, v, { ...c.options, ...extra } as AttentionOptions),
      'options',
      c.name,
    );
    expect(error.argument.startsWith('options'), `argument '${error.argument}' should name the option`).toBe(
      true,
    );
  });
}

function supports(variant: AttentionVariant, c: ConformanceCase, extra: Record<string, unknown>): boolean {
  const { q, k, v } = makeCaseInputs(c);
  return variant.notSupportedReasons(q, k, v, { ...c.options, ...extra } as AttentionOptions).length === 0;
}

/** Rows that see no poisoned key come out as the oracle says without the poison. */
function checkHiddenKeys(
  variant: AttentionVariant,
  config: ConformanceConfig,
  c: ConformanceCase,
  exact: boolean,
  poison: 'nan' | 'mixed',
): void {
  const { q, k, v } = makeCaseInputs(c);
  const options = { ...c.options, ...config.options } as AttentionOptions;
  const poisoned = poisonHiddenKeys(q, k, v, c.options, poison);
  const result = variant.forward(q, poisoned.k, poisoned.v, options);
  const reference = exact ? referenceAttention(q, k, v, c.options) : config.oracle!(q, k, v, options);
  const valueDim = v.shape[3]!;
  let checked = 0;
  for (let row = 0; row < poisoned.clean.length; row++) {
    if (!poisoned.clean[row]) continue;
    checked++;
    for (let d = 0; d < valueDim; d++) {
      const index = row * valueDim + d;
      const got = result.data[index]!;
      const want = reference.out[index]!;
      const bound = config.tolerance.atol + config.tolerance.rtol * Math.abs(want);
      if (!(Math.abs(got - want) <= bound)) {
        expect.fail(`row ${row} sees no poisoned key but gives ${got} at ${d}, expected ${want} (±${bound})`);
      }
    }
  }
  expect(checked, 'rows that see no poisoned key').toBeGreaterThan(0);
}

/** A mask case where some key is hidden from some row (so poisoning has something to hide). */
function hidesKeys(c: MaskCase): boolean {
  const o = c.options;
  return o.mask !== undefined || o.causal === true || o.window !== undefined || o.kvLengths !== undefined;
}

/** Larger mask cases for threads: long documents, unaligned blocks, a per-head predicate, composed modifiers. */
function maskThreadCases(masks: readonly MaskCase[]): MaskCase[] {
  const wanted = [
    'document: lengths 1, 0, 263',
    'blockSparse: blocks of 48',
    'predicate: per head',
    'alibi then softcap',
    'bias and sinks',
    'documents, alibi, softcap, bias and sinks',
  ];
  return masks.filter((c) => wanted.some((prefix) => c.name.startsWith(prefix)));
}

/** Registers the conformance suite of `variant` (see the file header for what it checks). */
export function describeVariant(variant: AttentionVariant, config: ConformanceConfig): void {
  const exact = config.exact ?? variant.exact;
  if (!exact && !config.oracle) {
    throw new Error(`describeVariant(${variant.name}): a non-exact variant needs config.oracle`);
  }
  const extra = config.options ?? {};
  const label = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : '';

  describe(`${variant.name} conformance${label}`, () => {
    describe('cases', () => {
      for (const c of conformanceCases()) registerCase(variant, config, c, exact);
    });

    const declared = new Set<MaskFeature>(config.maskSupport ?? []);
    const masks = maskCases().filter((c) => c.features.every((f) => declared.has(f)));
    describe('masks and score modifiers', () => {
      for (const c of masks) registerCase(variant, config, c, exact);
      for (const c of masks) {
        if (!hidesKeys(c) || !supports(variant, c, extra)) continue;
        it(`NaN and Infinity in keys and values the mask hides never reach a row (${c.name})`, () =>
          checkHiddenKeys(variant, config, c, exact, 'mixed'));
      }
      for (const feature of MASK_FEATURES) {
        if (declared.has(feature)) continue;
        const option = MASK_FEATURE_OPTION[feature];
        it(`refuses ${feature} (not in maskSupport): reasons name ${option}, forward throws`, () => {
          const c = maskRefusalCase(feature);
          const { q, k, v } = makeCaseInputs(c);
          const options = { ...c.options, ...extra } as AttentionOptions;
          const reasons = variant.notSupportedReasons(q, k, v, options);
          expect(reasons.length, `notSupportedReasons of a call with ${feature}`).toBeGreaterThan(0);
          expect(reasons.join('; '), `the reasons should name '${option}'`).toContain(option);
          const error = expectInputError(() => variant.forward(q, k, v, options), 'options', c.name);
          expect(
            error.argument.startsWith('options'),
            `argument '${error.argument}' should name the option`,
          ).toBe(true);
        });
      }
    });

    describe('malformed input', () => {
      for (const m of malformedInputs()) {
        it(`${m.name} → AttentionInputError naming ${m.argument}`, () => {
          const { q, k, v, options } = m.build();
          const merged = (
            typeof options === 'object' && options !== null ? { ...extra, ...options } : options
          ) as AttentionOptions;
          const error = expectInputError(() => variant.forward(q, k, v, merged), m.argument, m.name);
          expect(error.argument, error.message).toBe(m.argument);
          // The same parse behind the analytic methods: a reason (never a throw), and 0 bytes.
          let reasons: string[] = [];
          expect(() => {
            reasons = variant.notSupportedReasons(q, k, v, merged);
          }).not.toThrow();
          expect(reasons, 'notSupportedReasons of a malformed call').toEqual([
            `invalid input: ${error.message}`,
          ]);
          expect(variant.workspaceBytes(q, k, v, merged), 'workspaceBytes of a malformed call').toBe(0);
        });
      }
    });

    describe('unknown options', () => {
      const supported = firstSupported(variant, extra);
      for (const key of ['notAnOption', 'widnow', 'casual', 'blockq']) {
        it(`refuses options.${key} (a typo is never ignored)`, () => {
          const { c, q, k, v } = supported;
          const options = { ...c.options, ...extra, [key]: 1 } as AttentionOptions;
          const error = expectInputError(() => variant.forward(q, k, v, options), `options.${key}`, key);
          expect(error.argument).toBe(`options.${key}`);
          expect(variant.notSupportedReasons(q, k, v, options)).toEqual([`invalid input: ${error.message}`]);
          expect(variant.workspaceBytes(q, k, v, options)).toBe(0);
        });
      }
    });

    describe('hidden keys', () => {
      for (const c of poisonCases()) {
        if (!supports(variant, c, extra)) continue;
        it(`NaN in keys and values a row cannot see never reaches that row (${c.name}${c.options.causal ? ', causal' : ''})`, () =>
          checkHiddenKeys(variant, config, c, exact, 'nan'));
      }
    });

    describe('NaN propagates', () => {
      const c = nanCase(variant, extra);
      it(`a NaN in a query row makes that row NaN (output and lse), and only that row (${c.name})`, () => {
        const { q, k, v } = makeCaseInputs(c);
        const options = { ...c.options, ...extra } as AttentionOptions;
        const [batch, qHeads, qLength] = q.shape as [number, number, number];
        const headDim = q.shape[3]!;
        const valueDim = v.shape[3]!;
        const withLse = config.lse !== false;
        const clean = variant.forward(q, k, v, options);
        const row = qLength >> 1; // row `row` of batch 0, head 0
        const poisoned = { data: Float32Array.from(q.data), shape: q.shape };
        poisoned.data.fill(Number.NaN, row * headDim, (row + 1) * headDim);
        const lse = new Float32Array(batch * qHeads * qLength);
        const result = variant.forward(poisoned, k, v, {
          ...options,
          ...(withLse ? { lse } : {}),
        } as AttentionOptions);
        for (let d = 0; d < valueDim; d++) {
          expect(Number.isNaN(result.data[row * valueDim + d]), `output ${d} of the NaN row`).toBe(true);
        }
        if (withLse) expect(Number.isNaN(lse[row]), 'lse of the NaN row').toBe(true);
        for (let i = 0; i < result.data.length; i++) {
          if (Math.floor(i / valueDim) === row) continue;
          if (
            !Object.is(result.data[i], clean.data[i]) &&
            !(Number.isNaN(result.data[i]) && Number.isNaN(clean.data[i]))
          ) {
            expect.fail(`element ${i} (another row) is ${result.data[i]}, without the NaN ${clean.data[i]}`);
          }
        }
      });
      it(`a NaN in a key makes every row that sees it NaN (${c.name})`, () => {
        const { q, k, v } = makeCaseInputs(c);
        const options = { ...c.options, ...extra } as AttentionOptions;
        const [, qHeads, qLength] = q.shape as [number, number, number];
        const [, kvHeads, kvLength, headDim] = k.shape as [number, number, number, number];
        const valueDim = v.shape[3]!;
        const problem = validateAttentionInputs(q, k, v, c.options);
        const key = kvLength - 1; // the last key of batch 0, kv head 0
        const poisoned = { data: Float32Array.from(k.data), shape: k.shape };
        poisoned.data.fill(Number.NaN, key * headDim, (key + 1) * headDim);
        const result = variant.forward(q, poisoned, v, options);
        let seen = 0;
        for (let h = 0; h < qHeads; h++) {
          if (Math.floor(h / problem.groupSize) !== 0) continue;
          for (let i = 0; i < qLength; i++) {
            if (
              !isVisible(
                i,
                key,
                qLength,
                kvLength,
                problem.windowLeft,
                problem.windowRight,
                problem.validKeys[0]!,
              )
            )
              continue;
            seen++;
            const at = (h * qLength + i) * valueDim;
            expect(Number.isNaN(result.data[at]), `row ${i} of head ${h} sees the NaN key`).toBe(true);
          }
        }
        expect(seen, 'rows that see the NaN key').toBeGreaterThan(0);
        expect(kvHeads).toBeGreaterThan(0);
      });
    });

    if (config.threads) {
      const pool = config.threads;
      describe('threads', () => {
        beforeAll(async () => {
          await pool.start(2);
        });
        afterAll(async () => {
          await pool.stop();
        });
        for (const c of [...threadCases(), ...maskThreadCases(masks)]) {
          const { q, k, v } = makeCaseInputs(c);
          const options = { ...c.options, ...extra } as AttentionOptions;
          if (variant.notSupportedReasons(q, k, v, options).length > 0) continue;
          it(`threads = 2 gives the bits of threads = 1 (${c.name})`, () => {
            const rows = q.shape[0]! * q.shape[1]! * q.shape[2]!;
            const withLse = config.lse !== false;
            const lse1 = new Float32Array(rows);
            const lse2 = new Float32Array(rows);
            const one = variant.forward(q, k, v, {
              ...options,
              threads: 1,
              ...(withLse ? { lse: lse1 } : {}),
            } as AttentionOptions);
            const two = variant.forward(q, k, v, {
              ...options,
              threads: 2,
              ...(withLse ? { lse: lse2 } : {}),
            } as AttentionOptions);
            expect(firstBitDifference(one.data, two.data), 'output, threads 2 vs 1').toBe(-1);
            expect(firstBitDifference(lse1, lse2), 'lse, threads 2 vs 1').toBe(-1);
          });
        }
      });
    }

    if (config.measureArenaBytes) {
      const measure = config.measureArenaBytes;
      describe('workspace', () => {
        for (const c of threadCases()) {
          const { q, k, v } = makeCaseInputs(c);
          const options = { ...c.options, ...extra } as AttentionOptions;
          if (variant.notSupportedReasons(q, k, v, options).length > 0) continue;
          it(`workspaceBytes bounds the arena bytes a call takes, tightly (${c.name})`, () => {
            const backend = (extra as { backend?: string }).backend;
            const measured = measure(() => variant.forward(q, k, v, options), backend);
            const analytic = variant.workspaceBytes(q, k, v, options);
            expect(measured, `measured ${measured} B, workspaceBytes ${analytic} B`).toBeLessThanOrEqual(
              analytic,
            );
            expect(analytic, `workspaceBytes ${analytic} B for ${measured} B measured`).toBeLessThanOrEqual(
              1.25 * measured + 65536,
            );
          });
        }
      });
    }
  });
}

/** A supported case with several query rows and no padding on batch 0, for the NaN checks. */
function nanCase(variant: AttentionVariant, extra: Record<string, unknown>): ConformanceCase {
  for (const c of conformanceCases()) {
    if (c.shapes.q[2]! < 3 || c.logitScale !== undefined || c.options.kvLengths !== undefined) continue;
    const { q, k, v } = makeCaseInputs(c);
    if (variant.notSupportedReasons(q, k, v, { ...c.options, ...extra } as AttentionOptions).length === 0)
      return c;
  }
  throw new Error(`describeVariant(${variant.name}): no conformance case for the NaN checks is supported`);
}

/** The first conformance case the variant runs with `extra` (for checks that need any valid call). */
function firstSupported(variant: AttentionVariant, extra: Record<string, unknown>) {
  for (const c of conformanceCases()) {
    const { q, k, v } = makeCaseInputs(c);
    if (variant.notSupportedReasons(q, k, v, { ...c.options, ...extra } as AttentionOptions).length === 0) {
      return { c, q, k, v };
    }
  }
  throw new Error(`describeVariant(${variant.name}): no conformance case is supported`);
}

/** Cases with padding, a causal diagonal, a band and ragged blocks: where hidden keys sit next to visible ones. */
function poisonCases(): ConformanceCase[] {
  return conformanceCases().filter(
    (c) => c.options.kvLengths !== undefined || c.options.window !== undefined || c.options.causal,
  );
}

/** A few larger cases for threads and workspace: GQA, a band, kvLengths with Lq ≠ Lk, the longest, and decoding (split-KV). */
function threadCases(): ConformanceCase[] {
  const cases = conformanceCases();
  const pick = (test: (c: ConformanceCase) => boolean) => cases.filter(test).slice(-1);
  return [
    ...pick((c) => c.name.startsWith('GQA')),
    ...pick((c) => c.name.startsWith('window') && c.shapes.q[2] === 257),
    ...pick((c) => c.name.startsWith('kvLengths') && c.shapes.q[2] !== c.shapes.k[2]),
    ...pick((c) => c.name.startsWith('long')),
    ...cases.filter((c) => c.name.startsWith('decode')),
  ];
}

/**
 * Copies of k and v with poison in every key hidden from all rows that read it (padding, keys outside
 * every band or document, hidden blocks) and in the first and last key some rows see and others do not
 * (a causal diagonal, a band's edges). Visibility is the call's whole mask (isVisibleIn), per query head
 * of the kv head's group. Poison 'nan': NaN in keys and values; 'mixed': NaN keys with infinite values
 * and infinite keys with NaN values, alternating. `clean[row]` marks the query rows that see no
 * poisoned key: they must come out right.
 */
function poisonHiddenKeys(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
  poison: 'nan' | 'mixed' = 'nan',
): { k: Tensor; v: Tensor; clean: Uint8Array } {
  const [batch, qHeads, qLength] = q.shape as [number, number, number];
  const [, kvHeads, kvLength, headDim] = k.shape as [number, number, number, number];
  const valueDim = v.shape[3]!;
  const problem = validateAttentionInputs(q, k, v, options);
  const group = problem.groupSize;
  const poisoned = new Uint8Array(batch * kvHeads * kvLength);
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < kvHeads; g++) {
      const rows = group * qLength;
      let firstPartial = -1;
      let lastPartial = -1;
      for (let j = 0; j < kvLength; j++) {
        let seenBy = 0;
        for (let h = g * group; h < (g + 1) * group; h++) {
          for (let i = 0; i < qLength; i++) if (isVisibleIn(problem, b, h, i, j)) seenBy++;
        }
        if (seenBy === 0) poisoned[(b * kvHeads + g) * kvLength + j] = 1;
        else if (seenBy < rows) {
          if (firstPartial < 0) firstPartial = j;
          lastPartial = j;
        }
      }
      for (const j of [firstPartial, lastPartial]) if (j >= 0) poisoned[(b * kvHeads + g) * kvLength + j] = 1;
    }
  }
  const clean = new Uint8Array(batch * qHeads * qLength);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < qHeads; h++) {
      const g = Math.floor(h / group);
      for (let i = 0; i < qLength; i++) {
        let sees = false;
        for (let j = 0; j < kvLength && !sees; j++)
          sees = poisoned[(b * kvHeads + g) * kvLength + j] === 1 && isVisibleIn(problem, b, h, i, j);
        clean[(b * qHeads + h) * qLength + i] = sees ? 0 : 1;
      }
    }
  }
  const kData = Float32Array.from(k.data);
  const vData = Float32Array.from(v.data);
  let n = 0;
  for (let key = 0; key < poisoned.length; key++) {
    if (!poisoned[key]) continue;
    let keyPoison = Number.NaN;
    let valuePoison = Number.NaN;
    if (poison === 'mixed') {
      const infinity = n % 4 < 2 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
      if (n % 2 === 0) valuePoison = infinity;
      else keyPoison = infinity;
      n++;
    }
    kData.fill(keyPoison, key * headDim, (key + 1) * headDim);
    vData.fill(valuePoison, key * valueDim, (key + 1) * valueDim);
  }
  return { k: { data: kData, shape: k.shape }, v: { data: vData, shape: v.shape }, clean };
}
