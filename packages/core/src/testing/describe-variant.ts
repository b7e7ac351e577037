/**
 * The conformance kit every variant package runs from its tests (DESIGN §5):
 * `describeVariant(variant, config)` registers one vitest test per case of `conformanceCases()`
 * (cases the variant does not support are reported as skipped with the reason, and a separate
 * test checks that forward refuses them), plus one test per malformed-input class.
 * Per supported case it checks, against the float64 oracle (or the variant's own oracle):
 *   1. the output shape and per-element error within the declared tolerance;
 *   2. exact variants: the 2×-float32-dense rule (max error <= 2 × the naive float32 path's + a floor);
 *   3. determinism: a rerun gives bitwise the same output;
 *   4. `out` given: the result is written there and returned, bitwise equal to the plain call;
 *   5. `lse` given: close to the oracle's log-sum-exp (−Infinity exactly for empty rows).
 */
import { describe, expect, it } from 'vitest';
import { errorStats, formatErrorStats, type Tolerance } from '../accuracy.js';
import { AttentionInputError } from '../errors.js';
import { naiveFloat32Attention } from '../naive.js';
import { referenceAttention } from '../oracle.js';
import type { AttentionOptions, AttentionVariant, Tensor } from '../types.js';
import { type ConformanceCase, conformanceCases, makeCaseInputs } from './cases.js';
import { malformedInputs } from './malformed.js';

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
}

/**
 * The floor of the 2× rule, relative to the largest |ref|: 8 float32 ulps. It only matters when the
 * naive path happens to be (almost) exact, e.g. a single visible key, where a correct method may
 * still differ by a few roundings (x / sum vs x · (1 / sum), f32x4 partial sums).
 */
const TWO_X_RULE_FLOOR_ULPS = 8 * 2 ** -24;

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
  return { out: 2 * scoreError * maxAbs(v.data), lse: scoreError };
}

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const x = Math.abs(values[i]!);
    if (x > max && Number.isFinite(x)) max = x;
  }
  return max;
}

/** Index of the first element whose bits differ (NaN payloads aside), or −1. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
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
    const naive = errorStats(naiveFloat32Attention(q, k, v, c.options), reference.out);
    const bound = 2 * naive.maxAbs + TWO_X_RULE_FLOOR_ULPS * maxAbs(reference.out);
    expect(
      stats.maxAbs,
      `${variant.name} max error ${stats.maxAbs} exceeds 2 × naive float32's ${naive.maxAbs} + floor ` +
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
    const declared = config.lseTolerance ?? {
      atol: config.tolerance.atol,
      rtol: Math.max(config.tolerance.rtol, 2 ** -20),
    };
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
      for (const c of conformanceCases()) {
        let reasons: string[];
        try {
          const { q, k, v } = makeCaseInputs(c);
          reasons = variant.notSupportedReasons(q, k, v, { ...c.options, ...extra } as AttentionOptions);
        } catch (error) {
          it(c.name, () => {
            throw new Error(`notSupportedReasons must not throw, it threw: ${String(error)}`);
          });
          continue;
        }
        if (reasons.length === 0) {
          it(c.name, () => checkCase(variant, config, c, exact));
          continue;
        }
        it.skip(`${c.name} — not supported: ${reasons.join('; ')}`, () => {});
        it(`refuses (not supported): ${c.name}`, () => {
          const { q, k, v } = makeCaseInputs(c);
          const error = expectInputError(
            () => variant.forward(q, k, v, { ...c.options, ...extra } as AttentionOptions),
            'options',
            c.name,
          );
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
          if (m.optionsOnly) {
            // The contract: notSupportedReasons never throws for bad options (forward does).
            expect(() => variant.notSupportedReasons(q, k, v, merged)).not.toThrow();
          }
        });
      }
    });
  });
}
