/**
 * What a worker thread does with the pool's messages, independent of Node or the browser (the
 * bootstraps node-worker.ts and web-worker.ts only wire messages to it).
 *
 * Once: instantiate its own kernels instance over the shared memory. Per job: import the work
 * module (cached by URL), build the job's engines (an arena over the region the caller carved out
 * for this worker, its kernel scratch at the region's start), then claim items from the shared
 * counter until none is left, calling `runItem(engine, payload, item)`. A failure is written to the
 * control block (first wins) and the remaining items are skipped but counted, so the caller always
 * wakes. Jobs run one after another in arrival order.
 */
import { Arena } from '../engine/arena.js';
import { type Backend, type Engine, INSTANCE_SCRATCH_BYTES, setJobEngines } from '../engine/engine.js';
import { JsKernelOps } from '../engine/js-ops.js';
import { NativeKernelOps, nativeAddon } from '../engine/native-ops.js';
import { instantiateKernels, type KernelExports } from '../engine/wasm-module.js';
import { WasmKernelOps } from '../engine/wasm-ops.js';
import { registeredWorkModule } from './thread-pool.js';
import {
  ControlBlock,
  describeError,
  ERROR_IN_WORKER,
  type JobMessage,
  type WorkerInit,
  type WorkModule,
} from './thread-protocol.js';

export class WorkerRuntime {
  private readonly kernels: KernelExports | undefined;
  private readonly control: ControlBlock;
  private readonly modules = new Map<string, Promise<WorkModule>>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly init: WorkerInit,
    private readonly importModule: (url: string) => Promise<unknown>,
  ) {
    this.kernels = init.module ? instantiateKernels(init.module, init.memory) : undefined;
    this.control = new ControlBlock(init.memory.buffer, init.controlBytes, init.controlSize);
    this.control.markReady(init.epoch);
  }

  /** Queues a job behind the previous ones. */
  enqueue(job: JobMessage): void {
    this.queue = this.queue.then(() => this.run(job));
  }

  private load(url: string): Promise<WorkModule> {
    let module = this.modules.get(url);
    if (!module) {
      // A module registered in this worker (an app's own worker script, see setWorkerFactory) wins
      // over importing the URL, which a bundled app cannot serve as a loadable module.
      const registered = registeredWorkModule(url);
      module = (registered ? Promise.resolve(registered) : this.importModule(url)).then((loaded) => {
        const runItem = (loaded as Partial<WorkModule>).runItem;
        if (typeof runItem !== 'function') {
          throw new TypeError(`work module ${url} does not export runItem(engine, payload, item)`);
        }
        return loaded as WorkModule;
      });
      this.modules.set(url, module);
    }
    return module;
  }

  private engines(job: JobMessage): Map<Backend, Engine> {
    const arena = new Arena(
      this.init.memory,
      job.regionBytes + INSTANCE_SCRATCH_BYTES,
      job.regionEndBytes,
      job.floorBytes,
    );
    const engines = new Map<Backend, Engine>([['js', { backend: 'js', arena, ops: new JsKernelOps(arena) }]]);
    if (this.kernels) {
      this.kernels.setScratch(job.regionBytes / 4);
      engines.set('wasm', { backend: 'wasm', arena, ops: new WasmKernelOps(this.kernels, arena) });
    }
    // Loaded on this thread's first job (the addon is context-aware: each worker has its own
    // instance); it packs into the same per-worker scratch as the wasm instance.
    const addon = nativeAddon();
    if (addon) {
      engines.set('native', {
        backend: 'native',
        arena,
        ops: new NativeKernelOps(addon, arena, job.regionBytes / 4),
      });
    }
    return engines;
  }

  private async run(job: JobMessage): Promise<void> {
    let module: WorkModule | undefined;
    let loadError: unknown;
    try {
      module = await this.load(job.url);
    } catch (error) {
      loadError = error;
    }
    const { control } = this;
    const engines = this.engines(job);
    const engine = engines.get(job.backend);
    setJobEngines(engines);
    try {
      for (;;) {
        const item = control.claim(job.generation, job.items);
        if (item < 0) break;
        if (!control.aborted()) {
          try {
            if (!module) throw loadError;
            if (!engine)
              throw new Error(`backend '${job.backend}' is unavailable in worker ${this.init.workerIndex}`);
            engine.arena.release(engine.arena.base);
            module.runItem(engine, job.payload, item);
          } catch (error) {
            control.fail(
              ERROR_IN_WORKER,
              item,
              `worker ${this.init.workerIndex}, item ${item}: ${describeError(error)}`,
            );
          }
        }
        control.finish(job.items);
      }
    } finally {
      setJobEngines(undefined);
    }
  }
}
