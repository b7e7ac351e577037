/**
 * An engine = one arena (memory) + one implementation of the primitives over it.
 * `getEngine()` returns the process-wide engine for a backend: 'native' (the @attnkit/native addon,
 * Node on x86-64 where it was built), 'wasm' (SIMD, where `WebAssembly.validate` accepts SIMD and the
 * module compiles) or 'js' (the plain-TS twins). The default, 'auto', is the first of those that is
 * available (`backendInfo()` says which and why).
 *
 * All backends share ONE WebAssembly.Memory and ONE arena, so an offset means the same thing
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
  NativeKernelOps,
  type NativePath,
  nativeAddon,
  nativePathInfo,
  nativeUnavailableReason,
} from './native-ops.js';
import {
  instantiateKernels,
  KERNELS_MAX_PAGES,
  type KernelExports,
  kernelsFailure,
  kernelsModule,
  wasmFeatures,
} from './wasm-module.js';
import { WasmKernelOps } from './wasm-ops.js';

/** An implementation of the primitives. */
export type Backend = 'native' | 'wasm' | 'js';
/** What the `backend` option accepts: a backend, or 'auto' (native, else wasm, else js). */
export type BackendChoice = Backend | 'auto';

const BACKEND_CHOICES = "'auto', 'native', 'wasm' or 'js'";

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

/** Why `backend` is unavailable here (undefined when it is available; 'js' always is). */
export function backendUnavailableReason(backend: Backend): string | undefined {
  if (backend === 'wasm') return wasmUnavailableReason();
  if (backend === 'native') {
    if (jobEngines) return jobEngines.has('native') ? undefined : 'the worker has no native kernels';
    return nativeUnavailableReason();
  }
  return undefined;
}

/** What 'auto' (and an unset `backend`) runs on: 'native' where the addon loaded, else 'wasm' where the SIMD kernels compile, else 'js'. */
export function defaultBackend(): Backend {
  if (jobEngines) return jobEngines.has('native') ? 'native' : jobEngines.has('wasm') ? 'wasm' : 'js';
  if (nativeAddon()) return 'native';
  return wasmKernels() ? 'wasm' : 'js';
}

/** Which backend a call without `backend` (or with 'auto') runs on, and why; what the others lack. */
export interface BackendInfo {
  /** The backend 'auto' picks here. */
  readonly backend: Backend;
  /** Why that one, in words. */
  readonly reason: string;
  readonly native: {
    readonly available: boolean;
    /** Why it is unavailable (absent when available). */
    readonly reason?: string;
    /** The CPU path native calls run on now (absent when unavailable). */
    readonly path?: NativePath;
    /** The paths this CPU runs, fastest first (absent when unavailable). */
    readonly paths?: readonly NativePath[];
  };
  readonly wasm: { readonly available: boolean; readonly reason?: string };
}

/** Which backend a default call uses and why (docs/design.md, Engine options). */
export function backendInfo(): BackendInfo {
  const backend = defaultBackend();
  const nativeWhy = backendUnavailableReason('native');
  const wasmWhy = backendUnavailableReason('wasm');
  const pathInfo = nativeWhy === undefined ? nativePathInfo() : undefined;
  const native: BackendInfo['native'] = pathInfo
    ? { available: true, path: pathInfo.path, paths: pathInfo.paths }
    : { available: nativeWhy === undefined, ...(nativeWhy === undefined ? {} : { reason: nativeWhy }) };
  const wasm: BackendInfo['wasm'] =
    wasmWhy === undefined ? { available: true } : { available: false, reason: wasmWhy };
  const reason =
    backend === 'native'
      ? `the native addon loaded${pathInfo ? ` (${pathInfo.path} path, chosen by ${pathInfo.selectedBy})` : ''}`
      : backend === 'wasm'
        ? `native is unavailable (${nativeWhy}); the wasm SIMD kernels compiled`
        : `native is unavailable (${nativeWhy}) and so is wasm (${wasmWhy})`;
  return { backend, reason, native, wasm };
}

function checkBackend(backend: unknown): asserts backend is BackendChoice {
  if (backend !== 'auto' && backend !== 'native' && backend !== 'wasm' && backend !== 'js') {
    throw new AttentionInputError(
      'backend',
      BACKEND_CHOICES,
      describeValue(backend),
      'Leave it unset for the default.',
    );
  }
}

/**
 * The shared engine for `backend` (default 'auto': `defaultBackend()`), created on first use.
 * Asking for 'native' or 'wasm' where it is unavailable throws with the reason; 'auto' falls back.
 * Inside a worker's `runItem`, returns that worker's engine for the job.
 */
export function getEngine(backend: BackendChoice = 'auto'): Engine {
  checkBackend(backend);
  const resolved = backend === 'auto' ? defaultBackend() : backend;
  if (jobEngines) {
    const engine = jobEngines.get(resolved);
    if (!engine) throw new Error(`getEngine('${resolved}'): ${backendUnavailableReason(resolved)}`);
    return engine;
  }
  let engine = engines.get(resolved);
  if (!engine) {
    const memory = engineMemory();
    const { arena } = memory;
    if (resolved === 'js') {
      engine = { backend: resolved, arena, ops: new JsKernelOps(arena) };
    } else if (resolved === 'native') {
      const addon = nativeAddon();
      if (!addon) {
        throw new Error(
          `getEngine('native'): the native backend is unavailable (${nativeUnavailableReason()}); use backend 'wasm' or 'js'`,
        );
      }
      // the caller thread's native calls pack into the same scratch as its wasm instance (never at once)
      engine = { backend: resolved, arena, ops: new NativeKernelOps(addon, arena, memory.scratchBytes / 4) };
    } else {
      const kernels = wasmKernels();
      if (!kernels) {
        throw new Error(
          `getEngine('wasm'): the wasm backend is unavailable (${wasmUnavailableReason()}); use backend 'js'`,
        );
      }
      engine = { backend: resolved, arena, ops: new WasmKernelOps(kernels, arena) };
    }
    engines.set(resolved, engine);
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
 * static data and scratch ('native' and 'js' reserve the same). Default backend: 'auto'
 * (`defaultBackend()`). Freed by the garbage collector.
 */
export function createEngine(backend: BackendChoice = 'auto', options: PrivateEngineOptions = {}): Engine {
  checkBackend(backend);
  const resolved = backend === 'auto' ? defaultBackend() : backend;
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
  if (resolved === 'wasm') {
    module = kernelsModule(false);
    if (!module) {
      throw new Error(
        `createEngine('wasm'): the wasm backend is unavailable (${kernelsFailure(false)}); use 'js'`,
      );
    }
  }
  const addon = resolved === 'native' ? nativeAddon() : undefined;
  if (resolved === 'native' && !addon) {
    throw new Error(
      `createEngine('native'): the native backend is unavailable (${nativeUnavailableReason()}); use 'wasm' or 'js'`,
    );
  }
  const reserved = LATE_STATIC_RESERVE_BYTES + INSTANCE_SCRATCH_BYTES;
  const memory = new WebAssembly.Memory({
    initial: Math.ceil((reserved + initialBytes) / PAGE_BYTES),
    maximum: KERNELS_MAX_PAGES,
  });
  const maximumBytes = Math.min(MAX_ARENA_BYTES, KERNELS_MAX_PAGES * PAGE_BYTES);
  if (addon) {
    const arena = new Arena(memory, reserved, maximumBytes);
    return {
      backend: 'native',
      arena,
      ops: new NativeKernelOps(addon, arena, LATE_STATIC_RESERVE_BYTES / 4),
    };
  }
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
