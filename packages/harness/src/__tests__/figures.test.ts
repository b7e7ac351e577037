import { describe, expect, it } from 'vitest';
import { computeFigures } from '../figures.js';
import { figuresMarkdown, markdownReport, terminalFigures } from '../report.js';
import type { ResultRow } from '../results.js';
import { parseSuite, type SuiteInput } from '../suite.js';
import { makeResults, timedRow } from './fixtures.js';

const group = (id: string, n: number, mask: Record<string, unknown> = {}) => ({
  id,
  title: id,
  source: 'tests',
  heads: 2,
  headDim: 8,
  lengths: [n],
  mask,
});

const suiteInput: SuiteInput = {
  name: 'masks-test',
  description: 'figures test',
  variants: ['dense', 'flash'],
  threads: [1, 2],
  groups: [
    group('plain', 64, { causal: true }),
    group('alibi', 64, { causal: true, alibi: true }),
    group('docs', 64, { causal: true, documents: { equal: 8 } }),
    group('one-doc', 64, { causal: true, documents: [0, 64] }),
  ],
  figures: [
    {
      id: 'alibi',
      claim: 'ALiBi costs at most 10 % over plain flash',
      group: 'alibi',
      baseline: 'plain',
      n: 64,
      label: 'flash',
      target: { atMost: 1.1 },
    },
    {
      id: 'documents-8',
      claim: 'eight documents in at most 1.3/8',
      group: 'docs',
      baseline: 'plain',
      n: 64,
      label: 'flash',
      target: { atMost: 0.1625 },
    },
    {
      id: 'documents-1',
      claim: 'one document as plain causal within noise',
      group: 'one-doc',
      baseline: 'plain',
      n: 64,
      label: 'flash',
      target: { withinNoise: true },
    },
  ],
};

/** A timed row of `label` in `group` (fixtures' timedRow: MAD = median/20, fastest = 0.9 · median). */
function row(
  groupId: string,
  label: string,
  threads: number,
  ms: number,
  backend?: 'wasm' | 'native',
): ResultRow {
  const base = timedRow(label, 64, threads, ms);
  const caseId = `${groupId}/N=64`;
  return {
    ...base,
    id: `${caseId}|${label}|t${threads}`,
    caseId,
    group: groupId,
    variant: label.split('@')[0] ?? label,
    ...(backend ? { backend } : {}),
  };
}

