/**
 * The native suite (suites/native.json) and what it added to the harness: a group's own peer list,
 * the FMA-throughput ceiling in the results file (ceiling-probe.ts, measured by a real run), each
 * row's GFLOP/s against it (ceiling.ts, the '% ceiling' column, the docs sections ceiling,
 * ceiling-rows and memory).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendUnavailableReason, nativePathInfo } from '@attnkit/kernels';
import { afterAll, describe, expect, it } from 'vitest';
import { ceilingFraction, ceilingLines, rowCeiling } from '../ceiling.js';
import { type DocsContext, renderSection } from '../docs.js';
import { Progress } from '../progress.js';
import { PEER_IDS } from '../registry.js';
import { tableColumns } from '../report.js';
import { type CeilingProbe, parseResults, type ResultRow } from '../results.js';
import { casePeers, plannedRows, type RunContext } from '../run-context.js';
import { countSteps } from '../run-plan.js';
import { runBenchmarks } from '../runner.js';
import { expandBackends, expandGroup, loadSuite, normaliseVariantSpec, parseSuite } from '../suite.js';
import { makeResults, timedRow, tinySuiteInput } from './fixtures.js';

const directory = mkdtempSync(join(tmpdir(), 'attnkit-native-suite-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const quiet = () => new Progress(0, { write: () => true }, false);

describe('the native suite', () => {
  const { suite } = loadSuite('native');
  const context = {
    suite,
    specs: expandBackends(suite.variants.map(normaliseVariantSpec), suite.backends),
    threads: suite.threads,
    peers: [...suite.peers],
    // Node's steps (memory cases, peers): only counted where a run has them
    outOfProcess: {},
  } as unknown as RunContext;

  it("runs in each group only the peers that group's figures compare with", () => {
    const peersOf = (id: string) => {
      const group = suite.groups.find((candidate) => candidate.id === id)!;
      return casePeers(context, group, expandGroup(group)[0]!.n);
    };
    expect(peersOf('native-full')).toEqual(['ort-node:mha']);
    expect(peersOf('native-causal')).toEqual(['ort-node:mha', 'ort-node:gqa']);
    expect(peersOf('native-window')).toEqual(['ort-node:gqa']);
    expect(peersOf('native-dense')).toEqual(['ort-node:matmul']);
    // --peers ort-node:gqa: a group listing only other peers runs none
    expect(casePeers({ peers: ['ort-node:gqa'] }, suite.groups[0]!, 1024)).toEqual([]);
  });

  it('plans every row a figure reads, and counts the peers of each group once', () => {
    const planned = new Set<string>();
    for (const group of suite.groups) {
      for (const benchCase of expandGroup(group)) {
        for (const row of plannedRows(context, group, benchCase))
          planned.add(`${group.id}|${benchCase.n}|${row.label}|${row.threads}`);
      }
    }
    for (const figure of suite.figures ?? []) {
      if (!('label' in figure) || !('baseline' in figure)) continue;
      const threads = 'threads' in figure && figure.threads !== undefined ? [figure.threads] : suite.threads;
      const backend = 'backend' in figure ? figure.backend : undefined;
      for (const t of threads) {
        const label = backend ? `${figure.label}@${backend}` : figure.label;
        expect(planned, `${figure.id} measured`).toContain(`${figure.group}|${figure.n}|${label}|${t}`);
        const other = 'baselineLabel' in figure ? figure.baselineLabel : undefined;
        const againstBackend = 'baselineBackend' in figure ? figure.baselineBackend : undefined;
        const against = other ?? `${figure.label}@${againstBackend ?? backend}`;
        expect(planned, `${figure.id} baseline`).toContain(`${figure.baseline}|${figure.n}|${against}|${t}`);
      }
    }
    // per case: rows (labels × threads), a memory step per label (full and causal only), peers × threads.
    // full, 2 N: flash on 2 backends; causal: flash and causal on 2 backends, 2 peers; window: 4
    // labels, 1 peer; dense: dense on 2 backends, 1 peer
    expect(countSteps(context)).toBe(
      2 * (2 * 2 + 2 + 1 * 2) + (4 * 2 + 4 + 2 * 2) + (4 * 2 + 2) + (2 * 2 + 2),
    );
  });

  it("refuses a group's peer that is not among the suite's", () => {
    expect(() =>
      parseSuite(
        {
          ...tinySuiteInput,
          peers: ['ort-node:mha'],
          groups: [{ ...tinySuiteInput.groups[0]!, peers: ['ort-node:gqa'] }],
        },
        'x.json',
      ),
    ).toThrow("groups.0.peers: peer ort-node:gqa is not among the suite's peers (ort-node:mha)");
    expect(() =>
      parseSuite({ ...tinySuiteInput, groups: [{ ...tinySuiteInput.groups[0]!, peers: [] }] }),
    ).toThrow('groups.0.peers');
    expect(PEER_IDS).toContain('ort-node:matmul');
  });
});

const probes: CeilingProbe[] = [
  { backend: 'wasm', path: 'simd128', selected: true, status: 'ok', gflops: 60 },
  { backend: 'native', path: 'avx512', selected: false, status: 'ok', gflops: 250 },
  { backend: 'native', path: 'avx2', selected: true, status: 'ok', gflops: 125 },
  {
    backend: 'native',
    path: 'baseline',
    selected: false,
    status: 'skipped',
    reason: 'cut short',
    gflops: null,
  },
];

/** A timed row of `label` on `backend` whose GFLOP/s is exactly `gflops`. */
function rowAt(label: string, threads: number, gflops: number, extra: Partial<ResultRow> = {}): ResultRow {
  const row = timedRow(label, 64, threads, 1);
  return { ...row, ...extra, time: { ...row.time!, gflops } };
}

