/**
 * The engine a KV cache keeps its keys and values in, and attends with: a private one, over a memory
 * of its own (kernels' createEngine), rather than the process-wide engine's bump arena, where a
 * long-lived block could neither grow nor be freed. The cache is garbage-collected with its object.
 * The storage sits in the layout the kernels read directly, so attend copies only the new queries
 * in and the output rows out — never the cache — on either backend.
 */
import { type Backend, createEngine, type Engine, getEngine } from '@attnkit/kernels';

export function createCacheEngine(backend: Backend | undefined, initialBytes: number): Engine {
  // getEngine first: it resolves the default and refuses a backend this platform cannot run, with the reason.
  return createEngine(getEngine(backend).backend, { initialBytes });
}
