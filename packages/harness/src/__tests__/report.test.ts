import { describe, expect, it } from 'vitest';
import {
  groupChartFiles,
  markdownReport,
  neverApplicable,
  tableWithNotes,
  terminalTable,
} from '../report.js';
import type { ResultRow } from '../results.js';
import type { SuiteInput } from '../suite.js';
import { makeResults, makeRow, timedRow } from './fixtures.js';

/** Two groups whose ids are prefixes of each other, as gpt2-small and gpt2-small-causal are. */
const twoGroups: SuiteInput = {
  name: 'two',
  description: 'test suite',
  variants: ['naive', 'dense', 'causal', 'flash'],
  threads: [1, 2],
  groups: [
    { id: 'gpt2-small', title: 'Full', source: 'tests', heads: 2, headDim: 8, lengths: [64, 128] },
    {
      id: 'gpt2-small-causal',
      title: 'Causal',
      source: 'tests',
      heads: 2,
      headDim: 8,
      lengths: [64, 128],
      mask: { causal: true },
    },
  ],
};

const CAUSAL_ONLY =
  'not supported: causal: the causal variant computes causal attention only: pass causal: true';
const SINGLE = 'not supported: naive is a single-threaded reference loop';

function inGroup(row: ResultRow, group: string): ResultRow {
  const caseId = `${group}/N=${row.n}`;
  return { ...row, group, caseId, id: `${caseId}|${row.label}|t${row.threads}` };
}

function skipped(label: string, n: number, threads: number, reason: string): ResultRow {
  return makeRow({ label, n, threads, status: 'skipped', reason });
}

const rows: ResultRow[] = [];
for (const group of ['gpt2-small', 'gpt2-small-causal']) {
  for (const n of [64, 128]) {
    rows.push(inGroup(timedRow('naive', n, 1, 5), group), inGroup(skipped('naive', n, 2, SINGLE), group));
    for (const threads of [1, 2]) {
      rows.push(inGroup(timedRow('dense', n, threads, 1), group));
      if (group === 'gpt2-small') rows.push(inGroup(skipped('causal', n, threads, CAUSAL_ONLY), group));
      else rows.push(inGroup(timedRow('causal', n, threads, 0.6), group));
    }
  }
}
// Skipped at one N only, or for a reason the variant did not give: these stay rows.
rows.push(inGroup(timedRow('flash', 64, 1, 0.5), 'gpt2-small'));
rows.push(inGroup(skipped('flash', 128, 1, 'not supported: something at this size'), 'gpt2-small'));
rows.push(inGroup(skipped('flash', 64, 2, 'one call predicted to take 2 s, over the 1 s cap'), 'gpt2-small'));
rows.push(
  inGroup(skipped('flash', 128, 2, 'one call predicted to take 2 s, over the 1 s cap'), 'gpt2-small'),
);
const results = makeResults(rows, twoGroups);

const chartFiles = ['gpt2-small', 'gpt2-small-causal'].flatMap((group) =>
  ['time', 'gflops', 'memory', 'error', 'accuracy-speed'].flatMap((kind) => [
    `/out/charts/${group}-${kind}.svg`,
    `/out/charts/${group}-${kind}.png`,
  ]),
);

describe('charts in the report', () => {
  it("picks exactly a group's own charts, SVG over PNG, not those of a group its id prefixes", () => {
    expect(groupChartFiles(chartFiles, 'gpt2-small')).toEqual(
      ['time', 'gflops', 'memory', 'error', 'accuracy-speed'].map(
        (kind) => `/out/charts/gpt2-small-${kind}.svg`,
      ),
    );
    expect(groupChartFiles(['/c/gpt2-small-causal-time.png'], 'gpt2-small')).toEqual([]);
    expect(groupChartFiles(['/c/gpt2-small-time.png'], 'gpt2-small')).toEqual(['/c/gpt2-small-time.png']);
  });

  it('embeds each chart once, in its own section (the issue: 34 embeds for 27 charts)', () => {
    const report = markdownReport(results, chartFiles, '/out');
    const embeds = [...report.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((match) => match[1]);
    expect(embeds).toHaveLength(10);
    expect(new Set(embeds).size).toBe(10);
    const [, full = '', causal = ''] = report.split(/^## /m);
    expect(full.startsWith('Full')).toBe(true);
    expect([...full.matchAll(/\]\(charts\/([^)]+)\)/g)].map((match) => match[1])).toEqual(
      ['time', 'gflops', 'memory', 'error', 'accuracy-speed'].map((kind) => `gpt2-small-${kind}.svg`),
    );
    expect([...causal.matchAll(/\]\(charts\/([^)]+)\)/g)].map((match) => match[1])).toEqual(
      ['time', 'gflops', 'memory', 'error', 'accuracy-speed'].map((kind) => `gpt2-small-causal-${kind}.svg`),
    );
  });
});

