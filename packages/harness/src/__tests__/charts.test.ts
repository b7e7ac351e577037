import { describe, expect, it } from 'vitest';
import { chartSpecs, errorChart, memoryChart, renderSvg, svgToPng, timeChart } from '../charts.js';
import type { ResultRow } from '../results.js';
import { weightsSpec } from '../weights-figure.js';
import { makeResults, makeRow, timedRow } from './fixtures.js';

const rows: ResultRow[] = [];
for (const n of [64, 128, 256]) {
  rows.push(timedRow('dense', n, 1, n * n * 1e-5), timedRow('flash', n, 1, n * n * 0.8e-5, 1.5e-7));
}
rows.push(makeRow({ label: 'flash', n: 64, threads: 2, status: 'skipped', reason: 'threads' }));
const results = makeResults(rows);

describe('chart specs', () => {
  it('makes the five charts per attention group, named after the group', () => {
    expect(chartSpecs(results).map((chart) => chart.name)).toEqual([
      'toy-time',
      'toy-gflops',
      'toy-memory',
      'toy-error',
      'toy-accuracy-speed',
    ]);
  });

  it('plots only measured rows and states the direction in every title', () => {
    const time = timeChart(results, 'toy');
    if (!time) throw new Error('no time chart');
    const data = (time.spec as { data: { values: unknown[] } }).data.values;
    expect(data).toHaveLength(6);
    for (const chart of chartSpecs(results)) {
      const subtitle = (chart.spec as { title: { subtitle: string } }).title.subtitle;
      expect(subtitle, chart.name).toMatch(/(lower|higher|lower-left) is better/);
    }
  });

  it('draws analytic and measured memory as separate series', () => {
    const memory = memoryChart(results, 'toy');
    if (!memory) throw new Error('no memory chart');
    const values = (memory.spec as { data: { values: { source: string }[] } }).data.values;
    expect(new Set(values.map((value) => value.source))).toEqual(
      new Set(['analytic workspaceBytes', 'measured peak RSS − baseline']),
    );
  });

  it('has no chart for a group without measurements', () => {
    expect(errorChart(makeResults([]), 'toy')).toBeNull();
  });
});

describe('rendering', () => {
  it('renders SVG with the axis titles and a PNG', async () => {
    const chart = timeChart(results, 'toy');
    expect(chart).not.toBeNull();
    const svg = await renderSvg(chart!.spec);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.length).toBeGreaterThan(2000);
    expect(svg).toContain('median ms per call (log)');
    expect(svg).toContain('sequence length N (log scale)');
    expect(svg).toContain('lower is better');
    const png = await svgToPng(svg, 600);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  it('renders the attention-weights heatmap spec', async () => {
    const length = 4;
    const identity = Float64Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0));
    const svg = await renderSvg(weightsSpec([{ title: 'identity panel', weights: identity }], length));
    expect(svg).toContain('identity panel');
    expect(svg).toContain('query i');
    expect(svg).toContain('key j');
  });
});