describe('suite figures: ratios computed from the run', () => {
  it('divides the measured median by the baseline of the same label and threads, and judges the target', () => {
    const results = makeResults(
      [
        row('plain', 'flash', 1, 100),
        row('alibi', 'flash', 1, 108),
        row('plain', 'flash', 2, 50),
        row('alibi', 'flash', 2, 56),
        row('docs', 'flash', 1, 16),
        row('one-doc', 'flash', 1, 104), // |4| ms against spreads 10 + 10.4: within noise
        row('one-doc', 'flash', 2, 80), // 30 ms slower, spreads 5 + 8: beyond noise
        row('plain', 'dense', 1, 1000),
        row('alibi', 'dense', 1, 9000), // another label: not part of the flash figure
      ],
      suiteInput,
    );
    const values = computeFigures(results);
    const find = (id: string, threads: number) =>
      values.find((value) => value.figure.id === id && value.threads === threads);
    expect(find('alibi', 1)).toMatchObject({ ratio: 1.08, status: 'met', measuredMs: 108, baselineMs: 100 });
    expect(find('alibi', 2)).toMatchObject({ ratio: 1.12, status: 'not met', detail: '1.120 > 1.1' });
    expect(find('documents-8', 1)).toMatchObject({ ratio: 0.16, status: 'met', detail: '0.160 ≤ 0.1625' });
    expect(find('documents-1', 1)).toMatchObject({ status: 'met' });
    expect(find('documents-1', 1)?.ratio).toBeCloseTo(1.04, 12);
    expect(find('documents-1', 2)).toMatchObject({
      status: 'not met',
      detail: 'slower beyond the measured spread (|30.00| ms vs 13.00 ms)',
    });
    expect(values.filter((value) => value.figure.id === 'alibi')).toHaveLength(2);
  });

  it('pairs rows by backend when a run measures several, and says which row is missing or skipped', () => {
    const skipped: ResultRow = {
      ...row('plain', 'flash@native', 1, 1, 'native'),
      status: 'skipped',
      reason: 'backend native unavailable: no addon',
    };
    delete (skipped as Partial<ResultRow>).time;
    const results = makeResults(
      [
        row('plain', 'flash@wasm', 1, 200, 'wasm'),
        row('alibi', 'flash@wasm', 1, 210, 'wasm'),
        skipped,
        row('alibi', 'flash@native', 1, 90, 'native'),
      ],
      suiteInput,
    );
    const alibi = computeFigures(results).filter((value) => value.figure.id === 'alibi');
    expect(alibi).toEqual([
      expect.objectContaining({ label: 'flash@wasm', ratio: 1.05, status: 'met' }),
      expect.objectContaining({
        label: 'flash@native',
        ratio: null,
        status: 'missing',
        detail: 'flash@native t=1 in plain at N=64 was skipped (backend native unavailable: no addon)',
      }),
    ]);
    expect(computeFigures(results).find((value) => value.figure.id === 'documents-8')).toMatchObject({
      status: 'missing',
      threads: null,
      detail: 'flash in docs at N=64 is not in this run',
    });
  });

  it('prints the figures under the table and in the report, and nothing for a suite without figures', () => {
    const results = makeResults([row('plain', 'flash', 1, 100), row('alibi', 'flash', 1, 108)], suiteInput);
    const text = terminalFigures(results);
    expect(text).toContain("figures (computed from this run's rows");
    expect(text).toMatch(/alibi\s+flash t=1\s+1\.080\s+target ≤ 1\.1: met \(1\.080 ≤ 1\.1\)/);
    const markdown = figuresMarkdown(results).join('\n');
    expect(markdown).toContain('## Figures');
    expect(markdown).toMatch(
      /\| alibi +\| flash +\| +1 \| +108\.0 ms \| +100\.0 ms \| +1\.080 \| ≤ 1\.1 +\| met \(1\.080 ≤ 1\.1\)/,
    );
    expect(markdown).toContain(
      '- `alibi`: ALiBi costs at most 10 % over plain flash (`alibi` over `plain` at N = 64)',
    );
    expect(markdownReport(results, [], '/tmp')).toContain('## Figures');
    const plain = makeResults([row('plain', 'flash', 1, 100)], { ...suiteInput, figures: undefined });
    expect(terminalFigures(plain)).toBe('');
    expect(figuresMarkdown(plain)).toEqual([]);
  });

  it('prints the first call incl. mask compilation of predicate rows', () => {
    const cold: ResultRow = { ...row('plain', 'flash', 1, 100), firstCall: { ms: 250, compileMs: 120 } };
    const results = makeResults([cold], { ...suiteInput, figures: undefined });
    expect(terminalFigures(results)).toContain(
      'plain/N=64 flash t=1: 250.0 ms (classification alone 120.0 ms; median with the mask cached 100.0 ms)',
    );
    const report = markdownReport(results, [], '/tmp');
    expect(report).toContain('First call incl. mask compilation');
    expect(report).toMatch(/\| plain\/N=64 \| flash +\| +1 \| +120\.0 ms \| +250\.0 ms \| +100\.0 ms \|/);
  });

  it('rejects figures naming a group, N or label the suite does not have', () => {
    const bad = (figure: Record<string, unknown>) => () =>
      parseSuite({ ...suiteInput, figures: [{ ...suiteInput.figures![0]!, ...figure }] as never }, 'f.json');
    expect(bad({ group: 'nope' })).toThrow('figures.0.group: no group nope in this suite');
    expect(bad({ n: 128 })).toThrow('figures.0.n: group alibi has no N = 128');
    expect(bad({ label: 'causal' })).toThrow(
      'figures.0.label: no variant or peer labelled causal in this suite',
    );
    expect(bad({ target: { atMost: 0 } })).toThrow('figures.0.target');
    expect(() =>
      parseSuite({ ...suiteInput, figures: [suiteInput.figures![0]!, suiteInput.figures![0]!] }, 'f.json'),
    ).toThrow('duplicate figure id alibi');
  });

  it('accepts a peer or a label@backend, and refuses a peer, label or backend the suite does not have', () => {
    const withPeer =
      (figure: Record<string, unknown>, extra: Partial<SuiteInput> = {}) =>
      () =>
        parseSuite(
          {
            ...suiteInput,
            peers: ['ort-node:mha'],
            ...extra,
            figures: [{ ...suiteInput.figures![0]!, ...figure }] as never,
          },
          'f.json',
        );
    expect(withPeer({ baselineLabel: 'ort-node:mha', backend: 'native' })).not.toThrow();
    expect(withPeer({ label: 'flash@native', baselineLabel: 'flash@wasm' })).not.toThrow();
    expect(withPeer({ baselineLabel: 'ort-node:gqa' })).toThrow(
      'figures.0.baselineLabel: no variant or peer labelled ort-node:gqa in this suite',
    );
    expect(withPeer({ backend: 'js' })).toThrow(
      "figures.0.backend: backend js is not among this suite's backends (wasm, native)",
    );
    expect(withPeer({ baselineBackend: 'native' }, { backends: ['wasm'] })).toThrow(
      "figures.0.baselineBackend: backend native is not among this suite's backends (wasm)",
    );
    expect(withPeer({ kind: 'peak-memory', label: 'causal', target: { atMost: 1 } })).toThrow(
      'figures.0.label: no variant or peer labelled causal in this suite',
    );
    expect(withPeer({ kind: 'peak-memory', target: { atLeast: 1 } })).toThrow('figures.0');
  });
});

