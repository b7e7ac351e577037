/**
 * Node bootstrap of a pool worker (the only file with `node:` imports; the pool starts it with
 * `new Worker(new URL('./node-worker.js', import.meta.url), { workerData })`). It wires
 * worker_threads messages to the environment-neutral WorkerRuntime.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { JobMessage, WorkerInit } from './thread-protocol.js';
import { WorkerRuntime } from './worker-runtime.js';

const runtime = new WorkerRuntime(workerData as WorkerInit, (url) => import(url));
parentPort?.on('message', (message: JobMessage) => runtime.enqueue(message));
