/**
 * Sliding-window (banded, local) attention: query i at key position p = i + Lk − Lq sees keys in
 * [p − left, p + right] (DESIGN §3; causal: true sets right = 0 — Mistral-style; symmetric windows
 * are Longformer's local attention), optionally with Longformer global tokens (global-tokens.ts).
 *
 * Algorithm: for each (batch, query head), query rows in blocks of blockQ; each block attends only
 * its band's key range through kernels' attendRows (band-blocks.ts) — keys outside the band are
 * never touched.
 * Time O(B · Hq · Lq · (blockQ + left + right) · (Dk + Dv)): linear in N for a fixed window, never
 * N² (plus O(G · Lk) per head for G global tokens).
 * Extra memory: the arena copies of q, k, v, out and lse (O(N · D)) plus one scores buffer of
 * blockQ · (blockQ + left + right) floats (and, with global tokens, G · (Dk + Dv) gathered floats and
 * G more score columns per row, at least one full key row).
 */
import {
  AttentionInputError,
  type AttentionProblem,
  type AttentionVariant,
  assertSupported,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
} from '@attnkit/core';
import { finishAttention, getEngine, headOffsets, MAX_ARENA_BYTES, placeAttention } from '@attnkit/kernels';
import { attendBandHead, effectiveBlockQ, maxBandKeys } from './band-blocks.js';
import { attendBandWithGlobalsHead, globalPositions, globalScoreFloats } from './global-tokens.js';
import {
  alignFloats,
  DEFAULT_BLOCK_Q,
  type SlidingWindowOptions,
  slidingWindowOptionsSchema,
} from './options.js';

interface ShapeSummary {
  batch: number;
  qHeads: number;
  qLength: number;
  kvLength: number;
  headDim: number;
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
    headDim: q.shape[3]!,
    valueDim: v.shape[3]!,
  };
}

interface Band {
  left: number;
  right: number;
  globals: number;
}

/** Window (causal folded in) and global count from raw options, for the analytic paths. */
function bandOf(options: SlidingWindowOptions | undefined): Band | null {
  const window = options?.window;
  if (!Array.isArray(window) || window.length !== 2) return null;
  const [left, right] = window as [number, number];
  if (!(left >= 0) || !(right >= 0)) return null;
  const globals = Array.isArray(options?.globalTokens) ? new Set(options.globalTokens).size : 0;
  return { left, right: options?.causal === true ? 0 : right, globals };
}

/** Floats the call places in the arena: copies of q, k, v, the out and lse rows, scores and gathered globals. */
function arenaFloats(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: ShapeSummary,
  blockQ: number,
  band: Band,
): number {
  const rows = dims.batch * dims.qHeads * dims.qLength;
  const io =
    alignFloats(q.data.length) +
    alignFloats(k.data.length) +
    alignFloats(v.data.length) +
    alignFloats(rows * dims.valueDim) +
    alignFloats(rows);
  if (band.globals === 0) {
    return io + alignFloats(blockQ * maxBandKeys(blockQ, dims.kvLength, band.left, band.right));
  }
  return (
    io +
    alignFloats(globalScoreFloats(blockQ, dims.kvLength, band.left, band.right, band.globals)) +
    alignFloats(band.globals * dims.headDim) +
    alignFloats(band.globals * dims.valueDim)
  );
}

function missingWindowReason(options: SlidingWindowOptions | undefined): string | null {
  return options?.window === undefined
    ? 'window: sliding-window attention needs options.window = [left, right] (dense, causal or flash handle unbounded attention)'
    : null;
}

