/**
 * Web Worker bootstrap of a pool worker (module worker: `new Worker(url, { type: 'module' })`).
 * The first message carries the WorkerInit, later ones are jobs; both go to the same
 * environment-neutral WorkerRuntime as in Node.
 */
import type { JobMessage, WorkerInit } from './thread-protocol.js';
import { WorkerRuntime } from './worker-runtime.js';

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerInit | JobMessage>) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;
let runtime: WorkerRuntime | undefined;
scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'init') runtime = new WorkerRuntime(message, (url) => import(/* @vite-ignore */ url));
  else runtime?.enqueue(message);
};
