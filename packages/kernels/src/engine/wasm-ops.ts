/** KernelOps over the AssemblyScript SIMD kernels (assembly/), with the arena checks of CheckedKernelOps. */
import type { Arena } from './arena.js';
import { CheckedKernelOps } from './checked-ops.js';
import type { KernelExports } from './wasm-module.js';

export class WasmKernelOps extends CheckedKernelOps {
  constructor(kernels: KernelExports, arena: Arena) {
    super(kernels, arena);
  }
}
