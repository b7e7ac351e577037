/**
 * The worker pool: runs the items of a job on the caller thread plus up to `threads - 1` workers
 * sharing the engine's WebAssembly.Memory, synchronously (variants call it from forward()).
 *
 * - Workers start lazily on the first job that wants them (70–165 ms each here), stay warm, and are
 *   unref'd so they never keep a process alive. `startThreads(n)` starts them ahead of time.
 * - Policy (setThreadPolicy, threadsInfo): a job runs on at most `maxThreads` threads, the caller
 *   included (default max(2, the platform's parallelism)); a larger `threads` is clamped, which
 *   changes no result (items write disjoint outputs). Workers that ran no job for `idleMs`
 *   (default 30 s) are terminated by an unref'd timer and the next job starts them again.
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
      backend: z.enum(['native', 'wasm', 'js']).optional(),
      workerArenaBytes: z.number().int().positive().optional(),
    })
    .optional(),
});

const RUN_PARALLEL_EXPECTED: Record<string, string> = {
  workModuleUrl: 'the URL of an ES module exporting runItem(engine, payload, item)',
  items: 'a non-negative integer number of items',
  threads: 'an integer number of threads in [1, 64]',
  'options.backend': "'native', 'wasm' or 'js'",
  'options.workerArenaBytes': 'a positive integer number of bytes',
};

/** Default time without a job after which the pool's workers are released. */
export const DEFAULT_IDLE_MS = 30_000;

/** How many threads the pool may use and how long idle workers stay (see setThreadPolicy). */
export interface ThreadPolicy {
  /**
   * Most threads a job runs on, the caller included; a larger `threads` is clamped to it.
   * Default max(2, availableParallelism()) in Node, max(2, navigator.hardwareConcurrency) elsewhere,
   * at most 64. 2 at least: one worker costs little even on one core, and threads: 2 keeps meaning
   * "the caller plus a worker" on every machine.
   */
  maxThreads: number;
  /** Milliseconds without a job after which every worker is terminated (default 30 000; Infinity: never). */
  idleMs: number;
}

/** What the pool is doing now: the policy in force and the workers it holds. */
export interface ThreadsInfo extends ThreadPolicy {
  /** The parallelism the platform reports (1 when it reports none). */
  hardwareThreads: number;
  /** Workers started and not released (nor dead); each holds its own kernels instance. */
  workers: number;
  /** The last job's `threads` argument and the threads it ran on (caller included); undefined before any. */
  lastJob: { requested: number; threads: number } | undefined;
}

const policySchema = z
  .object({
    maxThreads: z.number().int().min(1).max(64).optional(),
    idleMs: z.number().min(0).or(z.literal(Number.POSITIVE_INFINITY)).optional(),
  })
  .strict();

const POLICY_EXPECTED: Record<string, string> = {
  maxThreads: 'an integer number of threads in [1, 64], or undefined for the default',
  idleMs: 'a number of milliseconds >= 0, Infinity (never release), or undefined for the default',
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
let maxThreadsSet: number | undefined;
let idleMs = DEFAULT_IDLE_MS;
/** Bumped whenever every worker is released, so a late start-up of a released worker counts nowhere. */
let epoch = 0;
/** Date.now() of the last job or startThreads: one store per job, the idle timer reads it. */
let lastUsed = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;
/** startThreads calls waiting for workers: the idle timer must not release those. */
let starting = 0;
let lastRequested = 0;
let lastThreads = 0;

interface NodeProcess {
  getBuiltinModule?: (id: string) => unknown;
}

function nodeBuiltin<T>(id: string): T | undefined {
  const process = (globalThis as { process?: NodeProcess }).process;
  return process?.getBuiltinModule?.(id) as T | undefined;
}

/** The parallelism the platform reports: availableParallelism() in Node, hardwareConcurrency elsewhere. */
function hardwareThreads(): number {
  const os = nodeBuiltin<{ availableParallelism?: () => number; cpus: () => unknown[] }>('node:os');
  const reported = os
    ? (os.availableParallelism?.() ?? os.cpus().length)
    : (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Number.isInteger(reported) && (reported as number) >= 1 ? (reported as number) : 1;
}

/** The most threads (caller included) a job or startThreads uses now. */
export function maxThreads(): number {
  return maxThreadsSet ?? Math.min(64, Math.max(2, hardwareThreads()));
}

/**
 * Sets the pool's policy; a field given as undefined returns to its default, an absent one is kept.
 * Lowering `maxThreads` applies from the next job (workers above it idle until released); a new
 * `idleMs` re-arms the idle timer. Returns the policy in force.
 */
export function setThreadPolicy(
  policy: Partial<{ [K in keyof ThreadPolicy]: ThreadPolicy[K] | undefined }>,
): ThreadPolicy {
  const input = typeof policy === 'object' && policy !== null ? policy : undefined;
  if (!input) {
    throw new AttentionInputError('policy', 'an object { maxThreads?, idleMs? }', describeValue(policy));
  }
  const parsed = policySchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.code === 'unrecognized_keys' ? issue.keys[0]! : String(issue.path[0]);
    throw new AttentionInputError(
      `policy.${key}`,
      POLICY_EXPECTED[key] ?? 'only maxThreads and idleMs',
      issue.code === 'unrecognized_keys'
        ? `unknown field '${key}'`
        : describeValue((input as Record<string, unknown>)[key]),
    );
  }
  if ('maxThreads' in input) maxThreadsSet = parsed.data.maxThreads;
  if ('idleMs' in input) {
    idleMs = parsed.data.idleMs ?? DEFAULT_IDLE_MS;
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    idleTimer = undefined;
    armIdleTimer();
  }
  return { maxThreads: maxThreads(), idleMs };
}

/** The policy in force, the platform's parallelism, the workers held now, and the last job's thread count. */
export function threadsInfo(): ThreadsInfo {
  return {
    maxThreads: maxThreads(),
    idleMs,
    hardwareThreads: hardwareThreads(),
    workers: workers.filter((worker) => worker.dead === undefined).length,
    lastJob: lastRequested === 0 ? undefined : { requested: lastRequested, threads: lastThreads },
  };
}

/** Arms the idle timer if workers exist and none is armed; `delay` defaults to the whole idle time. */
function armIdleTimer(delay = idleMs): void {
  if (idleTimer !== undefined || workers.length === 0 || !Number.isFinite(idleMs)) return;
  // timers fire at once beyond 2^31 - 1 ms; onIdle re-arms until the whole idle time has passed
  idleTimer = setTimeout(onIdle, Math.min(delay, 2 ** 31 - 1));
  // never keep Node alive for a release (browsers' timers are plain numbers)
  (idleTimer as { unref?: () => void }).unref?.();
}

function onIdle(): void {
  idleTimer = undefined;
  // A job cannot be running here: jobs are synchronous on this thread, and the timer runs on it too.
  const idleFor = Date.now() - lastUsed;
  if (starting > 0 || idleFor < idleMs) {
    armIdleTimer(starting > 0 ? idleMs : idleMs - idleFor);
    return;
  }
  void releaseWorkers().catch(() => undefined);
}

/** Terminates every worker and moves to a new epoch; the next job or startThreads starts fresh ones. */
function releaseWorkers(): Promise<unknown> {
  if (idleTimer !== undefined) clearTimeout(idleTimer);
  idleTimer = undefined;
  const stopping = workers.splice(0, workers.length);
  epoch = (epoch + 1) & 0x7fff;
  control?.resetReady(epoch);
  return Promise.all(stopping.map((worker) => worker.terminate()));
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
      epoch,
    };
    const worker = spawnWorker(init);
    if (!worker) break;
    workers.push(worker);
  }
  armIdleTimer();
  return workers.filter((worker) => worker.dead === undefined).slice(0, count);
}

