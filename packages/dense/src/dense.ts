/**
 * Dense (full quadratic) softmax attention: for each (b, h), materialise all Lq × Lk scaled scores
 * in the engine's arena, mask them, max-subtracted softmax, then P·V — the kernels' `attendRows`
 * over all rows and all keys. The reference variant: every option, GQA/MQA, and the baseline
 * every benchmark times.
 * Time O(B·Hq·Lq·Lk·(Dk + Dv)); extra memory: arena copies of q, k, v, out, lse plus one Lq·Lk
 * score buffer reused across heads.
 */
import {
  AttentionInputError,
  type AttentionProblem,
  type AttentionVariant,
  assertSupported,
  describeValue,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
} from '@attnkit/core';
import {
  attendRows,
  type Engine,
  finishAttention,
  getEngine,
  headOffsets,
  placeAttention,
} from '@attnkit/kernels';
import { DEFAULT_MAX_SCORES_BYTES, type DenseOptions, denseOptionsSchema } from './options.js';

const FLOAT_BYTES = 4;
/** The arena hands out 64-byte aligned blocks (16 floats); analytic sizes use the same grid. */
const ALIGN_FLOATS = 16;

function alignedFloats(floats: number): number {
  return Math.ceil(floats / ALIGN_FLOATS) * ALIGN_FLOATS;
}

function isShape4(shape: unknown): shape is [number, number, number, number] {
  return Array.isArray(shape) && shape.length === 4 && shape.every((dim) => Number.isInteger(dim) && dim > 0);
}

/** Bytes of the Lq × Lk float32 score matrix one (b, h) materialises. */
export function scoresBytes(qLength: number, kvLength: number): number {
  return qLength * kvLength * FLOAT_BYTES;
}

function budgetReason(bytes: number, budget: number, what: string): string {
  return (
    `${what} would need ${formatBytes(bytes)}, above the ${formatBytes(budget)} budget ` +
    '(options.maxScoresBytes); use flash (@attnkit/flash, O(N) memory) or sliding-window ' +
    '(@attnkit/sliding-window, O(N·w)) for sequences this long'
  );
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  return `${bytes} B`;
}

/** Throws the memory-budget error (DESIGN §7) when `bytes` of scores exceed the budget. */
export function checkScoresBudget(bytes: number, budget: number, what: string): void {
  if (bytes <= budget) return;
  throw new AttentionInputError(
    'options.maxScoresBytes',
    `a score matrix of at most ${formatBytes(budget)}`,
    `${what} of ${formatBytes(bytes)}`,
    'Use flashAttention (@attnkit/flash, exact, O(N) memory) or slidingWindowAttention ' +
      '(@attnkit/sliding-window, O(N·w)) for sequences this long, or raise options.maxScoresBytes.',
  );
}

/** The engine for `backend`, or an AttentionInputError naming options.backend when it cannot start. */
export function engineFor(backend: DenseOptions['backend']): Engine {
  try {
    return getEngine(backend);
  } catch (error) {
    throw new AttentionInputError(
      'options.backend',
      'a backend that is available here',
      `${describeValue(backend ?? 'default')} (${error instanceof Error ? error.message : String(error)})`,
      "Pass backend: 'js' (the plain-TS kernels run everywhere).",
    );
  }
}

function reasons(q: Tensor, k: Tensor, _v: Tensor, options?: DenseOptions): string[] {
  const list: string[] = [];
  const opts = (typeof options === 'object' && options !== null ? options : {}) as DenseOptions;
  if (typeof opts.threads === 'number' && opts.threads > 1) {
    list.push(`dense runs on one thread (threads: ${opts.threads} is not implemented)`);
  }
  if (opts.backend !== undefined) {
    try {
      getEngine(opts.backend);
    } catch (error) {
      list.push(`backend '${String(opts.backend)}' is not available (${(error as Error).message})`);
    }
  }
  if (isShape4(q?.shape) && isShape4(k?.shape)) {
    const budget =
      typeof opts.maxScoresBytes === 'number' && opts.maxScoresBytes > 0
        ? opts.maxScoresBytes
        : DEFAULT_MAX_SCORES_BYTES;
    const bytes = scoresBytes(q.shape[2], k.shape[2]);
    if (bytes > budget)
      list.push(budgetReason(bytes, budget, `the ${q.shape[2]} × ${k.shape[2]} score matrix`));
  }
  return list;
}

/** The score buffer, in floats, one (b, h) needs (reused for every head). */
function scoreFloats(problem: AttentionProblem): number {
  return problem.qLength * problem.kvLength;
}

/** Softmax attention with every score materialised (see the file header). */
export function denseAttention(q: Tensor, k: Tensor, v: Tensor, options: DenseOptions = {}): Tensor {
  const problem = validateAttentionInputs(q, k, v, options);
  const own = parseOptions(denseOptionsSchema, options);
  if (own.threads !== undefined && own.threads > 1) {
    throw new AttentionInputError(
      'options.threads',
      '1 (dense runs on one thread)',
      String(own.threads),
      'Leave threads out for dense, or use flash for multi-threaded exact attention.',
    );
  }
  checkScoresBudget(
    scoresBytes(problem.qLength, problem.kvLength),
    own.maxScoresBytes ?? DEFAULT_MAX_SCORES_BYTES,
    `the ${problem.qLength} × ${problem.kvLength} score matrix`,
  );
  assertSupported('dense', reasons(q, k, v, options));
  const engine = engineFor(own.backend);
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const scores = engine.arena.alloc(scoreFloats(problem));
    for (let b = 0; b < problem.batch; b++) {
      for (let h = 0; h < problem.qHeads; h++) {
        const head = headOffsets(problem, placed, b, h);
        attendRows(engine, problem, head, b, 0, problem.qLength, 0, problem.kvLength, scores);
      }
    }
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}

/** Extra bytes of one call: arena copies of q, k, v, out, lse and the Lq·Lk score buffer (64-byte aligned). */
export function denseWorkspaceBytes(q: Tensor, k: Tensor, v: Tensor, options: DenseOptions = {}): number {
  const p = validateAttentionInputs(q, k, v, options);
  const rows = p.batch * p.qHeads * p.qLength;
  const floats =
    alignedFloats(q.data.length) +
    alignedFloats(k.data.length) +
    alignedFloats(v.data.length) +
    alignedFloats(rows * p.valueDim) +
    alignedFloats(rows) +
    alignedFloats(scoreFloats(p));
  return floats * FLOAT_BYTES;
}

export const dense: AttentionVariant<DenseOptions> = {
  name: 'dense',
  exact: true,
  notSupportedReasons(q, k, v, options) {
    try {
      return reasons(q, k, v, options);
    } catch {
      return []; // malformed input: forward reports it precisely
    }
  },
  forward: denseAttention,
  workspaceBytes: denseWorkspaceBytes,
};
