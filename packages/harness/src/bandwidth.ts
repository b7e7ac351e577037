/**
 * The streaming-bandwidth probe a decode run measures before its decode cases (docs/decoding.md):
 * a buffer larger than any cache of the suite (default 512 MiB, so no level of the CPU cache holds
 * it; on native in 2 MiB pages, as the paged cache's memory) read once per repeat by
 * bandwidth-work.ts's columnSums on 1 or more threads of kernels' pool,
 * best of the repeats in GB/s (10⁹ bytes per second). Decoding one token reads every visible key
 * and value once, so this is the ceiling a decode row's GB/s is measured against. It mirrors
 * kernels' measureSimdCeiling (the best of short runs is the machine's), for memory instead of FLOPs.
 *
 * The probe runs in a child process (bandwidth-child.ts): its buffer grows the engine's memory,
 * which never shrinks, and must not stay in the harness's process next to the caches.
 */

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { backendUnavailableReason, getEngine, registerWorkModule, threadsInfo } from '@attnkit/kernels';
import { NativeKernelOps, runParallel } from '@attnkit/kernels/runtime';
import { type BandwidthPayload, PROBE_COLUMNS, runItem } from './bandwidth-work.js';
import { childScriptPath, runChild } from './child.js';
import type { BandwidthProbe } from './results.js';
import { describeError } from './rows.js';
import type { HarnessBackend } from './suite-schema.js';

export interface ProbeOptions {
  /** Bytes streamed per repeat (default 512 MiB). */
  readonly bytes?: number;
  /** Items the buffer is cut into (default 32: the pool's threads claim them dynamically). */
  readonly items?: number;
  /** Timed repeats after one warm-up pass (default 8). */
  readonly repeats?: number;
}

export const DEFAULT_PROBE_BYTES = 512 * 2 ** 20;

/**
 * The work module's URL: the built file (pool workers import it; under vitest this module runs
 * from src/*.ts, so the URL points at dist/ like childScriptPath).
 */
export function bandwidthWorkUrl(): string {
  const here = fileURLToPath(import.meta.url);
  const directory = here.endsWith('.ts') ? join(dirname(dirname(here)), 'dist') : dirname(here);
  return pathToFileURL(join(directory, 'bandwidth-work.js')).href;
}

/**
 * Measures the streaming read on `backend` at each thread count, in this process. A thread count
 * the pool cannot reach (one core offered, no workers) is a skipped probe saying so.
 */
export function measureBandwidth(
  backend: HarnessBackend,
  threadCounts: readonly number[],
  options: ProbeOptions = {},
): BandwidthProbe[] {
  const items = options.items ?? 32;
  const repeats = options.repeats ?? 8;
  const unit = items * PROBE_COLUMNS;
  const floats = Math.max(unit, Math.floor((options.bytes ?? DEFAULT_PROBE_BYTES) / 4 / unit) * unit);
  const bytes = floats * 4;
  const skipped = (threads: number, reason: string): BandwidthProbe => ({
    threads,
    backend,
    status: 'skipped',
    reason,
    bytes,
    gbPerSecond: null,
    samples: [],
  });
  const unavailable = backendUnavailableReason(backend);
  if (unavailable)
    return threadCounts.map((threads) => skipped(threads, `backend ${backend} unavailable: ${unavailable}`));
  const url = bandwidthWorkUrl();
  registerWorkModule(url, { runItem });
  const engine = getEngine(backend);
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const x = arena.alloc(floats);
    const out = arena.alloc(items * PROBE_COLUMNS);
    // On native, the buffer lies in 2 MiB pages where the kernel allows, as the paged KV cache's
    // memory does (PagedKVStore advises its engine's memory): the ceiling a decode row is measured
    // against must not pay a TLB miss every 4 KiB that the row itself does not.
    if (engine.ops instanceof NativeKernelOps) engine.ops.adviseHugePages(4 * (out + items * PROBE_COLUMNS));
    // Written, not just allocated: untouched pages all map the one zero page, which caches would serve.
    const heap = arena.heap;
    for (let i = 0; i < floats; i += 4096) heap.fill(1 + (i % 7), x + i, Math.min(x + floats, x + i + 4096));
    const payload: BandwidthPayload = { x, chunkFloats: floats / items, out };
    return threadCounts.map((threads) => {
      try {
        runParallel(url, payload, items, threads, { backend }); // warm-up: workers started, pages mapped
        const used = threadsInfo().lastJob?.threads ?? 1;
        if (used !== threads)
          return skipped(threads, `the pool ran on ${used} thread(s) when asked for ${threads}`);
        const samples: number[] = [];
        for (let r = 0; r < repeats; r++) {
          const start = performance.now();
          runParallel(url, payload, items, threads, { backend });
          samples.push(bytes / ((performance.now() - start) * 1e6));
        }
        return {
          threads,
          backend,
          status: 'ok' as const,
          bytes,
          gbPerSecond: Math.max(...samples),
          samples,
        };
      } catch (error) {
        return skipped(threads, `probe failed: ${describeError(error)}`);
      }
    });
  } finally {
    arena.release(mark);
  }
}

export interface ProbeRequest {
  readonly backends: readonly HarnessBackend[];
  readonly threads: readonly number[];
  readonly options: ProbeOptions;
}

/** The probe for every backend and thread count, in a child process; a failed child gives skipped probes. */
export async function probeInChild(request: ProbeRequest, timeoutMs: number): Promise<BandwidthProbe[]> {
  const outcome = await runChild<BandwidthProbe[]>(
    childScriptPath('bandwidth-child'),
    request,
    timeoutMs,
    [],
  );
  if (outcome.ok) return outcome.value;
  const bytes = request.options.bytes ?? DEFAULT_PROBE_BYTES;
  return request.backends.flatMap((backend) =>
    request.threads.map((threads) => ({
      threads,
      backend,
      status: 'skipped' as const,
      reason: `probe child failed: ${outcome.reason}`,
      bytes,
      gbPerSecond: null,
      samples: [],
    })),
  );
}
