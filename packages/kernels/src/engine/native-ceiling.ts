/**
 * The FMA-throughput ceiling of one core on a native CPU path, measured: @attnkit/native's
 * `peakGflops` times twelve independent vector multiply-add chains held in registers
 * (packages/native/src/ceiling.cc), the throughput no code on that path can beat on one thread.
 * The native twin of measureSimdCeiling (simd-ceiling.ts): benchmarks report native GFLOP/s next to
 * it. Time ~repeats · iterations · 12 vector FMAs; no memory.
 */
import { type NativePath, nativeAddon, nativeUnavailableReason } from './native-ops.js';

/**
 * Best GFLOP/s of `repeats` runs of `iterations` loop iterations (a few ms a run: short runs are
 * rarely preempted, so the best one is the core's) on the calling thread, on `path` (default: the
 * path native calls run on now). Throws where the native backend is unavailable (with the reason)
 * or the CPU cannot run `path`.
 */
export function measureNativeCeiling(path?: NativePath, iterations = 1_000_000, repeats = 40): number {
  const addon = nativeAddon();
  if (!addon) {
    throw new Error(`measureNativeCeiling: the native backend is unavailable (${nativeUnavailableReason()})`);
  }
  return addon.peakGflops(path, iterations, repeats);
}
