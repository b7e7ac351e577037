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
    expect(bad({ label: 'causal' })).toThrow('figures.0.label: no variant labelled causal in this suite');
    expect(bad({ target: { atMost: 0 } })).toThrow('figures.0.target');
    expect(() =>
      parseSuite({ ...suiteInput, figures: [suiteInput.figures![0]!, suiteInput.figures![0]!] }, 'f.json'),
    ).toThrow('duplicate figure id alibi');
  });
});
