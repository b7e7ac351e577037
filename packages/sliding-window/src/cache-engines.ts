/**
 * Where a KV cache keeps its keys and values, and which engine attends over them.
 *
 * Storage: a private memory of the cache's own (an Arena over a new WebAssembly.Memory), rather than
 * the process-wide engine's bump arena, where a long-lived block could neither grow nor be freed;
 * the cache is garbage-collected with its object.
 *
 * Compute:
 * - 'js': the js kernels run on the private memory itself, reading the cache in place: only the
 *   new queries are copied in and the output rows out.
 * - 'wasm' (the default where SIMD is available): @attnkit/kernels cannot instantiate its wasm
 *   module over another memory, so each attend copies the live cache rows into the shared engine's
 *   arena and computes there. That copy is O(cached positions · (Dk + Dv)) per step — the same order
 *   as the attention itself — yet measured about 3× faster than the in-place js path (README
 *   "KV cache engine"). Once kernels can create an engine over a private memory, the wasm path
 *   reads in place too.
 */
import {
  Arena,
  type Backend,
  defaultBackend,
  type Engine,
  getEngine,
  JsKernelOps,
  MAX_ARENA_BYTES,
} from '@attnkit/kernels';

const PAGE_BYTES = 65536;

export interface CacheEngines {
  /** The private engine whose arena holds the cache (its ops are the js twins). */
  readonly storage: Engine;
  /** The engine attend computes with: `storage` itself ('js'), or the shared wasm engine. */
  readonly compute: Engine;
}

export function createCacheEngines(backend: Backend | undefined, initialBytes: number): CacheEngines {
  const resolved = backend ?? defaultBackend();
  // getEngine first: it refuses a backend this platform cannot run, with the reason.
  const shared = getEngine(resolved);
  const memory = new WebAssembly.Memory({
    initial: Math.max(1, Math.ceil(initialBytes / PAGE_BYTES)),
    maximum: Math.ceil(MAX_ARENA_BYTES / PAGE_BYTES),
  });
  const arena = new Arena(memory, 0, MAX_ARENA_BYTES);
  const storage: Engine = { backend: 'js', arena, ops: new JsKernelOps(arena) };
  return { storage, compute: shared.backend === 'js' ? storage : shared };
}

/**
 * Copies `heads` runs of `rows` rows (`depth` floats each, `stride` rows apart) from the storage
 * engine into a fresh block of the compute engine's arena, packed `rows` apart; returns its offset.
 */
export function copyRowsToCompute(
  engines: CacheEngines,
  from: number,
  heads: number,
  stride: number,
  rows: number,
  depth: number,
): number {
  const to = engines.compute.arena.alloc(heads * rows * depth);
  const source = engines.storage.arena.heap;
  const target = engines.compute.arena.heap; // read after the alloc (growth re-creates the view)
  for (let head = 0; head < heads; head++) {
    const start = from + head * stride * depth;
    target.set(source.subarray(start, start + rows * depth), to + head * rows * depth);
  }
  return to;
}
