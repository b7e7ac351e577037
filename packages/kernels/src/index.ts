export { Arena, ArenaError, alignFloats } from './arena.js';
export {
  attendRows,
  finishAttention,
  type HeadOffsets,
  headOffsets,
  type PlacedAttention,
  placeAttention,
} from './attention-io.js';
export {
  type Backend,
  createEngine,
  defaultBackend,
  type Engine,
  getEngine,
  INSTANCE_SCRATCH_BYTES,
  MAX_ARENA_BYTES,
  type PrivateEngineOptions,
  wasmUnavailableReason,
} from './engine.js';
export { type EngineOptions, engineOptionsSchema } from './engine-options.js';
export { JsKernelOps } from './js-ops.js';
export type { KernelOps } from './kernel-ops.js';
export { type CacheDimensions, parseCacheAppend } from './kv-cache-input.js';
export { measureSimdCeiling } from './simd-ceiling.js';
export {
  DEFAULT_IDLE_MS,
  DEFAULT_WORKER_ARENA_BYTES,
  loadWorkModule,
  maxThreads,
  type RunParallelOptions,
  registeredWorkModule,
  registerWorkModule,
  runParallel,
  setThreadPolicy,
  setWorkerFactory,
  startThreads,
  stopThreads,
  type ThreadPolicy,
  type ThreadsInfo,
  threadsInfo,
  type WorkModule,
} from './thread-pool.js';
export {
  callArenaFloats,
  createQueryBlockItem,
  engineReasons,
  locateQueryBlockItem,
  type ProblemPayload,
  problemOf,
  problemPayload,
  type QueryBlockItem,
  queryBlockItems,
  runWorkItems,
  type ShapeSummary,
  summariseShapes,
  threadedEngineReasons,
} from './variant-runtime.js';
export { initKernels, type WasmFeatures, wasmFeatures } from './wasm-module.js';
export { WasmKernelOps } from './wasm-ops.js';
