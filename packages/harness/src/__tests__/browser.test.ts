import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as browser from '../browser.js';
import { browserMachine, browserSuite, runInBrowser } from '../browser-runner.js';
import * as charts from '../charts.js';
import { Progress } from '../progress.js';
import { resultsSchema } from '../results.js';
import type { ProgressSink } from '../run-context.js';
import { runBenchmarks } from '../runner.js';
import { loadSuite, parseSuite, SuiteError, suiteSchema } from '../suite.js';

const source = dirname(dirname(fileURLToPath(import.meta.url)));
const directory = mkdtempSync(join(tmpdir(), 'attnkit-browser-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/**
 * Every module specifier a source file loads at run time: static imports and re-exports (a
 * statement of types only is erased; one with a value and `type` names is not, under
 * verbatimModuleSyntax) and dynamic import().
 */
function runtimeSpecifiers(text: string): string[] {
  const specifiers: string[] = [];
  const statement = /^(import|export)\s+(type\s+)?[^;]*?\bfrom\s+'([^']+)'/gms;
  for (const match of text.matchAll(statement)) if (!match[2] && match[3]) specifiers.push(match[3]);
  for (const match of text.matchAll(/^import\s+'([^']+)'/gm)) if (match[1]) specifiers.push(match[1]);
  for (const match of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) if (match[1]) specifiers.push(match[1]);
  return specifiers;
}

/** The harness modules the entry loads (relative paths, followed) and the packages it names. */
function importGraph(entry: string): { modules: string[]; packages: Set<string> } {
  const modules: string[] = [];
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (modules.includes(file)) continue;
    modules.push(file);
    for (const specifier of runtimeSpecifiers(readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else packages.add(specifier);
    }
  }
  return { modules: modules.map((file) => file.slice(source.length + 1)).sort(), packages };
}

describe('the browser entry (@attnkit/harness/browser)', () => {
  it('loads no node:* module and none of the Node-only harness modules', () => {
    const { modules, packages } = importGraph(join(source, 'browser.ts'));
    expect([...packages].filter((name) => name.startsWith('node:'))).toEqual([]);
    expect([...packages].sort()).toEqual([
      '@attnkit/causal',
      '@attnkit/core',
      '@attnkit/dense',
      '@attnkit/flash',
      '@attnkit/kernels',
      '@attnkit/linear',
      '@attnkit/mha',
      '@attnkit/sliding-window',
      'tinybench',
      'vega',
      'vega-lite',
      'zod',
    ]);
    for (const nodeOnly of [
      'charts.ts',
      'child.ts',
      'machine.ts',
      'results-writer.ts',
      'runner.ts',
      'suite.ts',
      'cases/memory-case.ts',
      'cases/peer-case.ts',
      'progress.ts',
    ])
      expect(modules).not.toContain(nodeOnly);
    expect(modules).toContain('chart-specs.ts');
    expect(modules).toContain('cases/attention-case.ts');
    expect(modules).toContain('cases/mha-case.ts');
  });

  it('the walk sees what it must: a node:* import in a followed module is found', () => {
    expect(
      runtimeSpecifiers(
        "import type { A } from './a.js';\nimport { type B, c } from './c.js';\nexport * from 'node:fs';\nconst v = await import('vega');",
      ),
    ).toEqual(['./c.js', 'node:fs', 'vega']);
  });

  it('hands out the very chart functions the CLI draws its files with', () => {
    const pairs: [string, unknown, unknown][] = [
      ['chartSpecs', browser.chartSpecs, charts.chartSpecs],
      ['timeChart', browser.timeChart, charts.timeChart],
      ['gflopsChart', browser.gflopsChart, charts.gflopsChart],
      ['memoryChart', browser.memoryChart, charts.memoryChart],
      ['errorChart', browser.errorChart, charts.errorChart],
      ['accuracySpeedChart', browser.accuracySpeedChart, charts.accuracySpeedChart],
      ['renderSvg', browser.renderSvg, charts.renderSvg],
    ];
    for (const [name, inBrowser, inNode] of pairs) expect(inBrowser, name).toBe(inNode);
  });
});

describe('browserSuite', () => {
  const { suite: quick } = loadSuite('quick');

  it("keeps each group's smallest N, and turns off peers and measured memory, saying so", () => {
    const reduced = browserSuite(quick, { sizes: 'smallest' });
    expect(suiteSchema.parse(reduced)).toEqual(reduced);
    expect(reduced.groups.map((group) => [group.id, group.lengths, group.pow2])).toEqual([
      ['gpt2-small', [256], undefined],
      ['gpt2-small-causal', [256], undefined],
      ['llama3-8b-gqa', [512], undefined],
      ['mistral-window', [4096], undefined],
      ['fixed-tokens-causal', [512], undefined],
      ['mha-gpt2-small', [512], undefined],
    ]);
    expect(reduced.peers).toEqual([]);
    expect(reduced.memory.enabled).toBe(false);
    expect(reduced.duration).toBeUndefined();
    expect(reduced.description).toBe(
      "Run in a browser (each group's smallest N only), without peers or measured peak memory " +
        `(both need child processes). The suite: ${quick.description}`,
    );
  });

  it('keeps the named groups in suite order, and every N with sizes: all', () => {
    const reduced = browserSuite(quick, { sizes: 'all', groups: ['mha-gpt2-small', 'gpt2-small'] });
    expect(reduced.groups.map((group) => group.id)).toEqual(['gpt2-small', 'mha-gpt2-small']);
    expect(reduced.groups[0]?.pow2).toEqual({ from: 256, to: 2048 });
    expect(reduced.description.startsWith('Run in a browser (groups mha-gpt2-small, gpt2-small only),')).toBe(
      true,
    );
  });

  it('names the groups it does not know, and the ones it does', () => {
    expect(() => browserSuite(quick, { sizes: 'smallest', groups: ['gpt2', 'gpt2-small'] })).toThrow(
      new SuiteError(
        "groups: gpt2 not in suite 'quick'; its groups are gpt2-small, gpt2-small-causal, llama3-8b-gqa, mistral-window, fixed-tokens-causal, mha-gpt2-small",
      ),
    );
  });
});