describe('skips that can never run', () => {
  it('are the series skipped at every N for one reason the variant gave', () => {
    const { rows: hidden, byGroup } = neverApplicable(results);
    // causal t=1,2 at both N in the full group (4) + naive t=2 at both N in each group (2 + 2).
    expect(hidden.size).toBe(8);
    expect(byGroup.get('gpt2-small')).toEqual([
      { group: 'gpt2-small', label: 'naive', threads: [2], reason: SINGLE, rows: 2 },
      { group: 'gpt2-small', label: 'causal', threads: [1, 2], reason: CAUSAL_ONLY, rows: 4 },
    ]);
    expect(byGroup.get('gpt2-small-causal')).toEqual([
      { group: 'gpt2-small-causal', label: 'naive', threads: [2], reason: SINGLE, rows: 2 },
    ]);
    // flash: "not supported" at one N only, and a size cap at every N: neither collapses.
    expect([...hidden].filter((row) => row.label === 'flash')).toEqual([]);
  });

  it('collapse to one line per group in the terminal table, the other rows unchanged', () => {
    const table = terminalTable(results).split('\n');
    expect(table.filter((line) => line.includes('not applicable'))).toEqual([
      '  gpt2-small: 6 rows not applicable at any N (naive t=2, causal t=1,2); reasons in the report',
      '  gpt2-small-causal: 2 rows not applicable at any N (naive t=2); reasons in the report',
    ]);
    // 2 header lines + 32 rows − 8 collapsed + 2 group lines.
    expect(table).toHaveLength(2 + results.rows.length - 8 + 2);
    expect(table.filter((line) => line.includes('not supported: causal'))).toEqual([]);
    expect(table.filter((line) => / flash /.test(line))).toHaveLength(4);
    // The collapsed line follows its group's rows.
    const index = table.findIndex((line) => line.startsWith('  gpt2-small:'));
    expect(table.slice(index + 1).some((line) => line.startsWith('gpt2-small/'))).toBe(false);
  });

  it('collapse to one line per group in the report, with the reasons, and stay in the results', () => {
    const report = markdownReport(results, [], '/out');
    const lines = report.split('\n').filter((line) => line.startsWith('Not applicable at any N'));
    expect(lines).toEqual([
      `Not applicable at any N (6 rows, kept in the results JSON): naive (t=2): ${SINGLE}; causal (t=1,2): ${CAUSAL_ONLY}`,
      `Not applicable at any N (2 rows, kept in the results JSON): naive (t=2): ${SINGLE}`,
    ]);
    expect(report).not.toContain(`| ${'gpt2-small/N=64'} | causal`);
    // The closing skip list keeps only the other skips.
    const skippedSection = report.slice(report.indexOf('## Skipped'));
    expect(skippedSection).toContain('flash: not supported: something at this size (1 row)');
    expect(skippedSection).toContain('flash: one call predicted to take 2 s, over the 1 s cap (2 rows)');
    expect(skippedSection).not.toContain('causal:');
    expect(results.rows.filter((row) => row.status === 'skipped')).toHaveLength(11);
  });
});

describe('tableWithNotes', () => {
  const long = `threads not taken by the cache: ${'its attend refused it, '.repeat(4)}on the calling thread`;
  const other = `a different refusal that is also long enough to be a note: ${'x'.repeat(40)}`;
  const header = ['case', 'status'];
  const align = ['left', 'left'] as const;

  it('prints a long reason that several cells repeat once, as a numbered note each cell points to', () => {
    const body = [
      ['a', 'ok'],
      ['b', `skipped: ${long}`],
      ['c', `missing: row c t=2 was skipped (${long})`],
      ['d', `skipped: ${other}`],
      ['e', `skipped: ${other}`],
    ];
    const lines = tableWithNotes(header, body, align, [null, long, long, other, other]).split('\n');
    expect(lines.slice(2, 7).map((line) => line.replace(/ +\|$/, ' |'))).toEqual([
      '| a    | ok |',
      '| b    | skipped: note 1 |',
      '| c    | missing: row c t=2 was skipped (note 1) |',
      '| d    | skipped: note 2 |',
      '| e    | skipped: note 2 |',
    ]);
    expect(lines.slice(7)).toEqual(['', `- note 1: ${long}`, `- note 2: ${other}`]);
  });

  it('leaves a reason inline when one cell holds it or it is short, and escapes pipes in the notes', () => {
    const piped = `${long} | and a pipe`;
    const escaped = piped.replace(/\|/g, '\\|');
    const body = [
      ['a', `skipped: ${long}`],
      ['b', 'skipped: short'],
      ['c', 'skipped: short'],
      ['d', `skipped: ${escaped}`],
      ['e', `skipped: ${escaped}`],
    ];
    const table = tableWithNotes(header, body, align, [long, 'short', 'short', piped, piped]);
    const lines = table.split('\n');
    expect(lines[2]).toContain(`skipped: ${long}`);
    expect(lines[3]).toContain('skipped: short');
    expect(lines[5]).toContain('skipped: note 1');
    expect(lines.at(-1)).toBe(`- note 1: ${escaped}`);
    // nothing repeated and long: the plain table, no notes
    expect(tableWithNotes(header, body.slice(0, 3), align, [long, 'short', 'short'])).not.toContain('note');
  });
});
