/**
 * Flash attention: exact softmax attention computed tile by tile with an online softmax, never
 * materialising the Lq × Lk score matrix (Dao et al., FlashAttention-2 loop order: query blocks
 * outer — the parallel work items —, key blocks inner; work.ts has the per-item loop).
 * Key tiles the mask hides entirely are skipped, partly hidden ones are masked inside (plan.ts).
 *
 * Time O(B · Hq · Σ_rows visibleKeys · (Dk + Dv)): ≈ half of dense when causal, O(N · w) for a
 * window. Extra memory: the arena copies of q, k, v, out and lse (O(N · D)) plus, per thread, one
 * blockQ × blockK score tile and 2 · blockQ running statistics — independent of N.
 */
import {
  type AttentionVariant,
  assertSupported,
  parseOptions,
  type Tensor,
  validateAttentionInputs,
} from '@attnkit/core';
import {
  callArenaFloats,
  engineReasons,
  finishAttention,
  getEngine,
  placeAttention,
  problemPayload,
  queryBlockItems,
  runWorkItems,
  type ShapeSummary,
  summariseShapes,
} from '@attnkit/kernels';
import { DEFAULT_BLOCK_K, DEFAULT_BLOCK_Q, type FlashOptions, flashOptionsSchema } from './options.js';
import { type FlashPayload, runItem, scratchFloats } from './work.js';

/** The module each pool worker imports to run flash items (the built work.js next to this file). */
export const FLASH_WORK_MODULE_URL = new URL('./work.js', import.meta.url).href;

/**
 * This variant's work module, for a pool worker an app supplies itself (bundled browser apps; see
 * kernels' setWorkerFactory): `registerWorkModule(flashWorkModule.url, flashWorkModule)` inside that worker.
 */
export const flashWorkModule = { url: FLASH_WORK_MODULE_URL, runItem };

/** Tile sizes actually used: the requested ones, clipped to the sequence lengths (a tile never exceeds them). */
export function effectiveBlocks(
  qLength: number,
  kvLength: number,
  blockQ = DEFAULT_BLOCK_Q,
  blockK = DEFAULT_BLOCK_K,
): { blockQ: number; blockK: number } {
  return { blockQ: Math.max(1, Math.min(blockQ, qLength)), blockK: Math.max(1, Math.min(blockK, kvLength)) };
}

/** Arena floats of a call: the shared copies plus one score tile and its row statistics per running thread. */
function arenaFloats(dims: ShapeSummary, options: FlashOptions): number {
  const { blockQ, blockK } = effectiveBlocks(dims.qLength, dims.kvLength, options.blockQ, options.blockK);
  return callArenaFloats(
    dims,
    scratchFloats(blockQ, blockK),
    queryBlockItems(dims, blockQ),
    options.threads ?? 1,
  );
}

function notSupported(q: Tensor, k: Tensor, v: Tensor, options: FlashOptions | undefined): string[] {
  const parsed = flashOptionsSchema.safeParse(options ?? {});
  const dims = summariseShapes(q, k, v);
  // Malformed inputs are forward's to reject with a precise error, not a "not supported" reason.
  if (!parsed.success || !dims) return [];
  return engineReasons(parsed.data.backend, 4 * arenaFloats(dims, parsed.data));
}

export const flash: AttentionVariant<FlashOptions> = {
  name: 'flash',
  exact: true,
  notSupportedReasons(q, k, v, options) {
    return notSupported(q, k, v, options);
  },
  forward(q, k, v, options) {
    return flashAttention(q, k, v, options);
  },
  workspaceBytes(q, k, v, options) {
    const dims = summariseShapes(q, k, v);
    if (!dims) return 0;
    const parsed = flashOptionsSchema.safeParse(options ?? {});
    return 4 * arenaFloats(dims, parsed.success ? parsed.data : {});
  },
};

/**
 * Exact softmax attention (DESIGN §3 semantics: scale, causal, window, kvLengths, GQA/MQA, Lq ≠ Lk
 * bottom-right aligned, out, lse) in O(N) memory, skipping the key tiles a mask hides.
 */
export function flashAttention(q: Tensor, k: Tensor, v: Tensor, options: FlashOptions = {}): Tensor {
  const problem = validateAttentionInputs(q, k, v, options);
  const own = parseOptions(flashOptionsSchema, options);
  assertSupported('flash', notSupported(q, k, v, options));
  const engine = getEngine(own.backend);
  const { blockQ, blockK } = effectiveBlocks(problem.qLength, problem.kvLength, own.blockQ, own.blockK);
  const threads = own.threads ?? 1;
  const placed = placeAttention(engine, problem, q, k, v);
  try {
    const payload: FlashPayload = {
      ...problemPayload(problem, placed),
      blockQ,
      blockK,
      queryBlocks: Math.ceil(problem.qLength / blockQ),
    };
    runWorkItems(
      engine,
      FLASH_WORK_MODULE_URL,
      runItem,
      payload,
      queryBlockItems(problem, blockQ),
      threads,
      scratchFloats(blockQ, blockK),
    );
    return finishAttention(engine, problem, placed);
  } finally {
    engine.arena.release(placed.mark);
  }
}