describe('browserMachine', () => {
  it("takes what navigator says and leaves the rest 'unknown' or null", () => {
    expect(
      browserMachine({
        userAgent: 'UA/1',
        platform: 'Linux x86_64',
        hardwareConcurrency: 2,
        deviceMemory: 8,
      }),
    ).toEqual({
      os: 'browser',
      platform: 'Linux x86_64',
      release: 'UA/1',
      arch: 'unknown',
      cpuModel: 'unknown',
      cores: 2,
      memoryBytes: 8 * 2 ** 30,
      loadAverage: [],
    });
    const bare = browserMachine({ hardwareConcurrency: 0 });
    expect([bare.cores, bare.memoryBytes, bare.platform, bare.release]).toEqual([
      1,
      null,
      'unknown',
      'unknown',
    ]);
  });
});

describe('runInBrowser', () => {
  // Every variant at two tiny shapes, full and causal-windowed, an mha layer: every row kind.
  const suite = parseSuite({
    name: 'tiny',
    description: 'tiny',
    threads: [1, 2],
    timing: { budgetMs: 5, minSamples: 3, maxSamples: 5, warmupSamples: 1, maxCallMs: 5000 },
    accuracy: { rowsPerHead: 4 },
    memory: { enabled: false },
    peers: [],
    groups: [
      { id: 'full', title: 'full', source: 'test', heads: 2, headDim: 8, lengths: [16, 32] },
      {
        id: 'window',
        title: 'window',
        source: 'test',
        heads: 4,
        kvHeads: 2,
        headDim: 8,
        mask: { causal: true, window: [4, 0] },
        lengths: [32],
      },
      { id: 'layer', title: 'layer', source: 'test', kind: 'mha', heads: 2, headDim: 8, lengths: [16] },
    ],
  });

  it('writes the rows the Node runner writes, with the same statuses, reasons and errors', async () => {
    const steps = { started: 0, finished: 0, total: 0 };
    const progress: ProgressSink = {
      start: () => void steps.started++,
      finish: () => void steps.finished++,
      note: () => {},
      addWork: (n) => void (steps.total += n),
      end: () => {},
    };
    const streamed: string[] = [];
    const inBrowser = await runInBrowser({
      suite,
      backends: ['js'],
      progress,
      onRow: (row) => streamed.push(row.id),
      argv: ['?suite=tiny'],
      environment: { userAgent: 'test', hardwareConcurrency: 2 },
    });
    const { results: inNode } = await runBenchmarks({
      suite,
      suitePath: null,
      quick: false,
      backends: ['js'],
      peers: false,
      outDir: directory,
      charts: [],
      argv: [],
      progress: new Progress(0, { write: () => true }, false),
    });
    expect(resultsSchema.parse(inBrowser)).toEqual(inBrowser);
    expect(inBrowser.complete).toBe(true);
    expect(inBrowser.options).toMatchObject({
      backends: ['js'],
      threads: [1, 2],
      peers: false,
      argv: ['?suite=tiny'],
    });
    expect(inBrowser.machine.os).toBe('browser');
    // Same seeds, same js backend: the same outputs, so the same accuracy to the bit.
    const key = (row: (typeof inNode.rows)[number]) => ({
      id: row.id,
      status: row.status,
      reason: row.reason,
      accuracy: row.accuracy,
      workspaceBytes: row.memory?.workspaceBytes,
      flops: row.flops,
    });
    expect(inBrowser.rows.map(key)).toEqual(inNode.rows.map(key));
    expect(streamed).toEqual(inBrowser.rows.map((row) => row.id));
    // 2 + 1 attention cases × 6 labels × 2 threads, 1 layer case × 6 labels × 2 threads; no memory, no peer steps.
    expect(inBrowser.rows).toHaveLength(48);
    expect(steps).toEqual({ started: 48, finished: 48, total: 48 });
    expect(inBrowser.rows.filter((row) => row.status === 'ok').length).toBeGreaterThan(20);
    expect(inBrowser.rows.some((row) => row.memory?.measured)).toBe(false);
    expect(inBrowser.rows.some((row) => row.implementation === 'peer')).toBe(false);
  });

  it('draws its results with the chart specs, the memory chart from the analytic workspace alone', async () => {
    const results = await runInBrowser({
      suite: browserSuite(suite, { sizes: 'all', groups: ['full'] }),
      backends: ['js', 'wasm'],
      threads: [1],
      environment: {},
    });
    const specs = browser.chartSpecs(results);
    expect(specs.map((chart) => chart.name)).toEqual([
      'full-time',
      'full-gflops',
      'full-memory',
      'full-error',
      'full-accuracy-speed',
    ]);
    const memory = specs.find((chart) => chart.kind === 'memory')?.spec as {
      hconcat: { title: { text: string } }[];
    };
    expect(memory.hconcat.map((panel) => panel.title.text)).toEqual([`${browser.ANALYTIC_PANEL} vs N`]);
    const svg = await browser.renderSvg(specs[0]?.spec as Parameters<typeof browser.renderSvg>[0]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('dense@wasm');
    expect(svg).toContain('dense@js');
  });
});
