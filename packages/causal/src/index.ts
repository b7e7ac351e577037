export { causal, causalAttention, causalWorkModule } from './causal.js';
export { createKVCache, type KVCache, type KVCacheAttendOptions, type KVCacheOptions } from './kv-cache.js';
export { type CausalOptions, DEFAULT_BLOCK_Q } from './options.js';
export {
  createPagedKVCache,
  DEFAULT_PAGE_SIZE,
  type PagedKVCache,
  type PagedKVCacheAttendOptions,
  type PagedKVCacheOptions,
  type PagedKVCacheView,
} from './paged-kv-cache.js';
