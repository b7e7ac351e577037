/**
 * @attnkit/kernels/runtime: what variant packages build on (docs/writing-a-variant.md) — the variant
 * template, the banded step and work module, arena placement, work items and the pool underneath,
 * the engine's primitives and arena, and the shared KV store. Users do not need it.
 */
export { Arena, ArenaError, alignFloats } from '../engine/arena.js';
export {
  type Backend,
  type BackendChoice,
  createEngine,
  type Engine,
  getEngine,
  INSTANCE_SCRATCH_BYTES,
  MAX_ARENA_BYTES,
  type PrivateEngineOptions,
} from '../engine/engine.js';
export { type EngineOptions, engineOptionsSchema } from '../engine/engine-options.js';
export { JsKernelOps } from '../engine/js-ops.js';
export { DEQUANT_FLOAT16, DEQUANT_INT8, dequantElementBytes, type KernelOps } from '../engine/kernel-ops.js';
export { type FlashBlockArgs, flashBlockScratchFloats, NativeKernelOps } from '../engine/native-ops.js';
export { WasmKernelOps } from '../engine/wasm-ops.js';
export {
  DEFAULT_WORKER_ARENA_BYTES,
  loadWorkModule,
  type RunParallelOptions,
  registeredWorkModule,
  registerWorkModule,
  runParallel,
  runParallelWith,
  type WorkModule,
} from '../pool/thread-pool.js';
export {
  type ArenaOffsets,
  anyNotFinite,
  attendBand,
  attendRows,
  attendValuesByRow,
  bandScoreFloats,
  biasFloats,
  finishAttention,
  hiddenValuesNotFinite,
  type PlacedAttention,
  placeAttention,
} from './attention-io.js';
export { type BandParams, bandItemScratchFloats, planBand, runBandItem } from './band-work.js';
export { bandWorkModule } from './band-work-module.js';
export {
  checkFiniteForInt8,
  floatToHalf,
  type KVStorage,
  storageElementBytes,
  storageFormat,
} from './compact-kv.js';
export {
  type DefinedVariant,
  defineVariant,
  type PreparedCall,
  type VariantPlan,
  type VariantSpec,
  variantOptionsSchema,
} from './define-variant.js';
export { type CacheDimensions, describeBytes, parseCacheAppend } from './kv-cache-input.js';
export {
  type CacheAttendPlan,
  KVStore,
  KVStoreCache,
  type KVStoreConfig,
  type KVStorePolicy,
} from './kv-store.js';
export {
  kvStorageSchema,
  type PagedKVAttendOptions,
  PagedKVStore,
  type PagedKVStoreConfig,
  PagedKVView,
  type PagedPageLayout,
  type PagedRopeOptions,
  pagedPageLayout,
  pagedRopeOptionsSchema,
  pagedTileKeys,
  windowPagesPerSequence,
} from './paged-kv-store.js';
export {
  applySinks,
  BLOCK_EMPTY,
  BLOCK_FULL,
  BLOCK_PARTIAL,
  emptyRowSpan,
  generalClass,
  nextVisibleKey,
  type RowSpan,
  rangeScratchFloats,
  rowSpan,
  scoreFunctionsOf,
  scoreTile,
  setScoreFunctions,
  type TileHead,
  tileClass,
  visibleRunEnd,
} from './score-tile.js';
export {
  MIN_SPLIT_KEYS,
  mergeSplits,
  noSplit,
  placeSplits,
  planBandSplits,
  planSplits,
  SPLIT_TARGET_ITEMS,
  type SplitParams,
  splitFloats,
  splitKvHooks,
  splitOffsets,
} from './split-kv.js';
export {
  callArenaFloats,
  createQueryBlockItem,
  engineFor,
  engineReasons,
  type HeadOffsets,
  headOffsetsInto,
  locateQueryBlockItem,
  measureArenaBytes,
  type QueryBlockItem,
  queryBlockItems,
  runWorkItems,
  type ShapeSummary,
  threadedEngineReasons,
  type VariantPayload,
  type VariantWorkModule,
} from './variant-runtime.js';
