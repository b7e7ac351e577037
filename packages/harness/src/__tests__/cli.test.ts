import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childScriptPath } from '../child.js';
import { listSuiteNames, listSuites } from '../suite.js';

const directory = mkdtempSync(join(tmpdir(), 'attnkit-cli-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** The built CLI, run as a user runs it. */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [childScriptPath('cli'), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Exit 2, nothing on stdout, and exactly one line on stderr matching `message`. */
function expectUsageError(result: ReturnType<typeof cli>, message: string): void {
  expect(result.stdout).toBe('');
  expect(result.stderr.endsWith('\n')).toBe(true);
  expect(result.stderr.trimEnd().split('\n')).toEqual([
    `attnkit-bench: ${message} (see attnkit-bench --help)`,
  ]);
  expect(result.code).toBe(2);
}

const notResults = join(directory, 'not-results.json');
writeFileSync(notResults, '{"rows": []}\n');
const aFile = join(directory, 'a-file');
writeFileSync(aFile, 'not a directory\n');

describe('a bad invocation prints one line and exits 2', () => {
  it('--peers with an unknown peer', () => {
    expectUsageError(
      cli('--peers', 'onnx', '--charts', 'none'),
      "--peers: expected peer ids (ort-node:mha, ort-node:gqa, ort-node:matmul, ort-web:mha, ort-web:matmul, tfjs-wasm) or runtimes (ort-node, ort-web), separated by commas, received 'onnx'",
    );
  });

  it('--variants with a name the suite does not have', () => {
    expectUsageError(
      cli('--variants', 'flash,flahs', '--charts', 'none'),
      "--variants: 'flahs' not in suite 'quick'; accepted: naive, dense, causal, sliding-window, linear, linear:favor, flash",
    );
  });

  it('--threads with an empty item', () => {
    expectUsageError(
      cli('--threads', '1,,2'),
      "--threads: expected integers 1..64 separated by commas, e.g. 1,2, received '1,,2'",
    );
  });

  it('compare with a third argument', () => {
    expectUsageError(
      cli('compare', 'a.json', 'b.json', 'extra'),
      "compare: expected exactly 2 arguments <old.json> <new.json>, received 3 (extra: 'extra')",
    );
  });

  it('compare with a JSON file that is not a results file', () => {
    const result = cli('compare', notResults, notResults);
    expect(result.stderr).toMatch(
      new RegExp(
        `^attnkit-bench: ${notResults.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not an attnkit-bench results file \\(schemaVersion: .*\\); expected the results.json a run writes \\(see attnkit-bench --help\\)\\n$`,
      ),
    );
    expect(result.code).toBe(2);
  });

  it('--out that cannot be written', () => {
    const out = join(aFile, 'run');
    expectUsageError(
      cli('--out', out, '--charts', 'none', '--no-peers'),
      `--out: cannot write to ${out} (ENOTDIR); expected a directory that can be created and written`,
    );
  });

  it('an unknown option and an unknown command', () => {
    expectUsageError(
      cli('--thread', '2'),
      "run: unknown option '--thread'; accepted: --suite, --quick, --variants, --threads, --backends, --peers, --no-peers, --out, --charts, --compare",
    );
    expectUsageError(
      cli('benchmark'),
      "unknown command 'benchmark'; accepted: run, render, compare, docs, weights, suites, or run options alone",
    );
  });
});

describe('attnkit-bench suites', () => {
  it('lists every shipped suite with its expected duration and exits 0', () => {
    const result = cli('suites');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const heads = result.stdout.split('\n').filter((line) => /^\S/.test(line));
    const names = listSuiteNames();
    expect(names).toContain('quick');
    expect(heads.slice(0, names.length).map((line) => line.split(/\s+/)[0])).toEqual(names);
    for (const suite of listSuites())
      expect(result.stdout).toContain(
        `${suite.name.padEnd(Math.max(...names.map((n) => n.length)))}  ${suite.duration}`,
      );
    expect(heads.at(-1)).toBe('run one with: attnkit-bench --suite <name>');
  });
});