/** Why this call cannot run (never throws; malformed inputs are forward's to reject precisely). */
function notSupported(q: Tensor, k: Tensor, v: Tensor, options: SlidingWindowOptions | undefined): string[] {
  const missing = missingWindowReason(options);
  const parsed = slidingWindowOptionsSchema.safeParse(options ?? {});
  const dims = summariseShapes(q, k, v);
  const band = bandOf(options);
  const reasons: string[] = missing ? [missing] : [];
  if (!parsed.success || !dims || !band) return reasons;
  const threads = parsed.data.threads ?? 1;
  if (threads > 1) {
    reasons.push(
      `threads: ${threads} needs the @attnkit/kernels worker pool (runParallel), which sliding-window does not use yet: pass threads: 1`,
    );
  }
  const blockQ = effectiveBlockQ(dims.qLength, parsed.data.blockQ ?? DEFAULT_BLOCK_Q);
  const bytes = 4 * arenaFloats(q, k, v, dims, blockQ, band);
  if (bytes > MAX_ARENA_BYTES) {
    reasons.push(
      `the inputs, output and scores need ${(bytes / 2 ** 30).toFixed(2)} GiB of engine memory, above the ` +
        `${(MAX_ARENA_BYTES / 2 ** 30).toFixed(2)} GiB WebAssembly limit: split the batch or the heads into several calls`,
    );
  }
  return reasons;
}

export const slidingWindow: AttentionVariant<SlidingWindowOptions> = {
  name: 'sliding-window',
  exact: true,
  notSupportedReasons(q, k, v, options) {
    return notSupported(q, k, v, options);
  },
  forward(q, k, v, options) {
    return slidingWindowAttention(q, k, v, options);
  },
  workspaceBytes(q, k, v, options) {
    const dims = summariseShapes(q, k, v);
    const band = bandOf(options);
    if (!dims || !band) return 0;
    const parsed = slidingWindowOptionsSchema.safeParse(options ?? {});
    const blockQ = effectiveBlockQ(
      dims.qLength,
      (parsed.success ? parsed.data.blockQ : undefined) ?? DEFAULT_BLOCK_Q,
    );
    return 4 * arenaFloats(q, k, v, dims, blockQ, band);
  },
};

/** The problem the global query rows are attended with: no mask (their key ranges are cut exactly). */
function unmasked(problem: AttentionProblem): AttentionProblem {
  return {
    ...problem,
    windowLeft: Number.POSITIVE_INFINITY,
    windowRight: Number.POSITIVE_INFINITY,
    masked: false,
  };
}

/**
 * Exact banded softmax attention (DESIGN §3 semantics; window required; scale, causal, kvLengths,
 * GQA/MQA, Lq ≠ Lk bottom-right aligned, out, lse), plus optional Longformer global tokens.
 */
export function slidingWindowAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: SlidingWindowOptions = {},
): Tensor {
  const problem = validateAttentionInputs(q, k, v, options);
  const own = parseOptions(slidingWindowOptionsSchema, options);
  // After the shared validation, so a malformed argument is named before the missing window.
  if (own.window === undefined) {
    throw new AttentionInputError(
      'options.window',
      'a [left, right] window (sliding-window attention is banded by definition)',
      'undefined',
      'Pass e.g. window: [512, 0] for Mistral-style causal local attention or [256, 256] for Longformer-style; use dense, causal or flash for unbounded attention.',
    );
  }
  const globals = globalPositions(own.globalTokens, problem.kvLength);
  assertSupported('sliding-window', notSupported(q, k, v, options));
  const engine = getEngine(own.backend);
  const blockQ = effectiveBlockQ(problem.qLength, own.blockQ ?? DEFAULT_BLOCK_Q);
  const { kvLength, windowLeft, windowRight, headDim, valueDim } = problem;
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    if (globals.length === 0) {
      const scores = engine.arena.alloc(blockQ * maxBandKeys(blockQ, kvLength, windowLeft, windowRight));
      for (let b = 0; b < problem.batch; b++) {
        for (let h = 0; h < problem.qHeads; h++) {
          attendBandHead(engine, problem, headOffsets(problem, placed, b, h), b, blockQ, scores);
        }
      }
    } else {
      const scratch = {
        scores: engine.arena.alloc(
          globalScoreFloats(blockQ, kvLength, windowLeft, windowRight, globals.length),
        ),
        keys: engine.arena.alloc(globals.length * headDim),
        values: engine.arena.alloc(globals.length * valueDim),
      };
      const globalRows = unmasked(problem);
      for (let b = 0; b < problem.batch; b++) {
        for (let h = 0; h < problem.qHeads; h++) {
          const head = headOffsets(problem, placed, b, h);
          attendBandWithGlobalsHead(engine, problem, globalRows, head, b, blockQ, globals, scratch);
        }
      }
    }
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}
