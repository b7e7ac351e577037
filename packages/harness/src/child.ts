/**
 * Fresh child processes for measurements that must not share a process: peak memory (RSS is per
 * process and never goes down) and peers (native thread pools, their own wasm heaps). The parent
 * forks a small dist script, sends one request, and gets one reply; a crash, a non-zero exit or a
 * timeout becomes a reason string, so the run records `skipped (reason)` and goes on.
 *
 * Children die with their parent. The parent kills its live children when it exits or is sent
 * SIGINT, SIGTERM or SIGHUP; a parent killed outright (SIGKILL, a crash) cannot, so each child
 * also watches its parent from a worker thread: the measured call blocks the child's main thread
 * for seconds, and a watcher there (IPC 'disconnect', stdin end) would only notice after it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export type ChildOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/** Messages a child sends back. */
export type ChildReply<T> =
  | { readonly type: 'result'; readonly value: T }
  | { readonly type: 'error'; readonly message: string };

/**
 * The built script `name`.js. Under vitest this module runs from src/*.ts, and Node cannot fork
 * TypeScript, so the path points at dist/ (tests run after the package is built).
 */
export function childScriptPath(name: string): string {
  const here = fileURLToPath(import.meta.url);
  const directory = here.endsWith('.ts') ? join(dirname(dirname(here)), 'dist') : dirname(here);
  return join(directory, `${name}.js`);
}

const STDERR_TAIL = 2000;

const liveChildren = new Set<ChildProcess>();
const CLEANUP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let cleanupInstalled = false;

function killLiveChildren(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  liveChildren.clear();
}

function onCleanupSignal(signal: NodeJS.Signals): void {
  killLiveChildren();
  // Alone on this signal: end the process the way the signal would have (listening replaced that).
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onCleanupSignal);
    process.kill(process.pid, signal);
  }
}

/** Once per process, on the first fork: children are killed on exit and on the usual signals. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killLiveChildren);
  for (const signal of CLEANUP_SIGNALS) process.on(signal, onCleanupSignal);
}

export function runChild<T>(
  script: string,
  request: unknown,
  timeoutMs: number,
  execArgv: readonly string[] = ['--expose-gc'],
): Promise<ChildOutcome<T>> {
  if (!existsSync(script)) {
    return Promise.resolve({
      ok: false,
      reason: `child script ${script} is missing (build @attnkit/harness first)`,
    });
  }
  return new Promise((resolvePromise) => {
    let settled = false;
    let stderr = '';
    let child: ChildProcess;
    const settle = (outcome: ChildOutcome<T>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolvePromise(outcome);
    };
    try {
      installCleanup();
      child = fork(script, [], {
        execArgv: [...execArgv],
        serialization: 'advanced',
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      liveChildren.add(child);
    } catch (error) {
      resolvePromise({ ok: false, reason: `could not start child: ${(error as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      settle({
        ok: false,
        reason: `timed out after ${Number((timeoutMs / 1000).toPrecision(3))} s (child killed)`,
      });
    }, timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL);
    });
    child.on('message', (message: ChildReply<T>) => {
      if (message.type === 'result') settle({ ok: true, value: message.value });
      else settle({ ok: false, reason: message.message });
    });
    child.on('error', (error) => settle({ ok: false, reason: `child failed: ${error.message}` }));
    // 'close' (not 'exit'): it fires after the IPC channel drained, so a reply sent just before exiting is not lost.
    child.on('close', (code, signal) => {
      liveChildren.delete(child);
      const tail = lastMeaningfulLine(stderr);
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      settle({ ok: false, reason: `child process crashed (${how})${tail ? `: ${tail}` : ''}` });
    });
    child.send(request as object);
  });
}

function lastMeaningfulLine(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('at '));
  const line = lines.find((candidate) => /error/i.test(candidate)) ?? lines[lines.length - 1] ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** How often a child checks that its parent is alive: the most a child outlives it by. */
export const PARENT_POLL_MS = 200;

/*
 * Runs in a worker thread of the child, so it keeps polling while the main thread is busy in a
 * call. A dead parent's children are re-parented (to init or a subreaper): the ppid changes.
 */
const PARENT_WATCHER = `
const { workerData } = require('node:worker_threads');
setInterval(() => {
  if (process.ppid !== workerData.parent) process.kill(workerData.self, 'SIGKILL');
}, workerData.pollMs);
`;

/** Ends this process (from a worker thread) as soon as its parent is gone. */
export function watchParent(pollMs = PARENT_POLL_MS): void {
  const watcher = new Worker(PARENT_WATCHER, {
    eval: true,
    workerData: { parent: process.ppid, self: process.pid, pollMs },
    // The watcher needs almost nothing; small heaps keep it out of the child's memory readings.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
  });
  // It must not keep the child alive once the request is served.
  watcher.unref();
  // Idle (blocked main thread or not) the IPC channel closing means the parent is gone too.
  process.once('disconnect', () => process.exit(0));
}

/** The child side: receive one request, reply once, exit. */
export function serveOnce<Req, Res>(handler: (request: Req) => Promise<Res> | Res): void {
  // Imported outside a forked child (tests, tools): there is no parent to serve.
  if (!process.send) return;
  watchParent();
  process.once('message', async (request: Req) => {
    let reply: ChildReply<Res>;
    try {
      reply = { type: 'result', value: await handler(request) };
    } catch (error) {
      const err = error as Error;
      reply = { type: 'error', message: `${err.name}: ${err.message}`.split('\n')[0] ?? 'error' };
    }
    process.send?.(reply, () => process.exit(0));
  });
}
