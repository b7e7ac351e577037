/**
 * The 128-bit SIMD ceiling of this machine, measured: the kernels module's register-only loop of
 * twelve independent f32x4 mul+add chains (assembly/ceiling.ts), the throughput no f32x4 code can
 * beat on one thread. Benchmarks report GFLOP/s next to it. Time ~iterations · 12 · 2 SIMD ops; no memory.
 */
import { instantiateKernels, kernelsModule, SIMD_CEILING_FLOPS_PER_ITERATION } from './wasm-module.js';

/**
 * Best GFLOP/s of `repeats` runs of `iterations` loop iterations (96 FLOPs each, ~1 ms a run: short
 * runs are rarely preempted, so the best one is the machine's) on the calling thread. Throws where
 * the wasm kernels are unavailable.
 */
export function measureSimdCeiling(iterations = 500_000, repeats = 40): number {
  const module = kernelsModule(false);
  if (!module) throw new Error('measureSimdCeiling: the wasm kernels are unavailable here');
  const kernels = instantiateKernels(module, new WebAssembly.Memory({ initial: 1, maximum: 65536 }));
  kernels.simdCeiling(iterations / 10); // warm-up: tier-up to optimised code
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    kernels.simdCeiling(iterations);
    best = Math.min(best, performance.now() - start);
  }
  return (iterations * SIMD_CEILING_FLOPS_PER_ITERATION) / (best * 1e6);
}
