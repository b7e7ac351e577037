import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendUnavailableReason } from '@attnkit/kernels';
import { afterAll, describe, expect, it } from 'vitest';
import { checkArgs, runArgsSchema } from '../args.js';
import { implementationColours, timeChart } from '../charts.js';
import { Progress } from '../progress.js';
import { speedupVsDense, tableColumns } from '../report.js';
import { parseResults } from '../results.js';
import { backendSkipReason } from '../run-context.js';
import { runBenchmarks } from '../runner.js';
import { expandBackends, parseSuite, type VariantSpec } from '../suite.js';

const directory = mkdtempSync(join(tmpdir(), 'attnkit-backends-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const quiet = () => new Progress(0, { write: () => true }, false);

describe('the backend axis', () => {
  const specs: VariantSpec[] = [
    { label: 'naive', variant: 'naive', options: {} },
    { label: 'flash', variant: 'flash', options: {} },
    { label: 'linear:favor', variant: 'linear', options: { featureMap: 'favor' } },
    { label: 'dense-js', variant: 'dense', options: { backend: 'js' } },
  ];

  it('expands each variant to one spec per backend, side by side; naive and pinned specs stay one', () => {
    const expanded = expandBackends(specs, ['wasm', 'native']);
    expect(expanded.map((spec) => [spec.label, spec.backend, spec.options.backend])).toEqual([
      ['naive', undefined, undefined],
      ['flash@wasm', 'wasm', 'wasm'],
      ['flash@native', 'native', 'native'],
      ['linear:favor@wasm', 'wasm', 'wasm'],
      ['linear:favor@native', 'native', 'native'],
      ['dense-js', 'js', 'js'],
    ]);
    // The spec's own options survive; groups and --variants still name the base label.
    expect(expanded[3]?.options).toEqual({ featureMap: 'favor', backend: 'wasm' });
    expect(expanded[4]?.baseLabel).toBe('linear:favor');
    // One backend: plain labels, the backend still in the options and on the row.
    expect(expandBackends(specs, ['native']).map((spec) => spec.label)).toEqual([
      'naive',
      'flash',
      'linear:favor',
      'dense-js',
    ]);
  });

  it('skips a row whose backend did not load, with the reason', () => {
    const [, wasm, native] = expandBackends(specs, ['wasm', 'native']);
    const stub = (backend: string) => (backend === 'native' ? 'the addon was not built' : undefined);
    expect(backendSkipReason(native!, stub)).toBe('backend native unavailable: the addon was not built');
    expect(backendSkipReason(wasm!, stub)).toBeNull();
    expect(backendSkipReason(specs[0]!, stub)).toBeNull();
  });

  it('suites and --backends accept each backend once', () => {
    const base = {
      name: 's',
      description: 'd',
      groups: [{ id: 'g', title: 'G', source: 's', heads: 1, headDim: 4, lengths: [8] }],
    };
    expect(parseSuite(base).backends).toEqual(['wasm', 'native']);
    expect(() => parseSuite({ ...base, backends: ['wasm', 'wasm'] })).toThrow(/each backend once/);
    expect(() => parseSuite({ ...base, backends: ['gpu'] })).toThrow(/backends/);
    const args = { quick: false, 'no-peers': false };
    expect(checkArgs('run', runArgsSchema, { ...args, backends: 'native,wasm' }).backends).toEqual([
      'native',
      'wasm',
    ]);
    expect(() => checkArgs('run', runArgsSchema, { ...args, backends: 'native,cuda' })).toThrow(
      "--backends: expected backends (wasm, native, js) separated by commas, each once, e.g. wasm,native, received 'native,cuda'",
    );
  });

  it('gives both backends of an implementation its one colour', () => {
    expect(
      implementationColours(['flash@wasm', 'flash@native', 'dense@wasm', 'mine@wasm', 'mine@native']),
    ).toEqual([
      implementationColours(['flash'])[0],
      implementationColours(['flash'])[0],
      implementationColours(['dense'])[0],
      '#393b79',
      '#393b79',
    ]);
  });

  // A real run on wasm and native (skipped where the native addon did not load here).
  it.skipIf(backendUnavailableReason('native') !== undefined)(
    'measures each variant row at wasm and at native, in the JSON, the table and the charts',
    async () => {
      const suite = parseSuite({
        name: 'backends',
        description: 'backend axis',
        variants: ['naive', 'dense', 'flash'],
        threads: [1],
        peers: [],
        timing: { budgetMs: 5, minSamples: 2, maxSamples: 3, warmupSamples: 1, maxCallMs: 10_000 },
        accuracy: { rowsPerHead: 4 },
        memory: { enabled: false },
        groups: [{ id: 'tiny', title: 'Tiny', source: 'tests', heads: 2, headDim: 8, lengths: [16, 32] }],
      });
      const { results, resultsPath } = await runBenchmarks({
        suite,
        suitePath: null,
        quick: false,
        peers: false,
        outDir: join(directory, 'run'),
        charts: [],
        argv: [],
        progress: quiet(),
      });
      expect(parseResults(JSON.parse(readFileSync(resultsPath, 'utf8')))).toEqual(results);
      expect(results.options.backends).toEqual(['wasm', 'native']);
      const tiny = results.rows.filter((row) => row.caseId === 'tiny/N=16');
      expect(tiny.map((row) => [row.label, row.backend, row.status])).toEqual([
        ['naive', undefined, 'ok'],
        ['dense@wasm', 'wasm', 'ok'],
        ['dense@native', 'native', 'ok'],
        ['flash@wasm', 'wasm', 'ok'],
        ['flash@native', 'native', 'ok'],
      ]);
      for (const row of tiny)
        expect(row.accuracy?.rule, row.id).not.toEqual(expect.objectContaining({ pass: false }));
      // × dense compares within a backend: each dense row is exactly 1× its own backend's.
      for (const row of tiny.filter((r) => r.variant === 'dense'))
        expect(speedupVsDense(results, row)).toBe(1);
      const flashWasm = tiny.find((row) => row.label === 'flash@wasm')!;
      const denseWasm = tiny.find((row) => row.label === 'dense@wasm')!;
      expect(speedupVsDense(results, flashWasm)).toBe(denseWasm.time!.medianMs / flashWasm.time!.medianMs);
      const implementation = tableColumns(results).find((column) => column.header === 'implementation')!;
      expect(tiny.map((row) => implementation.cell(row))).toContain('flash@native');
      // Charts: series per backend, the backend on opacity (native solid, wasm faded).
      const chart = timeChart(results, 'tiny')!.spec as unknown as {
        encoding: {
          opacity?: {
            field: string;
            scale: { domain: string[]; range: number[] };
            legend: { values: string[] };
          };
        };
        data: { values: { series: string; backend: string }[] };
      };
      expect(chart.encoding.opacity?.field).toBe('backend');
      expect(chart.encoding.opacity?.legend.values).toEqual(['wasm', 'native']);
      const { domain, range } = chart.encoding.opacity!.scale;
      expect(range[domain.indexOf('native')]).toBeGreaterThan(range[domain.indexOf('wasm')]!);
      expect(new Set(chart.data.values.map((value) => `${value.series}:${value.backend}`))).toEqual(
        new Set([
          'naive:–',
          'dense@wasm:wasm',
          'dense@native:native',
          'flash@wasm:wasm',
          'flash@native:native',
        ]),
      );
    },
  );
});