/**
 * Starts the workers a `threads`-thread job needs (at most maxThreads() − 1: the caller is a thread
 * too) and resolves once they are running (otherwise the first jobs start them and run on the caller
 * until they arrive). Browsers: call it before blocking jobs in a worker context. Resolves to the
 * number of workers running.
 */
export async function startThreads(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new AttentionInputError('threads', RUN_PARALLEL_EXPECTED.threads!, describeValue(threads));
  }
  lastUsed = Date.now();
  ensureWorkers(Math.min(threads, maxThreads()) - 1);
  if (!control) return 0;
  const ready = control;
  starting++;
  try {
    const deadline = Date.now() + 30_000;
    // Wait for the live workers only: one that died (failed to load, crashed) will never be ready.
    const live = () => workers.filter((worker) => worker.dead === undefined);
    while (ready.readyCount(epoch) < live().length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const running = live();
    const dead = workers.find((worker) => worker.dead !== undefined);
    if (running.length === 0 && dead) {
      throw new Error(`startThreads: no worker started (${dead.dead}); jobs run on the calling thread`);
    }
    return Math.min(running.length, ready.readyCount(epoch));
  } finally {
    starting--;
    lastUsed = Date.now();
  }
}

/** Terminates every worker (tests, shutdown). The next job starts fresh ones. */
export async function stopThreads(): Promise<void> {
  await releaseWorkers();
}

/** Runs every item on the caller, in order (the one-thread path). */
function runInline(module: WorkModule, backend: Backend, payload: unknown, items: number): void {
  const engine = getEngine(backend);
  for (let item = 0; item < items; item++) module.runItem(engine, payload, item);
}

/**
 * Runs `runItem(engine, payload, item)` from the work module at `workModuleUrl` for every item in
 * [0, items), on up to min(threads, maxThreads()) threads (the caller plus workers), and returns when
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
  runParallelWith(workModuleUrl, payload, items, threads, options, undefined);
}

/**
 * runParallel, and `callerFirst` run once on the caller thread before it claims items: once the
 * workers have their job (they start on the items meanwhile), or first thing on the one-thread path.
 * For caller-only work the job does not need, such as first touching the pages of the call's fresh
 * output array (kernels' own variants: define-variant.ts), which is then no longer serial after the
 * job: the workers take more items while the caller does it.
 */
export function runParallelWith(
  workModuleUrl: string,
  payload: unknown,
  items: number,
  threads: number,
  options: RunParallelOptions,
  callerFirst: (() => void) | undefined,
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
  if (items === 0) {
    callerFirst?.();
    return;
  }
  const module = workModuleSync(workModuleUrl);
  const backend = options.backend ?? defaultBackend();
  if (!jobRunning) {
    // a call nested in a job runs inline and must not overwrite what the job records
    lastRequested = threads;
    lastThreads = 1;
  }
  const helpers = Math.min(threads, maxThreads(), items) - 1;
  if (helpers <= 0 || jobRunning || inWorkerJob()) {
    callerFirst?.();
    runInline(module, backend, payload, items);
    return;
  }
  const available = ensureWorkers(helpers);
  if (available.length === 0 || !control) {
    callerFirst?.();
    runInline(module, backend, payload, items);
    return;
  }
  lastThreads = available.length + 1;
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
    try {
      callerFirst?.();
    } catch (error) {
      if (jobControl.fail(ERROR_IN_CALLER, -1, describeError(error))) callerError = error;
    }
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
    lastUsed = Date.now();
    arena.release(mark);
  }
}
