export { effectiveBlocks, FLASH_WORK_MODULE_URL, flash, flashAttention, flashWorkModule } from './flash.js';
export { DEFAULT_BLOCK_K, DEFAULT_BLOCK_Q, type FlashOptions, flashOptionsSchema } from './options.js';
export {
  countKeyBlocks,
  emptyKeyBlockPlan,
  type KeyBlockCounts,
  type KeyBlockPlan,
  type MaskGeometry,
  planKeyBlocks,
  tileNeedsMask,
  visitedTiles,
} from './plan.js';
