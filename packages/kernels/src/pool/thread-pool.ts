/**
 * The worker pool: runs the items of a job on the caller thread plus up to `threads - 1` workers
 * sharing the engine's WebAssembly.Memory, synchronously (variants call it from forward()).
 *
 * - Workers start lazily on the first job that wants them (70–165 ms each here), stay warm, and are
 *   unref'd so they never keep a process alive. `startThreads(n)` starts them ahead of time.
 * - Scheduling is dynamic: every thread, the caller included, claims the next item from a shared
 *   atomic counter (see thread-protocol.ts). The caller then blocks in Atomics.wait until every
 *   item is done; a failure anywhere is rethrown in the caller, and the pool stays usable.
 * - Memory: arena allocations the caller made before the call are visible to every worker. For
 *   the job, the pool carves one region per participating worker from the caller's arena
 *   (`workerArenaBytes`, default 64 MiB of address space, 1 GiB at most over all workers;
 *   untouched pages cost no RAM), released when the call returns. A worker's `engine.arena`
 *   allocates only inside its region (emptied before each item) and may read/write the caller's
 *   allocations; it never touches the caller's arena bookkeeping. Exceeding the region is an
 *   ArenaError naming the limit.
 * - One-thread path: threads = 1, a single item, no shared memory, no way to block (a browser
 *   main thread), no worker support, or a call nested inside another job: items run inline on
 *   the caller, in order.
 * The work module is loaded on the caller synchronously: registered with `registerWorkModule`,
 * or, in Node (>= 20.19, where require() loads ES modules), loaded by URL on first use.
 * Cost per job: one structured clone and one message per worker, one compare-exchange per item
 * (a round trip to a warm worker is 13–27 µs here: give each item milliseconds of work, not a
 * tile); memory: one region per participating worker for the duration of the call.
 */
import { AttentionInputError, describeValue } from '@attnkit/core';
import { z } from 'zod';
import {
  type Backend,
  CONTROL_BLOCK_BYTES,
  defaultBackend,
  engineMemory,
  getEngine,
  INSTANCE_SCRATCH_BYTES,
  inWorkerJob,
} from '../engine/engine.js';
import { kernelsModule } from '../engine/wasm-module.js';
import {
  ControlBlock,
  describeError,
  ERROR_IN_CALLER,
  ERROR_IN_WORKER,
  type JobMessage,
  READY_INDEX,
  type WorkerInit,
  type WorkModule,
} from './thread-protocol.js';

export type { WorkModule } from './thread-protocol.js';

/** Default address space reserved per worker per job for its arena. */
export const DEFAULT_WORKER_ARENA_BYTES = 64 * 2 ** 20;

export interface RunParallelOptions {
  /** The backend the items compute with, on every thread (default: defaultBackend()). */
  backend?: Backend;
  /** Bytes each worker's arena may allocate during the job (default 64 MiB, at most 1 GiB over all workers). */
  workerArenaBytes?: number;
}

const runParallelSchema = z.object({
  workModuleUrl: z.string().min(1),
  items: z.number().int().min(0),
  threads: z.number().int().min(1).max(64),
  options: z
    .object({
      backend: z.enum(['wasm', 'js']).optional(),
      workerArenaBytes: z.number().int().positive().optional(),
    })
    .optional(),
});

const RUN_PARALLEL_EXPECTED: Record<string, string> = {
  workModuleUrl: 'the URL of an ES module exporting runItem(engine, payload, item)',
  items: 'a non-negative integer number of items',
  threads: 'an integer number of threads in [1, 64]',
  'options.backend': "'wasm' or 'js'",
  'options.workerArenaBytes': 'a positive integer number of bytes',
};

interface PoolWorker {
  post(message: JobMessage): void;
  terminate(): unknown;
  /** Set when the worker died (error or exit): it gets no more jobs. */
  dead: string | undefined;
}

const workModules = new Map<string, WorkModule>();
const workers: PoolWorker[] = [];
let control: ControlBlock | undefined;
let generation = 0;
let jobRunning = false;
let blockingAllowed: boolean | undefined;

interface NodeProcess {
  getBuiltinModule?: (id: string) => unknown;
}

function nodeBuiltin<T>(id: string): T | undefined {
  const process = (globalThis as { process?: NodeProcess }).process;
  return process?.getBuiltinModule?.(id) as T | undefined;
}

function asWorkModule(url: string, loaded: unknown): WorkModule {
  if (typeof (loaded as Partial<WorkModule> | undefined)?.runItem !== 'function') {
    throw new TypeError(`runParallel: work module ${url} does not export runItem(engine, payload, item)`);
  }
  return loaded as WorkModule;
}

function checkUrl(url: unknown): void {
  if (typeof url !== 'string' || url.length === 0) {
    throw new AttentionInputError('url', RUN_PARALLEL_EXPECTED.workModuleUrl!, describeValue(url));
  }
}

let workerFactory: (() => Worker) | undefined;

