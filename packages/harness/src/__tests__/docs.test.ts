import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  crossoverSentence,
  type DocsContext,
  parseMarkerArgs,
  referencedCharts,
  rewriteDocs,
  rewriteMarkdown,
  scalingExponent,
  timingSpread,
  timingVerdict,
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
    // The fixture's spread is median / 10 (fastest sample 0.9 × median): 0.5 ms apart against 0.15 ms.
    expect(out).toContain('| 64 | 1.000 ms ± 0.050 ms | 0.500 ms ± 0.025 ms | 2.00× | 128 KiB | 128 KiB |');
    expect(out).toContain('| 128 | 4.000 ms ± 0.200 ms | – | – | 256 KiB | – |');
    expect(out).toContain(
      'flash is faster than dense at every measured N, by more than the measured spread: the crossover lies at or below N = 64.',
    );
  });

  /** Pairs of (N, baseline ms, variant ms) with a spread of `spread` ms on each median. */
  const at = (points: [number, number, number][], spread = 0.01) =>
    points.map(([n, baselineMs, variantMs]) => ({
      n,
      baselineMs,
      baselineSpreadMs: spread,
      variantMs,
      variantSpreadMs: spread,
    }));

  it('names the N from which a variant stays faster than its baseline beyond the spread', () => {
    expect(
      crossoverSentence(
        at([
          [256, 1, 2],
          [512, 1.2, 1],
          [1024, 0.9, 1],
          [2048, 1.5, 1],
          [4096, 3, 1],
        ]),
        'flash',
        'linear',
      ),
    ).toBe(
      'linear overtakes flash between N = 1024 and N = 2048, and stays faster (beyond the measured spread) from there on.',
    );
    expect(
      crossoverSentence(
        at([
          [256, 0.5, 1],
          [512, 0.8, 1],
        ]),
        'flash',
        'linear',
      ),
    ).toBe('linear is slower than flash at the largest measured N (512, 0.80×).');
    expect(crossoverSentence([], 'flash', 'linear')).toBe('No N has timings for both flash and linear.');
  });

  it('makes no claim from ratios within the measured spread (the issue: 1.00× and 1.01×)', () => {
    // dense / flash = 0.99×, 1.00×, 1.01× with each median ± 2 %: within noise everywhere.
    const noisy = (n: number, ratio: number) => [n, 10 * ratio, 10] as [number, number, number];
    expect(
      crossoverSentence(at([noisy(512, 0.99), noisy(1024, 1.0), noisy(2048, 1.01)], 0.2), 'dense', 'flash'),
    ).toBe(
      'flash and dense are within noise of each other at every measured N (the medians differ by less than their measured spread).',
    );
    // 1.01–1.03× with 2 % spreads: no "faster at every measured N".
    expect(
      crossoverSentence(at([noisy(1024, 1.01), noisy(2048, 1.03)], 0.2), 'flash', 'sliding-window'),
    ).toBe(
      'sliding-window and flash are within noise of each other at every measured N (the medians differ by less than their measured spread).',
    );
    // Within noise at 1024, clearly faster from 2048 on: the claim starts where the noise ends.
    expect(
      crossoverSentence(at([noisy(1024, 1.01), noisy(2048, 1.5), noisy(4096, 2)], 0.2), 'dense', 'flash'),
    ).toBe(
      'flash is faster than dense beyond noise from N = 2048 on (1.50×); at N = 1024 the two are within noise (1.01×).',
    );
    // Faster earlier, within noise at the largest N: no claim at the end either.
    expect(crossoverSentence(at([noisy(1024, 2), noisy(2048, 1.02)], 0.2), 'dense', 'flash')).toBe(
      'flash and dense are within noise of each other at the largest measured N (2048, 1.02×).',
    );
  });

  it('counts a difference only beyond the sum of both spreads', () => {
    const pair = (baselineMs: number, variantMs: number) => ({
      n: 1,
      baselineMs,
      baselineSpreadMs: 0.125,
      variantMs,
      variantSpreadMs: 0.125,
    });
    expect(timingVerdict(pair(1.25, 1))).toBe('within noise'); // 0.25 = spread: not beyond it
    expect(timingVerdict(pair(1.26, 1))).toBe('faster');
    expect(timingVerdict(pair(1, 1.26))).toBe('slower');
  });

  it("takes a median's spread as the larger of its MAD and its distance to the fastest sample", () => {
    // dense at N = 4096 in benchmarks/results/docs.json: 3 samples, MAD 2.37 ms, fastest 6.6 ms below.
    expect(timingSpread({ medianMs: 1203.2, madMs: 2.37, minMs: 1196.6 })).toBeCloseTo(6.6, 10);
    expect(timingSpread({ medianMs: 10, madMs: 0.5, minMs: 9.9 })).toBe(0.5);
    // With both spreads, dense 1203.2 vs flash 1195.2 (fastest 1187.9) is within noise, not "1.01× faster".
    expect(
      timingVerdict({
        n: 4096,
        baselineMs: 1203.2,
        baselineSpreadMs: timingSpread({ medianMs: 1203.2, madMs: 2.37, minMs: 1196.6 }),
        variantMs: 1195.2,
        variantSpreadMs: timingSpread({ medianMs: 1195.2, madMs: 3.93, minMs: 1187.9 }),
      }),
    ).toBe('within noise');
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

describe('attnkit-bench docs renders only the charts the notes embed', () => {
  const root = mkdtempSync(join(tmpdir(), 'attnkit-docs-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('names the charts of every charts marker (all kinds unless kinds= says which)', () => {
    expect(
      [
        ...referencedCharts([
          '<!-- results:charts group=a kinds=time,memory -->\n<!-- /results -->',
          'text <!-- results:charts group=b -->x<!-- /results --> <!-- results:source -->\n<!-- /results -->',
        ]),
      ].sort(),
    ).toEqual(['a-memory', 'a-time', 'b-accuracy-speed', 'b-error', 'b-gflops', 'b-memory', 'b-time']);
  });

  it('writes those as SVG, removes a chart of the run no note embeds, and leaves other files alone', async () => {
    const docs = join(root, 'docs');
    const charts = join(docs, 'charts');
    mkdirSync(charts, { recursive: true });
    writeFileSync(
      join(docs, 'note.md'),
      '# Note\n\n<!-- results:charts group=toy kinds=time -->\n<!-- /results -->\n',
    );
    writeFileSync(join(charts, 'toy-memory.svg'), '<svg/>');
    writeFileSync(join(charts, 'logo.svg'), '<svg/>');
    const log = await rewriteDocs(results, join(root, 'results.json'), docs, charts, ['svg']);
    expect(readdirSync(charts).sort()).toEqual(['logo.svg', 'toy-time.svg']);
    expect(existsSync(join(charts, 'toy-memory.svg'))).toBe(false);
    expect(log).toContain(`removed ${join(charts, 'toy-memory.svg')} (no note embeds it)`);
    expect(readFileSync(join(docs, 'note.md'), 'utf8')).toContain('![toy-time](charts/toy-time.svg)');
  });
});
