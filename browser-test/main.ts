/**
 * The page: runs every attnkit variant in the browser's main thread on the default backend and on
 * 'js', then flash with threads: 2 on the main thread (which may not block: the pool must run it
 * inline) and in a dedicated Worker (where the pool can start Web Workers), and writes a JSON
 * summary into <pre id="result"> for run.mjs.
 */
import { flashWorkModule } from '@attnkit/flash';
import {
  type Backend,
  defaultBackend,
  initKernels,
  registerWorkModule,
  startThreads,
  wasmFeatures,
  wasmUnavailableReason,
} from '@attnkit/kernels';
import { loadWorkModule } from '@attnkit/kernels/runtime';
import { type Check, flashThreadsCheck, probePool, SHAPE, variantChecks } from './checks.js';
import type { WorkerReport } from './worker.js';

interface Summary {
  userAgent: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  shape: typeof SHAPE;
  initKernels: boolean | null;
  defaultBackend: string | null;
  wasmUnavailableReason: string | null;
  wasmFeatures: unknown;
  mainThread: { flashWorkModule: string; startThreads: number | null; probe: unknown };
  worker: Omit<WorkerReport, 'checks'> | null;
  checks: Check[];
  error: string | null;
  finished: boolean;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function fact(name: string, thread: string, pass: boolean, limit: string, note: string): Check {
  return { name, thread, backend: '', threads: 1, maxAbs: null, limit, pass, note };
}

function inWorker(probeUrl: string): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'caller' });
    worker.onmessage = (event: MessageEvent<WorkerReport>) => {
      resolve(event.data);
      worker.terminate();
    };
    worker.onerror = (event) => reject(new Error(`dedicated worker failed: ${event.message}`));
    worker.postMessage({ probeUrl });
  });
}

async function run(summary: Summary): Promise<void> {
  const { checks } = summary;
  summary.initKernels = await initKernels();
  summary.defaultBackend = defaultBackend();
  summary.wasmUnavailableReason = wasmUnavailableReason() ?? null;
  summary.wasmFeatures = wasmFeatures();
  checks.push(
    fact(
      'default backend',
      'main',
      summary.defaultBackend === 'wasm',
      "'wasm'",
      `${summary.defaultBackend}${summary.wasmUnavailableReason ? ` (${summary.wasmUnavailableReason})` : ''}`,
    ),
  );
  const backends: Backend[] = defaultBackend() === 'js' ? ['js'] : [defaultBackend(), 'js'];
  for (const backend of backends) checks.push(...variantChecks(backend, 'main'));

  checks.push(
    fact(
      'crossOriginIsolated',
      'main',
      summary.crossOriginIsolated,
      'true (COOP + COEP)',
      `SharedArrayBuffer ${typeof SharedArrayBuffer === 'undefined' ? 'missing' : 'present'}`,
    ),
  );
  if (!summary.crossOriginIsolated) return;

  // Main thread: the pool may not block here, so threads: 2 must run inline (and still be right).
  try {
    registerWorkModule(flashWorkModule.url, flashWorkModule);
    summary.mainThread.flashWorkModule = `registered ${flashWorkModule.url}`;
  } catch (error) {
    summary.mainThread.flashWorkModule = `registerWorkModule(${flashWorkModule.url}) failed: ${describe(error)}`;
  }
  summary.mainThread.startThreads = await startThreads(2);
  checks.push(
    flashThreadsCheck('main', 2, `startThreads(2) -> ${summary.mainThread.startThreads} worker(s): inline`),
  );
  const probeUrl = new URL('probe-work.js', document.baseURI).href;
  try {
    await loadWorkModule(probeUrl);
    const counts = probePool(probeUrl, 8, 2);
    summary.mainThread.probe = counts;
    checks.push(
      fact(
        'pool probe, 8 items',
        'main',
        counts.caller === 8,
        'all 8 inline on the caller',
        `caller ran ${counts.caller}, pool worker ran ${counts.workers}, lost ${counts.missing}`,
      ),
    );
  } catch (error) {
    checks.push(fact('pool probe, 8 items', 'main', false, 'all 8 inline on the caller', describe(error)));
  }

  // A dedicated Worker: where a browser lets the pool block, so Web Workers really run items.
  const report = await inWorker(probeUrl);
  const { checks: workerChecks, ...rest } = report;
  summary.worker = rest;
  checks.push(...workerChecks);
  if (report.error) checks.push(fact('worker run', 'worker', false, 'no exception', report.error));
}

const summary: Summary = {
  userAgent: navigator.userAgent,
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  hardwareConcurrency: navigator.hardwareConcurrency,
  shape: SHAPE,
  initKernels: null,
  defaultBackend: null,
  wasmUnavailableReason: null,
  wasmFeatures: null,
  mainThread: { flashWorkModule: 'not tried', startThreads: null, probe: null },
  worker: null,
  checks: [],
  error: null,
  finished: false,
};

// Hold the load event until the result is written (see holdLoadEvent in vite.config.ts).
const runId = Math.random().toString(36).slice(2);
const hold = document.createElement('img');
hold.alt = '';
hold.hidden = true;
hold.src = `/__hold?id=${runId}`;
document.body.append(hold);

run(summary)
  .catch((error: unknown) => {
    summary.error = describe(error);
  })
  .finally(() => {
    summary.finished = true;
    const failed = summary.checks.filter((c) => !c.pass).length;
    document.getElementById('status')!.textContent =
      `${summary.checks.length - failed} passed, ${failed} failed${summary.error ? `, error: ${summary.error}` : ''}`;
    document.getElementById('result')!.textContent = JSON.stringify(summary, null, 2);
    fetch(`/__done?id=${runId}`).catch(() => undefined);
  });
