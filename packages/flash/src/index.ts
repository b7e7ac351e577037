export { flash, flashAttention, flashWorkModule } from './flash.js';
export { DEFAULT_BLOCK_K, DEFAULT_BLOCK_Q, type FlashOptions, flashOptionsSchema } from './options.js';
