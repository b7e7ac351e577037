export { DEFAULT_BLOCK_Q, type SlidingWindowOptions } from './options.js';
export {
  createRollingKVCache,
  type RollingKVCache,
  type RollingKVCacheAttendOptions,
  type RollingKVCacheOptions,
} from './rolling-kv-cache.js';
export {
  slidingWindow,
  slidingWindowAttention,
  slidingWindowWorkModule,
} from './sliding-window.js';
