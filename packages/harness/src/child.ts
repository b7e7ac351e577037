/**
 * Fresh child processes for measurements that must not share a process: peak memory (RSS is per
 * process and never goes down) and peers (native thread pools, their own wasm heaps). The parent
 * forks a small dist script, sends one request, and gets one reply; a crash, a non-zero exit or a
 * timeout becomes a reason string, so the run records `skipped (reason)` and goes on.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
      child = fork(script, [], {
        execArgv: [...execArgv],
        serialization: 'advanced',
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
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

/** The child side: receive one request, reply once, exit. */
export function serveOnce<Req, Res>(handler: (request: Req) => Promise<Res> | Res): void {
  // Imported outside a forked child (tests, tools): there is no parent to serve.
  if (!process.send) return;
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