/** The native suite's figures in small: a variant on two backends against a peer, and a memory figure. */
const peerSuite: SuiteInput = {
  name: 'native-test',
  description: 'peer figures test',
  variants: ['dense', 'flash'],
  threads: [1, 2],
  backends: ['wasm', 'native'],
  peers: ['ort-node:mha'],
  groups: [group('full', 64)],
  figures: [
    {
      id: 'vs-mha',
      claim: 'flash on native at least as fast as MultiHeadAttention',
      group: 'full',
      baseline: 'full',
      n: 64,
      label: 'flash',
      backend: 'native',
      baselineLabel: 'ort-node:mha',
      target: { atLeastTimesFaster: 1 },
    },
    {
      id: 'native-vs-wasm',
      claim: 'flash on native at least 3x flash on wasm on one thread',
      group: 'full',
      baseline: 'full',
      n: 64,
      label: 'flash',
      threads: 1,
      backend: 'native',
      baselineBackend: 'wasm',
      target: { atLeastTimesFaster: 3 },
    },
    {
      id: 'peak',
      kind: 'peak-memory',
      claim: 'peak RSS of the native call no more than the peer',
      group: 'full',
      baseline: 'full',
      n: 64,
      label: 'flash',
      threads: 1,
      backend: 'native',
      baselineLabel: 'ort-node:mha',
      target: { atMost: 1 },
    },
  ],
};

/** A peer row (no backend) of `full` at N = 64 with a median of `ms` and a measured peak of `peak` bytes. */
function peerRow(threads: number, ms: number, peak: number): ResultRow {
  const base = row('full', 'ort-node:mha', threads, ms);
  return {
    ...base,
    implementation: 'peer',
    variant: 'ort-node:mha',
    memory: {
      workspaceBytes: null,
      estimatedBytes: 0,
      measured: { status: 'ok', peakBytes: peak, baselineBytes: 0, floorBytes: 0 },
    },
  };
}

/** A variant row of `full` whose 1-thread memory case measured `peak` bytes. */
function variantRow(label: string, threads: number, ms: number, peak: number, backend: 'wasm' | 'native') {
  const base = row('full', label, threads, ms, backend);
  return {
    ...base,
    memory: {
      workspaceBytes: 0,
      estimatedBytes: 0,
      measured: { status: 'ok' as const, peakBytes: peak, baselineBytes: 0, floorBytes: 0 },
    },
  };
}