/**
 * Browsers, bundled apps: makes the pool start its Web Workers with `factory` instead of the
 * package's own web-worker.js. A bundler cannot follow a work module's `import(url)` inside the
 * pool's worker, so an app that wants threads gives the pool a worker of its own that imports
 * '@attnkit/kernels/web-worker' and registers the variants' work modules there (kernels README,
 * "Threads in a bundled browser app"). `undefined` restores the default.
 */
export function setWorkerFactory(factory: (() => Worker) | undefined): void {
  if (factory !== undefined && typeof factory !== 'function') {
    throw new AttentionInputError(
      'factory',
      'a function returning a module Worker, or undefined',
      describeValue(factory),
    );
  }
  workerFactory = factory;
}

/** The work module registered for `url` on this thread, if any (workers look here before importing). */
export function registeredWorkModule(url: string): WorkModule | undefined {
  return workModules.get(url);
}

/** Makes `module` the work module for `url` on this thread (needed where sync loading is impossible, e.g. browsers). */
export function registerWorkModule(url: string, module: WorkModule): void {
  checkUrl(url);
  workModules.set(url, asWorkModule(url, module));
}

/** Imports and registers a work module asynchronously (browsers: call before the first runParallel). */
export async function loadWorkModule(url: string): Promise<WorkModule> {
  checkUrl(url);
  const module = asWorkModule(url, await import(/* @vite-ignore */ url));
  workModules.set(url, module);
  return module;
}

function workModuleSync(url: string): WorkModule {
  const cached = workModules.get(url);
  if (cached) return cached;
  const moduleApi = nodeBuiltin<{ createRequire(from: string): (id: string) => unknown }>('node:module');
  const urlApi = nodeBuiltin<{ fileURLToPath(url: string): string }>('node:url');
  if (!moduleApi || !urlApi || !url.startsWith('file:')) {
    throw new Error(
      `runParallel: work module ${url} is not loaded on this thread; ` +
        'call `await loadWorkModule(url)` or `registerWorkModule(url, module)` first',
    );
  }
  let loaded: unknown;
  try {
    loaded = moduleApi.createRequire(import.meta.url)(urlApi.fileURLToPath(url));
  } catch (error) {
    throw new Error(
      `runParallel: cannot load work module ${url} synchronously (${String(error)}); ` +
        'Node >= 20.19 loads ES modules with require(), or call `await loadWorkModule(url)` first',
    );
  }
  const module = asWorkModule(url, loaded);
  workModules.set(url, module);
  return module;
}

/** True where this thread may block in Atomics.wait (not a browser main thread). */
function canBlock(): boolean {
  if (blockingAllowed === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockingAllowed = true;
    } catch {
      blockingAllowed = false;
    }
  }
  return blockingAllowed;
}

interface NodeWorker {
  postMessage(message: unknown): void;
  terminate(): Promise<number>;
  unref(): void;
  on(event: 'error' | 'exit', listener: (value: unknown) => void): void;
}

function spawnWorker(init: WorkerInit): PoolWorker | undefined {
  const threadsApi = nodeBuiltin<{
    Worker: new (url: URL, options: { workerData: unknown }) => NodeWorker;
  }>('node:worker_threads');
  if (threadsApi) {
    const worker = new threadsApi.Worker(new URL('./node-worker.js', import.meta.url), { workerData: init });
    worker.unref();
    const entry: PoolWorker = {
      post: (message) => worker.postMessage(message),
      terminate: () => worker.terminate(),
      dead: undefined,
    };
    worker.on('error', (error) => {
      entry.dead = `worker ${init.workerIndex} failed: ${describeError(error)}`;
    });
    worker.on('exit', (code) => {
      entry.dead ??= `worker ${init.workerIndex} exited with code ${String(code)}`;
    });
    return entry;
  }
  if (workerFactory || typeof Worker === 'function') {
    // Written out literally (not through a renamed constructor) so that bundlers (vite, webpack)
    // recognise `new Worker(new URL(...), …)` and bundle web-worker.js with its imports.
    const worker = workerFactory
      ? workerFactory()
      : new Worker(new URL('./web-worker.js', import.meta.url), { type: 'module' });
    const entry: PoolWorker = {
      post: (message) => worker.postMessage(message),
      terminate: () => worker.terminate(),
      dead: undefined,
    };
    worker.onerror = (event) => {
      entry.dead = `worker ${init.workerIndex} failed: ${event.message}`;
    };
    worker.postMessage(init);
    return entry;
  }
  return undefined;
}

/** Workers able to take jobs, starting new ones up to `count`. Empty when threads are unavailable. */
function ensureWorkers(count: number): PoolWorker[] {
  const memory = engineMemory();
  if (!memory.shared || !canBlock()) return [];
  control ??= new ControlBlock(memory.memory.buffer, memory.controlBytes, CONTROL_BLOCK_BYTES);
  while (workers.length < count) {
    const init: WorkerInit = {
      type: 'init',
      memory: memory.memory,
      module: kernelsModule(true),
      controlBytes: memory.controlBytes,
      controlSize: CONTROL_BLOCK_BYTES,
      workerIndex: workers.length + 1,
    };
    const worker = spawnWorker(init);
    if (!worker) break;
    workers.push(worker);
  }
  return workers.filter((worker) => worker.dead === undefined).slice(0, count);
}

