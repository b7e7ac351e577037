export { causal, causalAttention, causalWorkModule } from './causal.js';
export { createKVCache, type KVCache, type KVCacheAttendOptions, type KVCacheOptions } from './kv-cache.js';
export { type CausalOptions, DEFAULT_BLOCK_Q } from './options.js';
