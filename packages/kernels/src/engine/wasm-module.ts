/**
 * Loading the AssemblyScript kernels: the binaries are embedded as base64 in dist/kernels-wasm.js
 * (written by scripts/build-wasm.mjs; the relative import resolves to it from src/ and from dist/),
 * so they load without fetch, fs or bundler help, in Node and browsers.
 *
 * - `kernelsModule(shared)` compiles synchronously on first use (`new WebAssembly.Module`), which
 *   Node always allows; a browser main thread may refuse large synchronous compiles, so
 *   `initKernels()` compiles asynchronously ahead of time, and a refusal is recorded as the
 *   reason the wasm backend is unavailable (the js backend then serves the default).
 * - Feature detection: SIMD by validating the kernels binary itself; Relaxed SIMD by validating a
 *   48-byte probe (reported, never required: it is off by default in Node 20).
 */
import {
  KERNELS_MAXIMUM_PAGES,
  KERNELS_SHARED_WASM,
  KERNELS_WASM,
  RELAXED_SIMD_PROBE_WASM,
} from '../../dist/kernels-wasm.js';
import type { KernelOps } from './kernel-ops.js';

/**
 * The wasm exports: every KernelOps primitive under the same name and signature (offsets and
 * strides in float32 elements), except decodeAttend, whose arguments come one by one
 * (decodeAttendPaged: a wasm function takes numbers, not an object; wasm-ops.ts binds it), plus the
 * module's own housekeeping and test hooks.
 */
export interface KernelExports extends KernelOps {
  /** KernelOps.decodeAttend with DecodeAttendArgs' fields as arguments, in the interface's order. */
  decodeAttendPaged(
    q: number,
    rows: number,
    qLength: number,
    dk: number,
    dv: number,
    scale: number,
    table: number,
    tableStart: number,
    pageSize: number,
    keyByte: number,
    valueByte: number,
    keyScales: number,
    valueScales: number,
    format: number,
    from: number,
    to: number,
    firstQueryPos: number,
    left: number,
    out: number,
    lse: number,
  ): void;
  heapBase(): number;
  scratchBytes(): number;
  setScratch(offsetFloats: number): void;
  /** out[i] = exp(x[i]) with the kernels' vector exp (for accuracy tests and benchmarks). */
  expArray(x: number, n: number, out: number): void;
  /** The same for the x <= 0 variant the softmax rows use. */
  expNonPositiveArray(x: number, n: number, out: number): void;
  /** Runs the register-only f32x4 mul+add loop: 96 FLOPs per iteration. */
  simdCeiling(iterations: number): number;
}

/** FLOPs per iteration of `simdCeiling` (12 chains · 4 lanes · mul + add). */
export const SIMD_CEILING_FLOPS_PER_ITERATION = 96;

/** The maximum memory (pages) the kernels modules declare; the engine's memory must not exceed it. */
export const KERNELS_MAX_PAGES = KERNELS_MAXIMUM_PAGES;

export interface WasmFeatures {
  /** 128-bit SIMD (the kernels need it). */
  readonly simd: boolean;
  /** Relaxed SIMD (reported only; never required). */
  readonly relaxedSimd: boolean;
  /** SharedArrayBuffer and shared WebAssembly.Memory (needed by worker threads). */
  readonly sharedMemory: boolean;
}

export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

let features: WasmFeatures | undefined;
const binaries = new Map<boolean, Uint8Array<ArrayBuffer>>();
const modules = new Map<boolean, WebAssembly.Module>();
const failures = new Map<boolean, string>();

function kernelsBinary(shared: boolean): Uint8Array<ArrayBuffer> {
  let bytes = binaries.get(shared);
  if (!bytes) {
    bytes = decodeBase64(shared ? KERNELS_SHARED_WASM : KERNELS_WASM);
    binaries.set(shared, bytes);
  }
  return bytes;
}

function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    const probe = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return probe.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** What this runtime supports (computed once). */
export function wasmFeatures(): WasmFeatures {
  if (!features) {
    const hasWasm = typeof WebAssembly === 'object' && typeof WebAssembly.validate === 'function';
    const sharedMemory = hasWasm && canShareMemory();
    features = {
      simd: hasWasm && WebAssembly.validate(kernelsBinary(false)),
      relaxedSimd: hasWasm && WebAssembly.validate(decodeBase64(RELAXED_SIMD_PROBE_WASM)),
      sharedMemory,
    };
  }
  return features;
}

/**
 * The compiled kernels for a shared or a plain memory, compiling synchronously on first use.
 * Returns undefined (and records why, see `wasmUnavailableReason`) when it cannot.
 */
export function kernelsModule(shared: boolean): WebAssembly.Module | undefined {
  const cached = modules.get(shared);
  if (cached || failures.has(shared)) return cached;
  const reason = unsupportedReason(shared);
  if (reason) {
    failures.set(shared, reason);
    return undefined;
  }
  try {
    const module = new WebAssembly.Module(kernelsBinary(shared));
    modules.set(shared, module);
    return module;
  } catch (error) {
    failures.set(
      shared,
      `synchronous WebAssembly compilation failed (${String(error)}); call \`await initKernels()\` once at start-up`,
    );
    return undefined;
  }
}

function unsupportedReason(shared: boolean): string | undefined {
  const found = wasmFeatures();
  if (!found.simd) return 'this runtime does not support WebAssembly SIMD';
  if (shared && !found.sharedMemory) return 'this runtime cannot create a shared WebAssembly.Memory';
  return undefined;
}

/** Why the wasm kernels for this memory kind could not be compiled, if they could not. */
export function kernelsFailure(shared: boolean): string | undefined {
  return failures.get(shared);
}

/**
 * Compiles the kernels asynchronously (for browser main threads, which may refuse synchronous
 * compilation of larger modules). Call once before the first `getEngine()`; harmless in Node.
 * Resolves to true when the wasm backend is available.
 */
export async function initKernels(): Promise<boolean> {
  const shared = wasmFeatures().sharedMemory;
  if (modules.has(shared)) return true;
  const reason = unsupportedReason(shared);
  if (reason) {
    failures.set(shared, reason);
    return false;
  }
  try {
    modules.set(shared, await WebAssembly.compile(kernelsBinary(shared)));
    failures.delete(shared);
    return true;
  } catch (error) {
    failures.set(shared, `WebAssembly compilation failed: ${String(error)}`);
    return false;
  }
}

/** A new kernels instance over `memory` (each instance keeps its own scratch pointer). */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, {
    env: { memory, log: Math.log, exp: Math.exp },
  });
  return instance.exports as unknown as KernelExports;
}
