/**
 * An engine = one arena (memory) + one implementation of the primitives over it.
 * `getEngine()` returns the process-wide engine for a backend: 'wasm' (SIMD, default where
 * `WebAssembly.validate` accepts SIMD and the module compiles) or 'js' (the plain-TS twins).
 *
 * Both backends share ONE WebAssembly.Memory and ONE arena, so an offset means the same thing
 * whichever backend computes on it, and worker threads see it all. The memory is shared
 * (SharedArrayBuffer-backed) wherever the runtime allows, so `runParallel` can hand it to workers.
 *
 * Memory layout (bytes):
 *   [0, heapBase)                  the module's static data (none today; heapBase = 1024)
 *   [control, control + 16 KiB)    the worker pool's control block (claim counter, error text)
 *   [scratch, scratch + 128 KiB)   the caller instance's kernel scratch (packed GEMM panels)
 *   [arena base, ...)              the arena: everything variants allocate, growing upward
 * Worker threads get their own regions carved from the arena for the duration of a job (see
 * thread-pool.ts).
 */
import { AttentionInputError, describeValue } from '@attnkit/core';
import { Arena, ArenaError } from './arena.js';
import { JsKernelOps } from './js-ops.js';
import type { KernelOps } from './kernel-ops.js';
import {
  instantiateKernels,
  KERNELS_MAX_PAGES,
  type KernelExports,
  kernelsFailure,
  kernelsModule,
  wasmFeatures,
} from './wasm-module.js';
import { WasmKernelOps } from './wasm-ops.js';

export type Backend = 'wasm' | 'js';

export interface Engine {
  readonly backend: Backend;
  readonly arena: Arena;
  readonly ops: KernelOps;
}

/** 4 GiB of float32 offsets is the wasm32 ceiling; keep a margin below it. */
export const MAX_ARENA_BYTES = 2 ** 32 - 2 ** 26;

/** Bytes reserved for the worker pool's control block (see thread-pool.ts). */
export const CONTROL_BLOCK_BYTES = 16384;
/**
 * Bytes reserved for one kernels instance's scratch: the caller's in the layout below, and the
 * first bytes of each worker's per-job region (so a worker region is this + workerArenaBytes).
 * The module needs 15.1 KiB today (packed GEMM panels and a tile); the rest is headroom for
 * larger blocks without changing what callers account for.
 */
export const INSTANCE_SCRATCH_BYTES = 131072;
/** Static area reserved when the module is not compiled yet at memory creation (checked when it is). */
const LATE_STATIC_RESERVE_BYTES = 65536;
const INITIAL_PAGES = 32;
const PAGE_BYTES = 65536;

/** The process-wide memory both engines compute in. */
export interface EngineMemory {
  readonly memory: WebAssembly.Memory;
  /** SharedArrayBuffer-backed: worker threads can use it. */
  readonly shared: boolean;
  /** Byte offset of the worker pool's control block. */
  readonly controlBytes: number;
  /** Byte offset of the caller instance's kernel scratch. */
  readonly scratchBytes: number;
  readonly arena: Arena;
}

let state: EngineMemory | undefined;
let callerKernels: KernelExports | undefined;
const engines = new Map<Backend, Engine>();
/** Set inside a worker while it runs a job: getEngine() there returns the job's engines. */
let jobEngines: ReadonlyMap<Backend, Engine> | undefined;

function alignUp(bytes: number, to: number): number {
  return Math.ceil(bytes / to) * to;
}

function createMemory(shared: boolean): { memory: WebAssembly.Memory; maximumPages: number } {
  // A shared memory reserves its maximum up front; fall back to 1 GiB where 4 GiB is refused.
  try {
    return {
      memory: new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: KERNELS_MAX_PAGES, shared }),
      maximumPages: KERNELS_MAX_PAGES,
    };
  } catch {
    const maximumPages = 16384;
    return {
      memory: new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: maximumPages, shared }),
      maximumPages,
    };
  }
}

/** The process-wide engine memory (created on first use). */
export function engineMemory(): EngineMemory {
  if (state) return state;
  const shared = wasmFeatures().sharedMemory;
  const module = kernelsModule(shared);
  const { memory, maximumPages } = createMemory(shared);
  const kernels = module ? instantiateKernels(module, memory) : undefined;
  const controlBytes = alignUp(kernels ? kernels.heapBase() : LATE_STATIC_RESERVE_BYTES, 64);
  const scratchBytes = controlBytes + CONTROL_BLOCK_BYTES;
  const arenaBytes = scratchBytes + INSTANCE_SCRATCH_BYTES;
  const maximumBytes = Math.min(MAX_ARENA_BYTES, maximumPages * PAGE_BYTES);
  state = { memory, shared, controlBytes, scratchBytes, arena: new Arena(memory, arenaBytes, maximumBytes) };
  if (kernels) callerKernels = attachKernels(kernels, controlBytes, scratchBytes);
  return state;
}

/** Points a kernels instance at its scratch after checking its static data fits below `controlBytes`. */
export function attachKernels(
  kernels: KernelExports,
  controlBytes: number,
  scratchBytes: number,
): KernelExports {
  if (kernels.heapBase() > controlBytes) {
    throw new ArenaError(
      `kernels static data ends at ${kernels.heapBase()} B, above the control block at ${controlBytes} B`,
    );
  }
  if (kernels.scratchBytes() > INSTANCE_SCRATCH_BYTES) {
    throw new ArenaError(
      `kernels need ${kernels.scratchBytes()} B of scratch, ${INSTANCE_SCRATCH_BYTES} B reserved`,
    );
  }
  kernels.setScratch(scratchBytes / 4);
  return kernels;
}

