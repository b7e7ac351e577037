/**
 * The worker pool's protocol, shared by the caller (thread-pool.ts) and the workers
 * (worker-runtime.ts). Environment-neutral: Node's worker_threads and Web Workers carry the same
 * two messages, and everything the blocked caller must learn travels through shared memory.
 *
 * Control block (at EngineMemory.controlBytes, 16 KiB):
 *   +0   int64  claim word: generation << 32 | next item. A thread claims an item with one
 *               compare-exchange, which fails once the generation moved on, so a worker that
 *               wakes late for a finished job can never take an item of the next one.
 *   +8   int32  items done in the current job (the caller waits on it)
 *   +12  int32  error owner: 0 none, 1 a worker, 2 the caller (first failure wins; later items
 *               are skipped but still counted, so the job always drains)
 *   +16  int32  error text length (UTF-16 code units)
 *   +20  int32  failing item
 *   +24  int32  readiness: pool epoch << 16 | workers of that epoch that finished start-up (for
 *               `startThreads`). Releasing the workers moves the epoch on, so a terminated worker
 *               that was still starting can never count as ready in the next pool.
 *   +64  uint16 error text (name, message, stack), truncated to fit
 * Every write to the error slots happens while holding a claimed, unfinished item of the current
 * generation, so the caller (which waits for all items) always reads a complete, current error.
 */
import type { Backend } from '../engine/engine.js';

export const CLAIM_BYTE = 0;
export const DONE_INDEX = 2;
export const ERROR_OWNER_INDEX = 3;
export const ERROR_LENGTH_INDEX = 4;
export const ERROR_ITEM_INDEX = 5;
export const READY_INDEX = 6;
export const ERROR_TEXT_BYTE = 64;

export const ERROR_NONE = 0;
export const ERROR_IN_WORKER = 1;
export const ERROR_IN_CALLER = 2;

/** What a worker receives once, at start-up (Node: workerData; Web: the first message). */
export interface WorkerInit {
  readonly type: 'init';
  readonly memory: WebAssembly.Memory;
  /** The compiled kernels (a shared-memory module), absent where wasm is unavailable. */
  readonly module: WebAssembly.Module | undefined;
  readonly controlBytes: number;
  readonly controlSize: number;
  readonly workerIndex: number;
  /** The pool epoch the worker belongs to (its readiness counts only while the epoch is current). */
  readonly epoch: number;
}

/** One job, posted to each participating worker. */
export interface JobMessage {
  readonly type: 'job';
  readonly generation: number;
  readonly url: string;
  readonly payload: unknown;
  readonly items: number;
  readonly backend: Backend;
  /** This worker's region [regionBytes, regionEndBytes): kernel scratch, then its arena. */
  readonly regionBytes: number;
  readonly regionEndBytes: number;
  /** The caller's arena base: the worker may read and write caller allocations above it. */
  readonly floorBytes: number;
}

/** The contract of a work module: `export function runItem(engine, payload, item): void`. */
export interface WorkModule {
  runItem(engine: import('../engine/engine.js').Engine, payload: unknown, item: number): void;
}

/** Views over the control block. A shared buffer never detaches, so they stay valid across growth. */
export class ControlBlock {
  readonly words: Int32Array;
  private readonly claimWord: BigInt64Array;
  private readonly text: Uint16Array;

  constructor(buffer: ArrayBufferLike, controlBytes: number, controlSize: number) {
    this.words = new Int32Array(buffer, controlBytes, ERROR_TEXT_BYTE / 4);
    this.claimWord = new BigInt64Array(buffer, controlBytes + CLAIM_BYTE, 1);
    this.text = new Uint16Array(buffer, controlBytes + ERROR_TEXT_BYTE, (controlSize - ERROR_TEXT_BYTE) / 2);
  }

  /** Opens a job: counters cleared first, then the claim word published (seq-cst, so in that order). */
  open(generation: number): void {
    Atomics.store(this.words, DONE_INDEX, 0);
    Atomics.store(this.words, ERROR_OWNER_INDEX, ERROR_NONE);
    Atomics.store(this.words, ERROR_LENGTH_INDEX, 0);
    Atomics.store(this.claimWord, 0, BigInt(generation) << 32n);
  }

  /** The next unclaimed item of `generation`, or -1 when there is none (or the job is over). */
  claim(generation: number, items: number): number {
    for (;;) {
      const current = Atomics.load(this.claimWord, 0);
      if (Number(current >> 32n) !== generation) return -1;
      const next = Number(current & 0xffffffffn);
      if (next >= items) return -1;
      if (Atomics.compareExchange(this.claimWord, 0, current, current + 1n) === current) return next;
    }
  }

  /** Counts an item as done; the last one wakes the caller. */
  finish(items: number): void {
    if (Atomics.add(this.words, DONE_INDEX, 1) + 1 >= items) Atomics.notify(this.words, DONE_INDEX);
  }

  aborted(): boolean {
    return Atomics.load(this.words, ERROR_OWNER_INDEX) !== ERROR_NONE;
  }

  /** Records the first failure of the job; returns false if another thread failed first. */
  fail(owner: number, item: number, message: string): boolean {
    if (Atomics.compareExchange(this.words, ERROR_OWNER_INDEX, ERROR_NONE, owner) !== ERROR_NONE)
      return false;
    const length = Math.min(message.length, this.text.length);
    for (let i = 0; i < length; i++) this.text[i] = message.charCodeAt(i);
    Atomics.store(this.words, ERROR_ITEM_INDEX, item);
    Atomics.store(this.words, ERROR_LENGTH_INDEX, length);
    return true;
  }

  errorOwner(): number {
    return Atomics.load(this.words, ERROR_OWNER_INDEX);
  }

  errorItem(): number {
    return Atomics.load(this.words, ERROR_ITEM_INDEX);
  }

  errorText(): string {
    const length = Atomics.load(this.words, ERROR_LENGTH_INDEX);
    let text = '';
    for (let i = 0; i < length; i += 4096) {
      text += String.fromCharCode(...this.text.subarray(i, Math.min(length, i + 4096)));
    }
    return text;
  }

  /** Blocks until `items` items are done (Atomics.wait: Node's main thread and workers allow it). */
  waitDone(items: number): void {
    for (;;) {
      const done = Atomics.load(this.words, DONE_INDEX);
      if (done >= items) return;
      Atomics.wait(this.words, DONE_INDEX, done, 1000);
    }
  }

  /** Counts a worker of `epoch` as started; does nothing once the pool moved to another epoch. */
  markReady(epoch: number): void {
    for (;;) {
      const current = Atomics.load(this.words, READY_INDEX);
      if (current >>> 16 !== epoch) return;
      if (Atomics.compareExchange(this.words, READY_INDEX, current, current + 1) === current) return;
    }
  }

  /** Workers of `epoch` that finished start-up. */
  readyCount(epoch: number): number {
    const current = Atomics.load(this.words, READY_INDEX);
    return current >>> 16 === epoch ? current & 0xffff : 0;
  }

  /** Starts epoch `epoch` (< 2^15) with no worker ready. */
  resetReady(epoch: number): void {
    Atomics.store(this.words, READY_INDEX, epoch << 16);
  }
}

/** An error as text for the control block: name, message and stack. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const head = `${error.name}: ${error.message}`;
    return error.stack?.includes(error.message) ? error.stack : `${head}\n${error.stack ?? ''}`;
  }
  return String(error);
}
