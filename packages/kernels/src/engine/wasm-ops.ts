/** KernelOps over the AssemblyScript SIMD kernels (assembly/), with the arena checks of CheckedKernelOps. */
import type { Arena } from './arena.js';
import { CheckedKernelOps } from './checked-ops.js';
import { JsKernelOps } from './js-ops.js';
import type { KernelOps } from './kernel-ops.js';
import type { KernelExports } from './wasm-module.js';

/** The score-tile primitives the wasm module does not export yet run as the JS kernels on the same memory. */
const SCORE_TILE_OPS = ['maskRanges', 'addTile', 'addAlibi', 'softcapScores'] as const;

export class WasmKernelOps extends CheckedKernelOps {
  constructor(kernels: KernelExports, arena: Arena) {
    const js = new JsKernelOps(arena);
    const complete = Object.create(kernels) as Record<string, unknown>;
    for (const name of SCORE_TILE_OPS) {
      if (typeof (kernels as unknown as Record<string, unknown>)[name] !== 'function') {
        complete[name] = js[name].bind(js);
      }
    }
    super(complete as unknown as KernelOps, arena);
  }
}
