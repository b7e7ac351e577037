/**
 * The run's FMA-throughput ceilings (suites with a ceilingProbe), measured in this process before
 * the first case, on the main thread, while nothing else of the run is computing: for native, every
 * CPU path this machine runs (kernels' measureNativeCeiling: twelve register-held vector FMA chains,
 * packages/native/src/ceiling.cc), marking the one native calls dispatch to; for wasm, the 128-bit
 * SIMD ceiling (measureSimdCeiling). A backend that did not load is a skipped entry with the reason.
 * The js backend has no vector ceiling (scalar code): nothing is recorded for it.
 */
import {
  backendUnavailableReason,
  measureNativeCeiling,
  measureSimdCeiling,
  nativePathInfo,
} from '@attnkit/kernels';
import type { CeilingProbe } from './results.js';
import { describeError } from './rows.js';
import type { HarnessBackend } from './suite-schema.js';

export interface CeilingPlan {
  readonly iterations: number;
  readonly repeats: number;
}

function skipped(backend: HarnessBackend, path: string, reason: string): CeilingProbe {
  return { backend, path, selected: true, status: 'skipped', reason, gflops: null };
}

function measured(
  backend: HarnessBackend,
  path: string,
  selected: boolean,
  measure: () => number,
): CeilingProbe {
  try {
    return { backend, path, selected, status: 'ok', gflops: measure() };
  } catch (error) {
    return { ...skipped(backend, path, describeError(error)), selected };
  }
}

export function measureCeilings(backends: readonly HarnessBackend[], plan: CeilingPlan): CeilingProbe[] {
  const probes: CeilingProbe[] = [];
  for (const backend of backends) {
    if (backend === 'js') continue;
    const why = backendUnavailableReason(backend);
    if (backend === 'native') {
      const info = why === undefined ? nativePathInfo() : undefined;
      if (!info) {
        probes.push(skipped('native', 'none', why ?? 'no native path information'));
        continue;
      }
      for (const path of info.paths) {
        probes.push(
          measured('native', path, path === info.path, () =>
            measureNativeCeiling(path, plan.iterations, plan.repeats),
          ),
        );
      }
    } else if (why !== undefined) {
      probes.push(skipped('wasm', 'simd128', why));
    } else {
      probes.push(measured('wasm', 'simd128', true, () => measureSimdCeiling(plan.iterations, plan.repeats)));
    }
  }
  return probes;
}
