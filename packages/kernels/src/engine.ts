/**
 * An engine = one arena (memory) + one implementation of the primitives over it.
 * `getEngine()` returns the process-wide engine for a backend: 'wasm' (SIMD, default where
 * `WebAssembly.validate` accepts SIMD) or 'js' (the plain-TS twins).
 */
import { Arena } from './arena.js';
import { JsKernelOps } from './js-ops.js';
import type { KernelOps } from './kernel-ops.js';

export type Backend = 'wasm' | 'js';

export interface Engine {
  readonly backend: Backend;
  readonly arena: Arena;
  readonly ops: KernelOps;
}

/** 4 GiB of float32 offsets is the wasm32 ceiling; keep a margin below it. */
export const MAX_ARENA_BYTES = 2 ** 32 - 2 ** 26;

const engines = new Map<Backend, Engine>();

function createJsEngine(): Engine {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  const arena = new Arena(memory, 0, MAX_ARENA_BYTES);
  return { backend: 'js', arena, ops: new JsKernelOps(arena) };
}

/** The shared engine for `backend` (created on first use). */
export function getEngine(backend: Backend = 'js'): Engine {
  let engine = engines.get(backend);
  if (!engine) {
    if (backend !== 'js') throw new Error(`backend '${backend}' is not available yet`);
    engine = createJsEngine();
    engines.set(backend, engine);
  }
  return engine;
}