/** The caller thread's kernels instance, instantiating it late if `initKernels()` compiled it since. */
function wasmKernels(): KernelExports | undefined {
  const memory = engineMemory();
  if (!callerKernels) {
    const module = kernelsModule(memory.shared);
    if (module) {
      callerKernels = attachKernels(
        instantiateKernels(module, memory.memory),
        memory.controlBytes,
        memory.scratchBytes,
      );
    }
  }
  return callerKernels;
}

/** Why the wasm backend is unavailable here (undefined when it is available). */
export function wasmUnavailableReason(): string | undefined {
  if (jobEngines) return jobEngines.has('wasm') ? undefined : 'the worker has no wasm kernels';
  return wasmKernels() ? undefined : (kernelsFailure(engineMemory().shared) ?? 'unknown');
}

/** 'wasm' where the SIMD kernels validate and compile, else 'js'. */
export function defaultBackend(): Backend {
  if (jobEngines) return jobEngines.has('wasm') ? 'wasm' : 'js';
  return wasmKernels() ? 'wasm' : 'js';
}

/**
 * The shared engine for `backend` (default: `defaultBackend()`), created on first use.
 * Asking for 'wasm' where it is unavailable throws with the reason; the default falls back to 'js'.
 * Inside a worker's `runItem`, returns that worker's engine for the job.
 */
export function getEngine(backend: Backend = defaultBackend()): Engine {
  if (backend !== 'wasm' && backend !== 'js') {
    throw new AttentionInputError(
      'backend',
      "'wasm' or 'js'",
      describeValue(backend),
      'Leave it unset for the default.',
    );
  }
  if (jobEngines) {
    const engine = jobEngines.get(backend);
    if (!engine) throw new Error(`getEngine('${backend}'): ${wasmUnavailableReason()}`);
    return engine;
  }
  let engine = engines.get(backend);
  if (!engine) {
    const { arena } = engineMemory();
    if (backend === 'js') {
      engine = { backend, arena, ops: new JsKernelOps(arena) };
    } else {
      const kernels = wasmKernels();
      if (!kernels) {
        throw new Error(
          `getEngine('wasm'): the wasm backend is unavailable (${wasmUnavailableReason()}); use backend 'js'`,
        );
      }
      engine = { backend, arena, ops: new WasmKernelOps(kernels, arena) };
    }
    engines.set(backend, engine);
  }
  return engine;
}

export interface PrivateEngineOptions {
  /** Bytes the arena starts with (it grows on demand). Default 1 MiB. */
  initialBytes?: number;
}

/**
 * A new engine over a memory of its own (not shared with other engines, not usable by worker
 * threads): for long-lived storage such as a KV cache, which must not sit in the shared bump
 * arena. 'wasm' instantiates the kernels over the new memory; its arena starts above their
 * static data and scratch. Default backend: `defaultBackend()`. Freed by the garbage collector.
 */
export function createEngine(
  backend: Backend = defaultBackend(),
  options: PrivateEngineOptions = {},
): Engine {
  const initialBytes = options.initialBytes ?? 2 ** 20;
  if (!Number.isInteger(initialBytes) || initialBytes < 0 || initialBytes > MAX_ARENA_BYTES) {
    throw new AttentionInputError(
      'options.initialBytes',
      `an integer number of bytes in [0, ${MAX_ARENA_BYTES}]`,
      describeValue(initialBytes),
      'The arena grows on demand: a small value is fine.',
    );
  }
  let module: WebAssembly.Module | undefined;
  if (backend === 'wasm') {
    module = kernelsModule(false);
    if (!module) {
      throw new Error(
        `createEngine('wasm'): the wasm backend is unavailable (${kernelsFailure(false)}); use 'js'`,
      );
    }
  } else if (backend !== 'js') {
    throw new AttentionInputError(
      'backend',
      "'wasm' or 'js'",
      describeValue(backend),
      'Leave it unset for the default.',
    );
  }
  const reserved = LATE_STATIC_RESERVE_BYTES + INSTANCE_SCRATCH_BYTES;
  const memory = new WebAssembly.Memory({
    initial: Math.ceil((reserved + initialBytes) / PAGE_BYTES),
    maximum: KERNELS_MAX_PAGES,
  });
  const maximumBytes = Math.min(MAX_ARENA_BYTES, KERNELS_MAX_PAGES * PAGE_BYTES);
  if (!module) {
    const arena = new Arena(memory, reserved, maximumBytes);
    return { backend: 'js', arena, ops: new JsKernelOps(arena) };
  }
  const kernels = instantiateKernels(module, memory);
  const scratchBytes = alignUp(kernels.heapBase(), 64);
  attachKernels(kernels, scratchBytes, scratchBytes);
  const arena = new Arena(memory, scratchBytes + INSTANCE_SCRATCH_BYTES, maximumBytes);
  return { backend: 'wasm', arena, ops: new WasmKernelOps(kernels, arena) };
}

/** Installs (or clears) the engines a worker thread's job runs on. Internal to the worker pool. */
export function setJobEngines(current: ReadonlyMap<Backend, Engine> | undefined): void {
  jobEngines = current;
}

/** True inside a worker thread's job. */
export function inWorkerJob(): boolean {
  return jobEngines !== undefined;
}
