import { describe, expect, it } from 'vitest';
import {
  crossoverSentence,
  type DocsContext,
  parseMarkerArgs,
  rewriteMarkdown,
  scalingExponent,
} from '../docs.js';
import { alignedMarkdownTable } from '../report.js';
import { makeResults, makeRow, timedRow } from './fixtures.js';

const results = makeResults([
  timedRow('dense', 64, 1, 1),
  timedRow('dense', 128, 1, 4),
  timedRow('dense', 256, 1, 16),
  timedRow('flash', 64, 1, 0.5),
  makeRow({ label: 'flash', n: 64, threads: 2, status: 'skipped', reason: 'no worker pool' }),
]);
/** Tables are padded to column width; compare their content with runs of spaces collapsed. */
const squash = (text: string) => text.replace(/ {2,}/g, ' ');

const context: DocsContext = {
  results,
  resultsLabel: 'benchmarks/results/tiny.json',
  charts: ['charts/toy-time.svg', 'charts/toy-time.png'],
};

describe('docs sections', () => {
  it('rewrites only between markers, and rewriting twice changes nothing', () => {
    const text = [
      '# Dense',
      'Hand-written prose stays.',
      '<!-- results:variant variant=dense -->',
      'stale table',
      '<!-- /results -->',
      'More prose.',
      '<!-- results:charts group=toy kinds=time -->',
      '<!-- /results -->',
    ].join('\n');
    const once = rewriteMarkdown(text, context);
    expect(once).toContain('Hand-written prose stays.');
    expect(once).toContain('More prose.');
    expect(once).not.toContain('stale table');
    expect(squash(once)).toContain('| toy/N=256 |');
    expect(once).toContain('time ∝ N^2.00');
    expect(once).toContain('![toy-time](charts/toy-time.svg)');
    expect(rewriteMarkdown(once, context)).toBe(once);
  });

  it('lists skip reasons and the source of the figures', () => {
    const text =
      '<!-- results:skipped variant=flash -->\n<!-- /results -->\n<!-- results:source -->\n<!-- /results -->';
    const out = rewriteMarkdown(text, context);
    expect(out).toContain('- flash: no worker pool (1 row)');
    expect(out).toContain('`benchmarks/results/tiny.json`');
    expect(out).toContain('test cpu');
  });

  it('computes speedups against a baseline from the rows, per N', () => {
    const out = squash(
      rewriteMarkdown('<!-- results:speedup group=toy variant=flash -->\n<!-- /results -->', context),
    );
    // dense 1 ms / flash 0.5 ms at N = 64 (fixture peaks: 2 KiB per N); flash has no rows at 128 and 256.
    expect(out).toContain('| 64 | 1.000 ms | 0.500 ms | 2.00× | 128 KiB | 128 KiB |');
    expect(out).toContain('| 128 | 4.000 ms | – | – | 256 KiB | – |');
    expect(out).toContain(
      'flash is faster than dense at every measured N: the crossover lies at or below N = 64.',
    );
  });

  it('names the N from which a variant stays faster than its baseline', () => {
    const at = (pairs: [number, number][]) => pairs.map(([n, ratio]) => ({ n, ratio }));
    expect(
      crossoverSentence(
        at([
          [256, 0.5],
          [512, 1.2],
          [1024, 0.9],
          [2048, 1.5],
          [4096, 3],
        ]),
        'flash',
        'linear',
      ),
    ).toBe('linear overtakes flash between N = 1024 and N = 2048, and stays faster from there on.');
    expect(
      crossoverSentence(
        at([
          [256, 0.5],
          [512, 0.8],
        ]),
        'flash',
        'linear',
      ),
    ).toBe('linear is not faster than flash at the largest measured N (512).');
    expect(crossoverSentence([], 'flash', 'linear')).toBe('No N has timings for both flash and linear.');
  });

  it('states the source in one line', () => {
    const out = rewriteMarkdown('<!-- results:source-line -->\n<!-- /results -->', context);
    expect(out).toContain('Figures from `benchmarks/results/tiny.json` (suite `tiny`; test cpu, 2 cores;');
  });

  it('fills the ring-attention section from the oracle', () => {
    const out = squash(rewriteMarkdown('<!-- results:lse-merge -->\n<!-- /results -->', context));
    expect(out).toMatch(/\| 2 \| \d\.\de-1\d \|/);
  });

  it('parses marker arguments', () => {
    expect(parseMarkerArgs(' variant=linear:favor group=gpt2-small')).toEqual({
      variant: 'linear:favor',
      group: 'gpt2-small',
    });
  });
});

describe('markdown tables', () => {
  it('pads columns the way the formatter does (right-aligned columns on the left)', () => {
    const table = alignedMarkdownTable(
      ['name', 'ms'],
      [
        ['flash', '1.5'],
        ['dense', '12.25'],
      ],
      ['left', 'right'],
    );
    expect(table.split('\n')).toEqual([
      '| name  |    ms |',
      '| ----- | ----: |',
      '| flash |   1.5 |',
      '| dense | 12.25 |',
    ]);
  });
});

describe('scaling exponent', () => {
  it('recovers the power of a power law', () => {
    const points = [256, 512, 1024, 2048].map((n) => ({ n, ms: 3e-6 * n ** 1.5 }));
    expect(scalingExponent(points)).toBeCloseTo(1.5, 10);
  });

  it('needs three distinct N', () => {
    expect(
      scalingExponent([
        { n: 1, ms: 1 },
        { n: 2, ms: 4 },
      ]),
    ).toBeNull();
  });
});
