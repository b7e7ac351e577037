/**
 * @attnkit/kernels, what a user calls: the engines (native in Node, wasm SIMD and plain JS), which
 * one a default call uses and why, their start-up in browsers, and the worker pool's controls.
 * Variant authors import '@attnkit/kernels/runtime'.
 */
export {
  type Backend,
  type BackendChoice,
  type BackendInfo,
  backendInfo,
  backendUnavailableReason,
  createEngine,
  defaultBackend,
  type Engine,
  getEngine,
  wasmUnavailableReason,
} from './engine/engine.js';
export { type EngineOptions, engineOptionsSchema } from './engine/engine-options.js';
export { measureNativeCeiling } from './engine/native-ceiling.js';
export {
  type NativePath,
  type NativePathInfo,
  nativePathInfo,
  nativeUnavailableReason,
  setNativePath,
} from './engine/native-ops.js';
export { measureSimdCeiling } from './engine/simd-ceiling.js';
export { initKernels, type WasmFeatures, wasmFeatures } from './engine/wasm-module.js';
export {
  DEFAULT_IDLE_MS,
  maxThreads,
  registerWorkModule,
  setThreadPolicy,
  setWorkerFactory,
  startThreads,
  stopThreads,
  type ThreadPolicy,
  type ThreadsInfo,
  threadsInfo,
} from './pool/thread-pool.js';
