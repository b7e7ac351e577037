/**
 * An engine of its own for the rolling KV cache. The ring of keys and values lives inside this
 * engine's memory, in the layout the kernels read directly, so attending a new token never copies
 * the cache; only the new queries and the output rows cross in and out. A private memory (rather
 * than the process-wide engine's bump arena) lets the cache live across calls and be
 * garbage-collected with the cache object.
 */
import { Arena, type Backend, type Engine, getEngine, JsKernelOps, MAX_ARENA_BYTES } from '@attnkit/kernels';

const PAGE_BYTES = 65536;

export function createPrivateEngine(backend: Backend | undefined, initialBytes: number): Engine {
  // getEngine resolves the default backend and refuses one this platform cannot run.
  const shared = getEngine(backend);
  const memory = new WebAssembly.Memory({
    initial: Math.max(1, Math.ceil(initialBytes / PAGE_BYTES)),
    maximum: Math.ceil(MAX_ARENA_BYTES / PAGE_BYTES),
  });
  const arena = new Arena(memory, 0, MAX_ARENA_BYTES);
  if (shared.backend !== 'js') {
    throw new Error(
      `KV caches need a private '${shared.backend}' engine, which @attnkit/kernels cannot create yet`,
    );
  }
  return { backend: 'js', arena, ops: new JsKernelOps(arena) };
}
