/**
 * The package's named suites, read from disk (suites/*.json, next to dist/). Everything about a
 * suite that needs no file system (schemas, expansion into cases) is suite-schema.ts's and is
 * re-exported here, so `./suite.js` stays the one import for Node code.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSuite, type Suite, SuiteError } from './suite-schema.js';

export * from './mask-spec.js';
export * from './suite-schema.js';

/**
 * Where the named suites live: suites/ of this package, next to dist/. They ship in the tarball,
 * so `--suite quick` and `loadSuite('quick')` work wherever the harness is installed; the repository
 * keeps no other copy (one source of truth).
 */
export function suitesDirectory(): string {
  return fileURLToPath(new URL('../suites/', import.meta.url));
}

export function listSuiteNames(directory: string | null = suitesDirectory()): string[] {
  if (!directory || !existsSync(directory)) return [];
  return readdirSync(directory)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

export interface SuiteSummary {
  readonly name: string;
  readonly description: string;
  readonly duration: string | null;
}

/** Every named suite with its description and expected duration, for `attnkit-bench suites`. */
export function listSuites(directory: string = suitesDirectory()): SuiteSummary[] {
  return listSuiteNames(directory).map((name) => {
    const { suite } = loadSuite(name, directory);
    return { name, description: suite.description, duration: suite.duration ?? null };
  });
}

/** One block per named suite: name and expected duration, then the description wrapped. */
export function formatSuiteList(suites: readonly SuiteSummary[], width = 100): string {
  const nameWidth = Math.max(...suites.map((suite) => suite.name.length));
  const blocks = suites.map((suite) => {
    const head = `${suite.name.padEnd(nameWidth)}  ${suite.duration ?? 'duration not stated'}`;
    const lines: string[] = [];
    let line = '';
    for (const word of suite.description.split(/\s+/)) {
      if (line && line.length + 1 + word.length > width - nameWidth - 2) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    if (line) lines.push(line);
    return [head, ...lines.map((text) => `${' '.repeat(nameWidth + 2)}${text}`)].join('\n');
  });
  return `${blocks.join('\n\n')}\n\nrun one with: attnkit-bench --suite <name>`;
}

/** `name` is one of the package's named suites (`listSuiteNames()`), or a path to a suite JSON file. */
export function loadSuite(
  nameOrPath: string,
  directory: string = suitesDirectory(),
): { suite: Suite; path: string } {
  const looksLikePath = nameOrPath.endsWith('.json') || nameOrPath.includes('/') || nameOrPath.includes('\\');
  const path = looksLikePath ? resolve(nameOrPath) : join(directory, `${nameOrPath}.json`);
  if (!existsSync(path)) {
    const known = listSuiteNames(directory);
    throw new SuiteError(
      `suite '${nameOrPath}' not found (${path}). Known suites: ${known.join(', ') || 'none'}; or pass a path to a .json file.`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new SuiteError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  return { suite: parseSuite(json, path), path };
}
