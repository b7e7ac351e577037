/**
 * Causal attention that skips the masked half (DESIGN §3 causal mask, bottom-right aligned).
 *
 * Algorithm: for each (batch, query head), query rows in blocks of blockQ; each block attends only
 * [firstVisibleKey(first row), visibleKeyEnd(last row)) through kernels' attendRows (causal-blocks.ts),
 * so the hidden upper triangle is never computed. A window's left reach and kvLengths shrink the
 * same ranges.
 * Time O(B · Hq · (½ · Lq · Lk + Lq · blockQ / 2) · (Dk + Dv)) for a full causal mask — about half
 * of dense — and O(B · Hq · Lq · (left + blockQ) · D) with a window of left reach.
 * Extra memory: the arena copies of q, k, v, out and lse (O(N · D)) plus one scores buffer of
 * blockQ · min(Lk, blockQ + left) floats — O(blockQ · Lk), never O(Lq · Lk).
 */
import {
  AttentionInputError,
  type AttentionVariant,
  assertSupported,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
} from '@attnkit/core';
import { finishAttention, getEngine, headOffsets, MAX_ARENA_BYTES, placeAttention } from '@attnkit/kernels';
import { attendCausalHead, blockScoreFloats, effectiveBlockQ } from './causal-blocks.js';
import { alignFloats, type CausalOptions, causalOptionsSchema, DEFAULT_BLOCK_Q } from './options.js';

interface ShapeSummary {
  batch: number;
  qHeads: number;
  qLength: number;
  kvLength: number;
  valueDim: number;
}

/** The dimensions read straight from the shapes, for the analytic paths that must not throw. */
function summariseShapes(q: Tensor, k: Tensor, v: Tensor): ShapeSummary | null {
  if (q?.shape?.length !== 4 || k?.shape?.length !== 4 || v?.shape?.length !== 4) return null;
  return {
    batch: q.shape[0]!,
    qHeads: q.shape[1]!,
    qLength: q.shape[2]!,
    kvLength: k.shape[2]!,
    valueDim: v.shape[3]!,
  };
}

/** Left reach of the window in options (Infinity when absent or malformed: the widest buffer). */
function windowLeftOf(options: CausalOptions | undefined): number {
  const left = options?.window?.[0];
  return typeof left === 'number' && left >= 0 ? left : Number.POSITIVE_INFINITY;
}

/** Floats the call places in the arena: copies of q, k, v, the out and lse rows, and the scores buffer. */
function arenaFloats(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: ShapeSummary,
  blockQ: number,
  left: number,
): number {
  const rows = dims.batch * dims.qHeads * dims.qLength;
  return (
    alignFloats(q.data.length) +
    alignFloats(k.data.length) +
    alignFloats(v.data.length) +
    alignFloats(rows * dims.valueDim) +
    alignFloats(rows) +
    alignFloats(blockScoreFloats(blockQ, dims.kvLength, left))
  );
}

/** What causalAttention itself cannot run (the variant adds "must be causal"). Never throws. */
function engineReasons(q: Tensor, k: Tensor, v: Tensor, options: CausalOptions | undefined): string[] {
  const parsed = causalOptionsSchema.safeParse(options ?? {});
  const dims = summariseShapes(q, k, v);
  // Malformed inputs are forward's to reject with a precise error, not a "not supported" reason.
  if (!parsed.success || !dims) return [];
  const reasons: string[] = [];
  const threads = parsed.data.threads ?? 1;
  if (threads > 1) {
    reasons.push(
      `threads: ${threads} needs the @attnkit/kernels worker pool (runParallel), which causal does not use yet: pass threads: 1`,
    );
  }
  const blockQ = effectiveBlockQ(dims.qLength, parsed.data.blockQ ?? DEFAULT_BLOCK_Q);
  const bytes = 4 * arenaFloats(q, k, v, dims, blockQ, windowLeftOf(options));
  if (bytes > MAX_ARENA_BYTES) {
    reasons.push(
      `the inputs, output and scores need ${(bytes / 2 ** 30).toFixed(2)} GiB of engine memory, above the ` +
        `${(MAX_ARENA_BYTES / 2 ** 30).toFixed(2)} GiB WebAssembly limit: split the batch or the heads into several calls`,
    );
  }
  return reasons;
}

function variantReasons(q: Tensor, k: Tensor, v: Tensor, options: CausalOptions | undefined): string[] {
  const reasons = engineReasons(q, k, v, options);
  // The variant object follows the shared AttentionOptions meaning (causal defaults to false), so it
  // refuses a non-causal call instead of silently computing a different function.
  if (options?.causal !== true) {
    reasons.unshift(
      'causal: the causal variant computes causal attention only: pass causal: true (dense or flash handle non-causal calls)',
    );
  }
  return reasons;
}

export const causal: AttentionVariant<CausalOptions> = {
  name: 'causal',
  exact: true,
  notSupportedReasons(q, k, v, options) {
    return variantReasons(q, k, v, options);
  },
  forward(q, k, v, options) {
    return runCausal(q, k, v, options, true);
  },
  workspaceBytes(q, k, v, options) {
    const dims = summariseShapes(q, k, v);
    if (!dims) return 0;
    const parsed = causalOptionsSchema.safeParse(options ?? {});
    const blockQ = effectiveBlockQ(
      dims.qLength,
      (parsed.success ? parsed.data.blockQ : undefined) ?? DEFAULT_BLOCK_Q,
    );
    return 4 * arenaFloats(q, k, v, dims, blockQ, windowLeftOf(options));
  },
};

/** Refuses causal: false (this function is causal by definition); returns the options with causal set. */
export function withCausal<T extends CausalOptions>(options: T | undefined, argument = 'options'): T {
  if (options === undefined) return { causal: true } as T;
  if (typeof options !== 'object' || options === null) return options; // validation names the problem
  if (options.causal === false) {
    throw new AttentionInputError(
      `${argument}.causal`,
      'true or undefined (this attention is always causal)',
      'false',
      'Use denseAttention or flashAttention for non-causal attention.',
    );
  }
  return { ...options, causal: true };
}

/**
 * Exact causal softmax attention (causal implied; DESIGN §3 semantics for scale, window — a causal
 * window of left reach —, kvLengths, GQA/MQA, Lq ≠ Lk bottom-right aligned, out, lse), computing
 * only the visible lower triangle.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, options?: CausalOptions): Tensor {
  return runCausal(q, k, v, options, false);
}

/**
 * The one forward path. As a variant (`asVariant`), options keep the shared meaning — causal must be
 * given — and malformed arguments are named before "not supported" is considered; as
 * causalAttention, causal is implied and only causal: false is refused.
 */
function runCausal(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: CausalOptions | undefined,
  asVariant: boolean,
): Tensor {
  const causalOptions = asVariant ? options : withCausal(options);
  const problem = validateAttentionInputs(q, k, v, causalOptions);
  const own = parseOptions(causalOptionsSchema, causalOptions);
  assertSupported(
    'causal',
    asVariant ? variantReasons(q, k, v, options) : engineReasons(q, k, v, causalOptions),
  );
  const engine = getEngine(own.backend);
  const blockQ = effectiveBlockQ(problem.qLength, own.blockQ ?? DEFAULT_BLOCK_Q);
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const scores = engine.arena.alloc(blockScoreFloats(blockQ, problem.kvLength, problem.windowLeft));
    for (let b = 0; b < problem.batch; b++) {
      for (let h = 0; h < problem.qHeads; h++) {
        attendCausalHead(engine, problem, headOffsets(problem, placed, b, h), b, blockQ, scores);
      }
    }
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}