/**
 * Starts the workers a `threads`-thread job needs and resolves once they are running (otherwise
 * the first jobs start them and run on the caller until they arrive). Browsers: call it before
 * blocking jobs in a worker context. Resolves to the number of workers running.
 */
export async function startThreads(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new AttentionInputError('threads', RUN_PARALLEL_EXPECTED.threads!, describeValue(threads));
  }
  ensureWorkers(threads - 1);
  if (!control) return 0;
  const deadline = Date.now() + 30_000;
  // Wait for the live workers only: one that died (failed to load, crashed) will never be ready.
  const live = () => workers.filter((worker) => worker.dead === undefined);
  while (control.readyCount() < live().length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const running = live();
  const dead = workers.find((worker) => worker.dead !== undefined);
  if (running.length === 0 && dead) {
    throw new Error(`startThreads: no worker started (${dead.dead}); jobs run on the calling thread`);
  }
  return Math.min(running.length, control.readyCount());
}

/** Terminates every worker (tests, shutdown). The next job starts fresh ones. */
export async function stopThreads(): Promise<void> {
  const stopping = workers.splice(0, workers.length);
  await Promise.all(stopping.map((worker) => worker.terminate()));
  if (control) Atomics.store(control.words, READY_INDEX, 0);
}

/** Runs every item on the caller, in order (the one-thread path). */
function runInline(module: WorkModule, backend: Backend, payload: unknown, items: number): void {
  const engine = getEngine(backend);
  for (let item = 0; item < items; item++) module.runItem(engine, payload, item);
}

/**
 * Runs `runItem(engine, payload, item)` from the work module at `workModuleUrl` for every item in
 * [0, items), on up to `threads` threads (the caller plus threads - 1 workers), and returns when
 * all are done. `payload` is structured-cloned to each worker: keep it to plain data (offsets,
 * sizes). Throws the first failure (a worker's as an Error carrying its name, message and stack).
 */
export function runParallel(
  workModuleUrl: string,
  payload: unknown,
  items: number,
  threads: number,
  options: RunParallelOptions = {},
): void {
  const parsed = runParallelSchema.safeParse({ workModuleUrl, items, threads, options });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const argument = issue.path.join('.');
    const received = issue.path.reduce<unknown>(
      (value, key) => (value as Record<PropertyKey, unknown> | undefined)?.[key],
      { workModuleUrl, items, threads, options },
    );
    throw new AttentionInputError(
      argument,
      RUN_PARALLEL_EXPECTED[argument] ?? issue.message,
      describeValue(received),
      'See runParallel(workModuleUrl, payload, items, threads, options?) in the @attnkit/kernels README.',
    );
  }
  if (items === 0) return;
  const module = workModuleSync(workModuleUrl);
  const backend = options.backend ?? defaultBackend();
  const helpers = Math.min(threads, items) - 1;
  if (helpers <= 0 || jobRunning || inWorkerJob()) {
    runInline(module, backend, payload, items);
    return;
  }
  const available = ensureWorkers(helpers);
  if (available.length === 0 || !control) {
    runInline(module, backend, payload, items);
    return;
  }
  // Fail before anything is published if the payload cannot cross to a worker.
  structuredClone(payload);
  const engine = getEngine(backend);
  const { arena } = engine;
  // default: 64 MiB per worker, but at most 1 GiB of address space for all of them together
  const arenaBytes =
    options.workerArenaBytes ?? Math.min(DEFAULT_WORKER_ARENA_BYTES, Math.floor(2 ** 30 / available.length));
  const regionBytes = INSTANCE_SCRATCH_BYTES + Math.ceil(arenaBytes / 64) * 64;
  const mark = arena.mark();
  const jobControl = control;
  jobRunning = true;
  try {
    const regions = available.map(() => arena.alloc(regionBytes / 4));
    generation = (generation % 0x7fffffff) + 1;
    const jobGeneration = generation;
    jobControl.open(jobGeneration);
    available.forEach((worker, index) => {
      const start = regions[index]! * 4;
      worker.post({
        type: 'job',
        generation: jobGeneration,
        url: workModuleUrl,
        payload,
        items,
        backend,
        regionBytes: start,
        regionEndBytes: start + regionBytes,
        floorBytes: arena.floor * 4,
      });
    });
    let callerError: unknown;
    for (;;) {
      const item = jobControl.claim(jobGeneration, items);
      if (item < 0) break;
      if (!jobControl.aborted()) {
        try {
          module.runItem(engine, payload, item);
        } catch (error) {
          if (jobControl.fail(ERROR_IN_CALLER, item, describeError(error))) callerError = error;
        }
      }
      jobControl.finish(items);
    }
    jobControl.waitDone(items);
    const owner = jobControl.errorOwner();
    if (owner === ERROR_IN_CALLER) throw callerError;
    if (owner === ERROR_IN_WORKER) {
      throw new Error(
        `runParallel(${workModuleUrl}): item ${jobControl.errorItem()} failed in ${jobControl.errorText()}`,
      );
    }
  } finally {
    jobRunning = false;
    arena.release(mark);
  }
}
