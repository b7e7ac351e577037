/**
 * Dense (full quadratic) softmax attention: for each (b, h), materialise all Lq × Lk scaled scores
 * in the engine's arena, mask them, max-subtracted softmax, then P·V — the kernels' `attendRows`
 * over all rows and all keys. The reference variant: every option, GQA/MQA, and the baseline
 * every benchmark times.
 * Items — one per (batch, query head), work.ts — run in a loop or on the kernels worker pool
 * (threads > 1), with the same bits either way.
 * Time O(B·Hq·Lq·Lk·(Dk + Dv)); extra memory: arena copies of q, k, v, out, lse plus one Lq·Lk
 * score buffer per running thread.
 */
import {
  AttentionInputError,
  type AttentionVariant,
  assertSupported,
  describeValue,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
} from '@attnkit/core';
import {
  callArenaFloats,
  type Engine,
  finishAttention,
  getEngine,
  maxThreads,
  placeAttention,
  problemPayload,
  runWorkItems,
  summariseShapes,
  threadedEngineReasons,
} from '@attnkit/kernels';
import { DEFAULT_MAX_SCORES_BYTES, type DenseOptions, denseOptionsSchema } from './options.js';
import { itemScoreFloats, runItem } from './work.js';

/** The module each pool worker imports to run dense items (the built work.js next to this file). */
export const DENSE_WORK_MODULE_URL = new URL('./work.js', import.meta.url).href;

/**
 * This variant's work module, for a pool worker an app supplies itself (bundled browser apps; see
 * kernels' setWorkerFactory): `registerWorkModule(denseWorkModule.url, denseWorkModule)` inside that worker.
 */
export const denseWorkModule = { url: DENSE_WORK_MODULE_URL, runItem };

const FLOAT_BYTES = 4;

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

/** "1.00 GiB (1073807360 bytes)": the exact count too, so a request just above the budget reads as above it. */
function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB (${bytes} bytes)`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(2)} MiB (${bytes} bytes)`;
  return `${bytes} bytes`;
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
  const dims = summariseShapes(q, k, _v);
  const threads = typeof opts.threads === 'number' && opts.threads >= 1 ? opts.threads : 1;
  if (dims && isShape4(_v?.shape)) {
    list.push(
      ...threadedEngineReasons(undefined, dims, itemScoreFloats(dims), dims.batch * dims.qHeads, threads),
    );
  }
  return list;
}

/**
 * Bytes a call places in the arena: the shared copies plus one score buffer per running thread (the
 * pool runs at most maxThreads(), whatever was asked).
 */
function arenaBytes(dims: NonNullable<ReturnType<typeof summariseShapes>>, threads: number): number {
  const running = Math.min(threads, maxThreads());
  return FLOAT_BYTES * callArenaFloats(dims, itemScoreFloats(dims), dims.batch * dims.qHeads, running);
}

/** Softmax attention with every score materialised (see the file header). */
export function denseAttention(q: Tensor, k: Tensor, v: Tensor, options: DenseOptions = {}): Tensor {
  const problem = validateAttentionInputs(q, k, v, options);
  const own = parseOptions(denseOptionsSchema, options);
  checkScoresBudget(
    scoresBytes(problem.qLength, problem.kvLength),
    own.maxScoresBytes ?? DEFAULT_MAX_SCORES_BYTES,
    `the ${problem.qLength} × ${problem.kvLength} score matrix`,
  );
  assertSupported('dense', reasons(q, k, v, options));
  const engine = engineFor(own.backend);
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    runWorkItems(
      engine,
      DENSE_WORK_MODULE_URL,
      runItem,
      problemPayload(problem, placed),
      problem.batch * problem.qHeads,
      own.threads ?? 1,
      itemScoreFloats(problem),
    );
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}

/**
 * Extra bytes of one call: arena copies of q, k, v, out, lse and, per running thread, the Lq·Lk
 * score buffer (64-byte aligned), plus the pool's per-worker kernel scratch when threads > 1.
 */
export function denseWorkspaceBytes(q: Tensor, k: Tensor, v: Tensor, options: DenseOptions = {}): number {
  const p = validateAttentionInputs(q, k, v, options);
  const own = parseOptions(denseOptionsSchema, options);
  return arenaBytes(p, own.threads ?? 1);
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