describe('figures against a peer, another backend, and peak memory', () => {
  const rows = () => [
    variantRow('flash@wasm', 1, 300, 40e6, 'wasm'),
    variantRow('flash@wasm', 2, 160, 40e6, 'wasm'),
    variantRow('flash@native', 1, 80, 30e6, 'native'),
    variantRow('flash@native', 2, 50, 30e6, 'native'),
    peerRow(1, 100, 60e6),
    peerRow(2, 45, 61e6),
  ];

  it('divides the native row by the peer row (which has no backend) on the same threads, native rows only', () => {
    const values = computeFigures(makeResults(rows(), peerSuite)).filter((v) => v.figure.id === 'vs-mha');
    expect(values).toEqual([
      expect.objectContaining({
        label: 'flash@native',
        threads: 1,
        measuredMs: 80,
        baselineMs: 100,
        ratio: 0.8,
        status: 'met',
        detail: '1.25× faster ≥ 1×',
      }),
      expect.objectContaining({
        label: 'flash@native',
        threads: 2,
        ratio: 50 / 45,
        status: 'not met',
        detail: '0.90× faster < 1×',
      }),
    ]);
  });

  it('divides native by wasm at one thread when the figure names the baseline backend', () => {
    const [value, ...rest] = computeFigures(makeResults(rows(), peerSuite)).filter(
      (v) => v.figure.id === 'native-vs-wasm',
    );
    expect(rest).toEqual([]);
    expect(value).toMatchObject({
      label: 'flash@native',
      threads: 1,
      measuredMs: 80,
      baselineMs: 300,
      status: 'met',
      detail: '3.75× faster ≥ 3×',
    });
  });

  it('divides measured peak RSS for a peak-memory figure, and prints bytes in the report', () => {
    const results = makeResults(rows(), peerSuite);
    const value = computeFigures(results).find((v) => v.figure.id === 'peak');
    expect(value).toMatchObject({
      label: 'flash@native',
      threads: 1,
      measuredMs: 30e6,
      baselineMs: 60e6,
      ratio: 0.5,
      status: 'met',
      detail: 'peak 28.6 MiB / 57.2 MiB = 0.500 ≤ 1',
    });
    const markdown = figuresMarkdown(results).join('\n');
    expect(markdown).toMatch(
      /\| peak +\| flash@native +\| +1 \| +28\.6 MiB \| +57\.2 MiB \| +0\.500 \| ≤ 1 +\|/,
    );
    expect(markdown).toContain(
      '- `peak`: peak RSS of the native call no more than the peer (peak RSS of flash@native t=1 over ort-node:mha t=1, `full` at N = 64)',
    );
    expect(markdown).toContain(
      '- `native-vs-wasm`: flash on native at least 3x flash on wasm on one thread (flash@native t=1 over flash@wasm t=1, `full` at N = 64)',
    );
  });

  it('says missing, with the reason, when the peer was skipped, absent, or its peak was not measured', () => {
    const notInstalled: ResultRow = {
      ...peerRow(1, 1, 1),
      status: 'skipped',
      reason: 'peer not installed: onnxruntime-node, protobufjs (optional dependency)',
    };
    delete (notInstalled as Partial<ResultRow>).time;
    const skippedPeer = computeFigures(makeResults([...rows().slice(0, 4), notInstalled], peerSuite));
    expect(skippedPeer.filter((v) => v.figure.id !== 'native-vs-wasm')).toEqual([
      expect.objectContaining({
        figure: expect.objectContaining({ id: 'vs-mha' }),
        label: 'flash@native',
        threads: 1,
        ratio: null,
        status: 'missing',
        detail:
          'ort-node:mha t=1 in full at N=64 was skipped (peer not installed: onnxruntime-node, protobufjs (optional dependency))',
      }),
      expect.objectContaining({
        figure: expect.objectContaining({ id: 'vs-mha' }),
        threads: 2,
        status: 'missing',
        detail: 'ort-node:mha in full at N=64 is not in this run',
      }),
      expect.objectContaining({
        figure: expect.objectContaining({ id: 'peak' }),
        status: 'missing',
        detail:
          'ort-node:mha t=1 in full at N=64 was skipped (peer not installed: onnxruntime-node, protobufjs (optional dependency))',
      }),
    ]);

    const noNative = computeFigures(
      makeResults(
        rows().filter((r) => r.backend !== 'native'),
        peerSuite,
      ),
    );
    expect(noNative.map((v) => [v.figure.id, v.status, v.detail])).toEqual([
      ['vs-mha', 'missing', 'flash@native in full at N=64 is not in this run'],
      ['native-vs-wasm', 'missing', 'flash@native t=1 in full at N=64 is not in this run'],
      ['peak', 'missing', 'flash@native t=1 in full at N=64 is not in this run'],
    ]);

    const unmeasured = rows().map((r) =>
      r.label === 'flash@native' && r.threads === 1
        ? {
            ...r,
            memory: {
              workspaceBytes: 0,
              estimatedBytes: 0,
              measured: { status: 'skipped' as const, reason: 'child exited 137' },
            },
          }
        : r,
    );
    expect(
      computeFigures(makeResults(unmeasured, peerSuite)).find((v) => v.figure.id === 'peak'),
    ).toMatchObject({
      status: 'missing',
      detail: 'the peak memory of flash@native t=1 in full at N=64 was not measured (child exited 137)',
    });
  });
});