describe('each row against the ceiling of the path it ran on', () => {
  const results = { ceiling: probes };

  it('takes the selected path of the row’s backend times its threads; a peer gets the best path', () => {
    expect(rowCeiling(results, rowAt('flash@native', 2, 100, { backend: 'native' }))).toEqual({
      path: 'avx2',
      perCore: 125,
      gflops: 250,
    });
    expect(ceilingFraction(results, rowAt('flash@native', 2, 100, { backend: 'native' }))).toBe(0.4);
    expect(ceilingFraction(results, rowAt('flash@wasm', 1, 45, { backend: 'wasm' }))).toBe(0.75);
    const peer = rowAt('ort-node:mha', 1, 200, { implementation: 'peer', variant: 'ort-node:mha' });
    expect(rowCeiling(results, peer)).toEqual({ path: 'avx512', perCore: 250, gflops: 250 });
    expect(ceilingFraction(results, rowAt('flash@js', 1, 1, { backend: 'js' }))).toBeNull();
    expect(ceilingFraction(results, rowAt('naive', 1, 1))).toBeNull();
    expect(ceilingFraction({}, rowAt('flash@native', 1, 1, { backend: 'native' }))).toBeNull();
    expect(ceilingLines(results)).toEqual([
      'wasm simd128 (the path its rows ran on): 60.0 GFLOP/s per core',
      'native avx512: 250.0 GFLOP/s per core',
      'native avx2 (the path its rows ran on): 125.0 GFLOP/s per core',
      'native baseline: skipped (cut short)',
    ]);
  });

  it("adds a '% ceiling' column after GFLOP/s only to runs that measured a ceiling", () => {
    const rows = [rowAt('flash', 2, 100, { backend: 'native' })];
    const without = makeResults(rows);
    expect(tableColumns(without).map((column) => column.header)).not.toContain('% ceiling');
    const withCeiling = { ...without, ceiling: probes };
    const headers = tableColumns(withCeiling).map((column) => column.header);
    expect(headers.indexOf('% ceiling')).toBe(headers.indexOf('GFLOP/s') + 1);
    const column = tableColumns(withCeiling).find((candidate) => candidate.header === '% ceiling')!;
    expect(column.cell(rows[0]!)).toBe('40 % avx2');
  });

  it('renders the ceiling, ceiling-rows and memory sections of a note, and the run command for another suite', () => {
    const rows = [
      rowAt('flash@native', 1, 100, { backend: 'native' }),
      rowAt('ort-node:mha', 1, 125, { implementation: 'peer', variant: 'ort-node:mha' }),
    ];
    const context: DocsContext = {
      results: { ...makeResults(rows), ceiling: probes },
      resultsLabel: 'benchmarks/results/native.json',
      charts: [],
    };
    expect(renderSection('ceiling', {}, context)).toBe(
      ceilingLines({ ceiling: probes })
        .map((l) => `- ${l}`)
        .join('\n'),
    );
    const table = renderSection('ceiling-rows', { group: 'toy' }, context).split('\n');
    expect(table[0]).toMatch(
      /^\| case +\| implementation +\| thr \| +median \| GFLOP\/s \| +ceiling GFLOP\/s \| % ceiling \|$/,
    );
    expect(table[2]).toMatch(
      /^\| toy\/N=64 \| flash@native +\| +1 \| 1\.000 ms \| +100\.0 \| +125 \(avx2 × 1\) \| +80 % \|$/,
    );
    expect(table[3]).toMatch(
      /^\| toy\/N=64 \| ort-node:mha \(peer\) \| +1 \| 1\.000 ms \| +125\.0 \| 250 \(avx512 × 1\) \| +50 % \|$/,
    );
    const memory = renderSection('memory', { group: 'toy' }, context).split('\n');
    // fixtures' timedRow: measured peak 2048·N, workspace 1024·N, estimate 4096·N bytes
    expect(memory[2]).toMatch(
      /^\| toy\/N=64 \| flash@native +\| +1 \| +128 KiB \| +64\.0 KiB \| +256 KiB \| maxrss \|$/,
    );
    expect(renderSection('ceiling-rows', { group: 'nope' }, context)).toBe(
      '_No timed rows of group `nope` in this results file._',
    );
    expect(renderSection('ceiling', {}, { ...context, results: makeResults(rows) })).toBe(
      '_No ceiling probe in this run (its suite has no `ceilingProbe`)._',
    );
    expect(renderSection('memory', { group: 'toy', suite: 'native' }, context)).toContain(
      'run `node packages/harness/dist/cli.js --suite native`',
    );
  });
});

