/** KernelOps over the AssemblyScript SIMD kernels (assembly/), with the arena checks of CheckedKernelOps. */
import type { Arena } from './arena.js';
import { CheckedKernelOps } from './checked-ops.js';
import type { DecodeAttendArgs, KernelOps } from './kernel-ops.js';
import type { KernelExports } from './wasm-module.js';

/** The exports as KernelOps: decodeAttend spreads its arguments into the module's decodeAttendPaged. */
function asKernelOps(kernels: KernelExports): KernelOps {
  return {
    ...kernels,
    decodeAttend(a: DecodeAttendArgs): void {
      kernels.decodeAttendPaged(
        a.q,
        a.rows,
        a.qLength,
        a.dk,
        a.dv,
        a.scale,
        a.table,
        a.tableStart,
        a.pageSize,
        a.keyByte,
        a.valueByte,
        a.keyScales,
        a.valueScales,
        a.format,
        a.from,
        a.to,
        a.firstQueryPos,
        a.left,
        a.out,
        a.lse,
      );
    },
  };
}

export class WasmKernelOps extends CheckedKernelOps {
  constructor(kernels: KernelExports, arena: Arena) {
    super(asKernelOps(kernels), arena);
  }
}
