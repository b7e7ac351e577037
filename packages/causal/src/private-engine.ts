/**
 * An engine of its own for a KV cache. The cache keeps its keys and values inside this engine's
 * memory, in the layout the kernels read directly, so attending a new token never copies the
 * cache; only the new queries and the output rows cross in and out. A private memory (rather than
 * the process-wide engine's bump arena, where a long-lived block could neither grow nor be freed)
 * lets the cache live across calls and be garbage-collected with the cache object.
 *
 * Only the js kernels can run on a memory of our own today: @attnkit/kernels does not export a way
 * to instantiate its wasm module over another memory (README "KV cache engine"). So the cache's
 * engine is 'js', and asking for 'wasm' is refused rather than ignored.
 */
import { AttentionInputError } from '@attnkit/core';
import { Arena, type Backend, type Engine, JsKernelOps, MAX_ARENA_BYTES } from '@attnkit/kernels';

const PAGE_BYTES = 65536;

export function createPrivateEngine(backend: Backend | undefined, initialBytes: number): Engine {
  if (backend === 'wasm') {
    throw new AttentionInputError(
      'options.backend',
      "'js' or undefined (a KV cache computes in a private engine, and @attnkit/kernels cannot create a private wasm one yet)",
      "'wasm'",
      'Leave backend unset: the cache runs on the js kernels, reading its storage in place.',
    );
  }
  const memory = new WebAssembly.Memory({
    initial: Math.max(1, Math.ceil(initialBytes / PAGE_BYTES)),
    maximum: Math.ceil(MAX_ARENA_BYTES / PAGE_BYTES),
  });
  const arena = new Arena(memory, 0, MAX_ARENA_BYTES);
  return { backend: 'js', arena, ops: new JsKernelOps(arena) };
}