describe.skipIf(backendUnavailableReason('native') !== undefined)('a run with a ceilingProbe', () => {
  it('records one core’s ceiling per native CPU path (the dispatched one marked) and wasm’s, before the rows', async () => {
    const suite = parseSuite({
      name: 'ceiling',
      description: 'ceiling probe',
      variants: ['dense', 'flash'],
      threads: [1],
      peers: [],
      timing: { budgetMs: 5, minSamples: 2, maxSamples: 3, warmupSamples: 1, maxCallMs: 10_000 },
      accuracy: { rowsPerHead: 4 },
      memory: { enabled: false },
      ceilingProbe: { iterations: 20_000, repeats: 3 },
      groups: [{ id: 'tiny', title: 'Tiny', source: 'tests', heads: 2, headDim: 8, lengths: [32] }],
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
    const info = nativePathInfo()!;
    expect(
      results.ceiling?.map((probe) => [probe.backend, probe.path, probe.selected, probe.status]),
    ).toEqual([
      ['wasm', 'simd128', true, 'ok'],
      ...info.paths.map((path) => ['native', path, path === info.path, 'ok']),
    ]);
    for (const probe of results.ceiling ?? []) expect(probe.gflops).toBeGreaterThan(0);
    const flash = results.rows.find((row) => row.label === 'flash@native')!;
    const selected = results.ceiling!.find((probe) => probe.backend === 'native' && probe.selected)!;
    expect(ceilingFraction(results, flash)).toBe(flash.time!.gflops / selected.gflops!);
  });
});
