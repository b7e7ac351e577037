/**
 * A dedicated Worker: the context where a browser allows Atomics.wait, so the pool can really run
 * threads. It runs the variants once more, then flash with threads: 2 and the probe work module.
 * It watches the Web Workers the pool spawns (their URL and any error event) to say why a pool
 * worker did not run.
 */
import { flashWorkModule } from '@attnkit/flash';
import {
  defaultBackend,
  initKernels,
  registerWorkModule,
  setWorkerFactory,
  startThreads,
  wasmUnavailableReason,
} from '@attnkit/kernels';
import { loadWorkModule } from '@attnkit/kernels/runtime';
import { type Check, flashThreadsCheck, flashThreadsSpeed, probePool, variantChecks } from './checks.js';

export interface WorkerReport {
  initKernels: boolean | null;
  defaultBackend: string | null;
  wasmUnavailableReason: string | null;
  flashWorkModule: string;
  startThreads: { resolvedTo: number; ms: number } | null;
  /** What happened to the Web Workers the pool spawned from this worker. */
  poolWorkers: string[];
  probe: { caller: number; workers: number; missing: number } | null;
  speed: { ms1: number | null; ms2: number | null } | null;
  checks: Check[];
  error: string | null;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const poolWorkers: string[] = [];

/** Records every Worker the pool creates here, and its error events (e.g. a module that fails to load). */
function watchWorkers(): void {
  const scope = globalThis as unknown as { Worker: typeof Worker };
  const Native = scope.Worker;
  scope.Worker = class WatchedWorker extends Native {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      const text = String(url);
      const index = poolWorkers.length;
      poolWorkers.push(
        `spawned ${text.length > 120 ? `${text.slice(0, 120)}… (${text.length} chars)` : text}`,
      );
      this.addEventListener('error', (event) => {
        const message = (event as ErrorEvent).message;
        poolWorkers[index] +=
          `; error event: ${message || '(no message: the module script or one of its imports failed to load)'}`;
      });
    }
  };
}

async function run(probeUrl: string): Promise<WorkerReport> {
  const report: WorkerReport = {
    initKernels: null,
    defaultBackend: null,
    wasmUnavailableReason: null,
    flashWorkModule: 'not tried',
    startThreads: null,
    poolWorkers,
    probe: null,
    speed: null,
    checks: [],
    error: null,
  };
  try {
    watchWorkers();
    report.initKernels = await initKernels();
    report.defaultBackend = defaultBackend();
    report.wasmUnavailableReason = wasmUnavailableReason() ?? null;
    report.checks.push(...variantChecks(defaultBackend(), 'worker'));
    // The documented set-up for threads in a bundled app (kernels README): the pool starts our own
    // worker (pool-worker.ts), where flash's work module is registered; this thread registers it too.
    setWorkerFactory(() => new Worker(new URL('./pool-worker.ts', import.meta.url), { type: 'module' }));
    registerWorkModule(flashWorkModule.url, flashWorkModule);
    report.flashWorkModule = `registered ${flashWorkModule.url} here and in pool-worker.ts`;
    const start = performance.now();
    const resolvedTo = await startThreads(2);
    report.startThreads = { resolvedTo, ms: Math.round(performance.now() - start) };
    report.checks.push(
      flashThreadsCheck('worker', 2, `startThreads(2) -> ${resolvedTo} after ${report.startThreads.ms} ms`),
    );
    const speed = flashThreadsSpeed('worker', 2);
    report.speed = { ms1: speed.ms1, ms2: speed.msN };
    report.checks.push(speed.check);
    const base = { name: 'pool probe, 32 items', thread: 'worker', backend: 'default', threads: 2 };
    try {
      await loadWorkModule(probeUrl);
      const counts = probePool(probeUrl, 32, 2);
      report.probe = counts;
      report.checks.push({
        ...base,
        maxAbs: null,
        limit: 'pool worker ran >= 1 item, none lost',
        pass: counts.workers > 0 && counts.missing === 0,
        note: `caller ran ${counts.caller}, pool worker ran ${counts.workers}, lost ${counts.missing}`,
      });
    } catch (error) {
      report.checks.push({ ...base, maxAbs: null, limit: '', pass: false, note: describe(error) });
    }
  } catch (error) {
    report.error = describe(error);
  }
  return report;
}

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<{ probeUrl: string }>) => void) | null;
  postMessage(message: unknown): void;
};
scope.onmessage = (event) => {
  run(event.data.probeUrl).then((report) => scope.postMessage(report));
};
