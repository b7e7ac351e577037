import { describe, expect, it } from 'vitest';
import {
  ANALYTIC_PANEL,
  accuracySpeedChart,
  byteTicks,
  chartSpecs,
  errorChart,
  IMPLEMENTATION_COLOURS,
  implementationColours,
  MEASURED_PANEL,
  memoryChart,
  renderSvg,
  svgToPng,
  timeChart,
} from '../charts.js';
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

  it('draws measured peaks and analytic workspace in separate panels, each on its own tight axis', () => {
    const memory = memoryChart(results, 'toy');
    if (!memory) throw new Error('no memory chart');
    type Panel = {
      title: { text: string };
      data: { values: { n: number; bytes: number; series: string }[] };
      encoding: { y: { scale: { type: string; domain: [number, number] }; axis: { values: number[] } } };
    };
    const spec = memory.spec as unknown as { hconcat: Panel[]; resolve: { scale: { y: string } } };
    expect(spec.hconcat.map((panel) => panel.title.text)).toEqual([
      `${MEASURED_PANEL} vs N`,
      `${ANALYTIC_PANEL} vs N`,
    ]);
    expect(spec.resolve.scale.y).toBe('independent');
    const [measured, analytic] = spec.hconcat as [Panel, Panel];
    // The fixture: peak 2048·N bytes, workspace 1024·N bytes, N = 64, 128, 256, one thread only.
    expect(measured.data.values.map((value) => [value.series, value.n, value.bytes])).toEqual(
      ['dense', 'flash'].flatMap((series) => [64, 128, 256].map((n) => [series, n, 2048 * n])),
    );
    expect(analytic.data.values.map((value) => value.bytes).sort((a, b) => a - b)).toEqual(
      [64, 64, 128, 128, 256, 256].map((n) => 1024 * n),
    );
    // Tight: 2^17 .. 2^19 bytes for the peaks, 2^16 .. 2^18 for the workspace.
    expect(measured.encoding.y.scale).toMatchObject({ type: 'log', domain: [2 ** 17, 2 ** 19] });
    expect(analytic.encoding.y.scale).toMatchObject({ type: 'log', domain: [2 ** 16, 2 ** 18] });
    expect(measured.encoding.y.axis.values).toEqual([2 ** 17, 2 ** 18, 2 ** 19]);
  });

  it('spans the data with at most 7 power-of-two byte ticks', () => {
    expect(byteTicks([256, 2 ** 30])).toEqual({
      domain: [2 ** 8, 2 ** 30],
      ticks: [2 ** 8, 2 ** 12, 2 ** 16, 2 ** 20, 2 ** 24, 2 ** 28],
    });
    expect(byteTicks([3000, 3000])).toEqual({ domain: [2048, 4096], ticks: [2048, 4096] });
  });

  it('gives dashes and point shapes one meaning in every chart: the thread count', () => {
    const found: { chart: string; channel: string; field: string }[] = [];
    const walk = (node: unknown, chart: string) => {
      if (Array.isArray(node)) for (const item of node) walk(item, chart);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (
            (key === 'strokeDash' || key === 'shape') &&
            value &&
            typeof value === 'object' &&
            'field' in value
          )
            found.push({ chart, channel: key, field: String((value as { field: unknown }).field) });
          walk(value, chart);
        }
      }
    };
    for (const chart of chartSpecs(results)) walk(chart.spec, chart.name);
    expect(found.length).toBeGreaterThan(0);
    expect(found.filter((entry) => entry.field !== 'threads')).toEqual([]);
    expect(found.some((entry) => entry.chart === 'toy-time' && entry.channel === 'strokeDash')).toBe(true);
    expect(found.some((entry) => entry.chart === 'toy-accuracy-speed' && entry.channel === 'shape')).toBe(
      true,
    );
    // Memory is one thread: no dash at all (it used to mean "analytic" there).
    expect(found.filter((entry) => entry.chart === 'toy-memory')).toEqual([]);
  });

  it('has no chart for a group without measurements', () => {
    expect(errorChart(makeResults([]), 'toy')).toBeNull();
  });
});

/** CIE76 distance between two sRGB colours (#rrggbb), in Lab. */
function deltaE(a: string, b: string): number {
  const lab = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => {
      const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
      return c > 0.04045 ? ((c + 0.055) / 1.055) ** 2.4 : c / 12.92;
    }) as [number, number, number];
    const x = (r * 0.4124 + g * 0.3576 + bl * 0.1805) / 0.95047;
    const y = r * 0.2126 + g * 0.7152 + bl * 0.0722;
    const z = (r * 0.0193 + g * 0.1192 + bl * 0.9505) / 1.08883;
    const f = (v: number) => (v > 0.008856 ? Math.cbrt(v) : 7.787 * v + 16 / 116);
    return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
  };
  const [p, q] = [lab(a), lab(b)];
  return Math.hypot(p[0]! - q[0]!, p[1]! - q[1]!, p[2]! - q[2]!);
}

describe('colours', () => {
  it('gives every known implementation a colour far from every other (CIE76 ΔE ≥ 25)', () => {
    const names = Object.keys(IMPLEMENTATION_COLOURS);
    expect(names).toHaveLength(13);
    for (const a of names)
      for (const b of names)
        if (a < b)
          expect(
            deltaE(IMPLEMENTATION_COLOURS[a]!, IMPLEMENTATION_COLOURS[b]!),
            `${a} / ${b}`,
          ).toBeGreaterThanOrEqual(25);
    // The pairs the issue could not tell apart under category20.
    for (const [a, b] of [
      ['dense', 'ort-web:mha (peer)'],
      ['linear', 'linear:favor'],
      ['flash', 'ort-node:mha (peer)'],
    ] as const)
      expect(deltaE(IMPLEMENTATION_COLOURS[a]!, IMPLEMENTATION_COLOURS[b]!), `${a} / ${b}`).toBeGreaterThan(
        40,
      );
  });

  it("keeps an implementation's colour whatever else a run or chart contains", () => {
    const colourOf = (domain: string[], name: string) => implementationColours(domain)[domain.indexOf(name)];
    expect(colourOf(['flash'], 'flash')).toBe(IMPLEMENTATION_COLOURS.flash);
    expect(colourOf(['naive', 'dense', 'linear', 'flash', 'tfjs-wasm (peer)'], 'flash')).toBe(
      IMPLEMENTATION_COLOURS.flash,
    );
    // In the specs: the colour scale maps each name to its fixed colour in every chart.
    for (const chart of [timeChart(results, 'toy'), accuracySpeedChart(results, 'toy')]) {
      const color = JSON.stringify(chart?.spec).match(/"scale":\{"domain":(\[[^\]]*\]),"range":(\[[^\]]*\])/);
      const domain = JSON.parse(color?.[1] ?? '[]') as string[];
      const range = JSON.parse(color?.[2] ?? '[]') as string[];
      expect(range[domain.indexOf('dense')]).toBe(IMPLEMENTATION_COLOURS.dense);
      expect(range[domain.indexOf('flash')]).toBe(IMPLEMENTATION_COLOURS.flash);
    }
  });

  it('gives labels it does not know distinct colours of their own', () => {
    const colours = implementationColours(['dense', 'mine-a', 'mine-b']);
    expect(colours[0]).toBe(IMPLEMENTATION_COLOURS.dense);
    expect(new Set(colours).size).toBe(3);
    expect(Object.values(IMPLEMENTATION_COLOURS)).not.toContain(colours[1]);
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
