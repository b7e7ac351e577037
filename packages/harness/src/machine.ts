/** Labels for a results file: the machine, package versions found, and the git commit measured. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem, type } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Machine } from './results.js';

export { formatBytes } from './format.js';

export function describeMachine(): Machine {
  const cpuList = cpus();
  return {
    os: type(),
    platform: platform(),
    release: release(),
    arch: arch(),
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: Math.max(1, cpuList.length),
    memoryBytes: totalmem(),
    loadAverage: loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

export const MEASURED_PACKAGES = [
  '@attnkit/core',
  '@attnkit/kernels',
  '@attnkit/dense',
  '@attnkit/causal',
  '@attnkit/sliding-window',
  '@attnkit/linear',
  '@attnkit/flash',
  '@attnkit/mha',
  '@attnkit/harness',
  'onnxruntime-node',
  'onnxruntime-web',
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-wasm',
  'tinybench',
] as const;

/** The version in a package's package.json, found from its resolved entry; null when not installed. */
export function packageVersion(name: string): string | null {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(name));
  } catch {
    return null;
  }
  let dir = dirname(entry);
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const json = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
        if (json.name === name) return json.version ?? null;
      } catch {
        // an unreadable manifest on the way up is not the package's own; keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function packageVersions(): Record<string, string | null> {
  const versions: Record<string, string | null> = {};
  for (const name of MEASURED_PACKAGES) versions[name] = packageVersion(name);
  return versions;
}

/** The directory of this package's source tree (for git and default output locations). */
export function harnessDirectory(): string {
  return dirname(dirname(fileURLToPath(import.meta.url)));
}

export function gitState(cwd = harnessDirectory()): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}
