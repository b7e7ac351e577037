import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { childScriptPath } from '../child.js';

const directory = mkdtempSync(join(tmpdir(), 'attnkit-children-'));
const started: number[] = [];
afterAll(() => {
  // Whatever a failing test left behind (processes these tests started, by pid).
  for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(directory, { recursive: true, force: true });
});

/** Running (a zombie waiting for a reaper counts as gone: it runs nothing). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pid of a child of `parent` whose command line contains `marker`, once it exists. */
async function childOf(parent: number, marker: string, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === parent && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) {
          started.push(Number(entry));
          return Number(entry);
        }
      } catch {
        // The process ended while being read.
      }
    }
    await sleep(50);
  }
  throw new Error(`no child of ${parent} running ${marker} within ${timeoutMs} ms`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function goneWithin(pid: number, timeoutMs: number): Promise<number | null> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (!alive(pid)) return Date.now() - start;
    await sleep(25);
  }
  return null;
}

/** A parent process that forks one child through runChild (the harness's launcher) and waits. */
function launchParent(script: string, request: unknown): ChildProcess {
  const launcher = join(directory, `launcher-${started.length}.mjs`);
  const childModule = pathToFileURL(childScriptPath('child')).href;
  writeFileSync(
    launcher,
    `import { runChild } from ${JSON.stringify(childModule)};\n` +
      `await runChild(${JSON.stringify(script)}, ${JSON.stringify(request)}, 120000);\n`,
  );
  const parent = spawn(process.execPath, [launcher], { stdio: 'ignore' });
  if (parent.pid) started.push(parent.pid);
  return parent;
}

const linux = process.platform === 'linux' && existsSync('/proc/self/stat');

describe.skipIf(!linux)('children die with their parent', () => {
  it('a memory child busy in a long call ends within two seconds of its parent being SIGKILLed', async () => {
    // naive on 8 heads × 4096² × 64: tens of seconds of one synchronous call.
    const request = {
      variant: 'naive',
      options: {},
      shape: { batch: 1, qHeads: 8, kvHeads: 8, qLength: 4096, kvLength: 4096, headDim: 64, valueDim: 64 },
      mask: { causal: false },
      seed: 1,
    };
    const parent = launchParent(childScriptPath('memory-child'), request);
    const child = await childOf(parent.pid ?? -1, 'memory-child.js');
    // Past start-up and warm-up: the child's main thread is inside the long call now.
    await sleep(2000);
    expect(alive(child)).toBe(true);
    parent.kill('SIGKILL');
    expect(await goneWithin(child, 2000)).not.toBeNull();
  });

  it('a child that does not watch its parent is killed by the parent on SIGTERM', async () => {
    const busy = join(directory, 'busy.mjs');
    writeFileSync(
      busy,
      "process.on('message', () => { const end = Date.now() + 60000; while (Date.now() < end); });\n",
    );
    const parent = launchParent(busy, {});
    const child = await childOf(parent.pid ?? -1, 'busy.mjs');
    await sleep(300);
    parent.kill('SIGTERM');
    expect(await goneWithin(child, 2000)).not.toBeNull();
    // The parent still ends the way SIGTERM ends a process.
    const [, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      parent.exitCode !== null || parent.signalCode !== null
        ? resolve([parent.exitCode, parent.signalCode])
        : parent.once('exit', (code, sig) => resolve([code, sig])),
    );
    expect(signal).toBe('SIGTERM');
  });
});
