export { Arena, ArenaError } from './arena.js';
export {
  attendRows,
  finishAttention,
  type HeadOffsets,
  headOffsets,
  type PlacedAttention,
  placeAttention,
} from './attention-io.js';
export { type Backend, type Engine, getEngine, MAX_ARENA_BYTES } from './engine.js';
export { type EngineOptions, engineOptionsSchema } from './engine-options.js';
export { JsKernelOps } from './js-ops.js';
export type { KernelOps } from './kernel-ops.js';
