/** Options every variant accepts on top of AttentionOptions: which engine runs it, on how many threads. */
import { z } from 'zod';

export const engineOptionsSchema = z.strictObject({
  /**
   * 'native' (the @attnkit/native addon), 'wasm' (SIMD) or 'js' (the plain-TS twins); 'auto', the
   * default, is native where the addon loaded, else wasm where SIMD validates, else js.
   */
  backend: z.enum(['auto', 'native', 'wasm', 'js']).optional(),
  /** Worker threads to split independent (batch, head, query-block) items over. Default 1. */
  threads: z.number().int().min(1).max(64).optional(),
});

export type EngineOptions = z.infer<typeof engineOptionsSchema>;
