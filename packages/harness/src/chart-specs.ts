/**
 * Charts from a results file: Vega-Lite specs (data + encoding, no hand-drawn SVG), compiled by
 * vega-lite, rendered to SVG by a headless vega View (renderer 'none', toSVG; charts.ts turns
 * that into PNG with resvg). Per group of the suite: time vs N (log-log), GFLOP/s vs N, peak memory vs N (measured
 * and analytic in separate panels), error vs N, and accuracy against speed. Every title states
 * the direction. One visual language across every chart: colour = implementation (a fixed colour
 * per name, IMPLEMENTATION_COLOURS; 'flash@wasm' and 'flash@native' share flash's), line dash and
 * point shape = thread count, opacity = kernels backend (native solid, wasm faded), nothing else.
 *
 * No node:* here: the Node charts (charts.ts writes them to files) and the browser's (the
 * playground, through the `@attnkit/harness/browser` entry) come from these same functions.
 */
import type { TopLevelSpec } from 'vega-lite';
import { describeMask } from './mask-spec.js';
import type { ResultRow, Results } from './results.js';

/** The chart kinds, in the order a group's charts are drawn and embedded (file `${group}-${kind}`). */
export const CHART_KINDS = ['time', 'gflops', 'memory', 'error', 'accuracy-speed'] as const;
export type ChartKind = (typeof CHART_KINDS)[number];

export interface ChartSpec {
  /** File name without extension: `${group}-${kind}`. */
  readonly name: string;
  readonly kind: ChartKind;
  readonly group: string;
  readonly spec: TopLevelSpec;
}

/** The charts' typeface (resvg sets the PNGs in the system's copy). */
export const CHART_FONT = 'DejaVu Sans';
/** A single-panel chart's plot width, px. */
export const CHART_WIDTH = 560;
const HEIGHT = 320;
/** Each of the memory chart's two panels. */
const PANEL_WIDTH = 330;

/**
 * One colour per implementation, the same in every chart of every run. Picked so that the pairs a
 * reader compares are far apart (dense / flash / linear / linear:favor / the peers): no two
 * share a hue family, which category20's light/dark pairs did (docs/design.md has no colour rule;
 * the charts test checks every pair's CIE76 distance).
 */
export const IMPLEMENTATION_COLOURS: Readonly<Record<string, string>> = {
  dense: '#1f63b4', // blue: the baseline
  naive: '#7f7f7f', // grey: the reference loop
  causal: '#ff7f0e', // orange
  'sliding-window': '#17becf', // cyan
  linear: '#2ca02c', // green
  'linear:favor': '#9467bd', // purple
  flash: '#d62728', // red
  'ort-node:mha (peer)': '#111111', // black
  'ort-node:matmul (peer)': '#8c564b', // brown
  'ort-node:gqa (peer)': '#00a087', // teal-green
  'ort-web:mha (peer)': '#e377c2', // pink
  'ort-web:matmul (peer)': '#bcbd22', // olive
  'tfjs-wasm (peer)': '#f5b700', // amber
};

/** Colours for labels a suite adds (e.g. another linear configuration), in order of appearance. */
const EXTRA_COLOURS = [
  '#393b79',
  '#ad494a',
  '#637939',
  '#7b4173',
  '#3182bd',
  '#e6550d',
  '#31a354',
  '#756bb1',
];

const BACKEND_SUFFIX = /@(wasm|native|js)$/;

/** The implementation a series name measures, without its backend ('flash@native' → 'flash'). */
export function colourKey(name: string): string {
  return name.replace(BACKEND_SUFFIX, '');
}

/** The backend a series runs on ('flash@wasm' → 'wasm'), or '–' (naive, the peers). */
export function seriesBackend(name: string): string {
  return BACKEND_SUFFIX.exec(name)?.[1] ?? NO_BACKEND;
}

const NO_BACKEND = '–';

/** One colour per implementation: every backend of it shares the colour (opacity tells them apart). */
export function implementationColours(domain: readonly string[]): string[] {
  const extras = new Map<string, string>();
  return domain.map((name) => {
    const key = colourKey(name);
    const known = IMPLEMENTATION_COLOURS[key];
    if (known) return known;
    if (!extras.has(key)) extras.set(key, EXTRA_COLOURS[extras.size % EXTRA_COLOURS.length] ?? '#000000');
    return extras.get(key) ?? '#000000';
  });
}

/**
 * The backend channel: opacity, which thread count (dash, shape) and implementation (colour) do
 * not use. Native fully opaque, wasm faded, js more so; rows without a backend opaque. Only when
 * a chart shows more than one backend.
 */
const BACKEND_OPACITY: Readonly<Record<string, number>> = {
  native: 0.95,
  wasm: 0.4,
  js: 0.22,
  [NO_BACKEND]: 0.95,
};

export function backendEncoding(values: readonly Record<string, unknown>[]) {
  const shown = [...new Set(values.map((value) => seriesBackend(value.series as string)))].filter(
    (backend) => backend !== NO_BACKEND,
  );
  if (shown.length < 2) return {};
  const domain = Object.keys(BACKEND_OPACITY);
  return {
    opacity: {
      field: 'backend',
      type: 'ordinal',
      sort: domain,
      title: 'backend',
      // 'ordinal': a value per backend (a point scale would spread the range evenly instead).
      scale: { type: 'ordinal', domain, range: domain.map((backend) => BACKEND_OPACITY[backend] ?? 1) },
      legend: { values: shown },
    },
  } as const;
}

/** Each value with its `backend` field (from its series name), for backendEncoding. */
function withBackend(values: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return values.map((value) => ({ ...value, backend: seriesBackend(value.series as string) }));
}

/** A fixed colour per implementation; the legend lists only what this chart shows. */
function colorEncoding(domain: readonly string[], shown: readonly string[] = domain) {
  return {
    field: 'series',
    type: 'nominal',
    title: 'implementation',
    scale: { domain: [...domain], range: implementationColours(domain) },
    legend: { values: [...shown] },
  } as const;
}

/** Thread count: the dash of a line and the shape of a point, in every chart (1 thread solid, circle). */
const DASHES = [
  [1, 0],
  [6, 4],
  [2, 3],
  [8, 3, 2, 3],
];
const SHAPES = ['circle', 'triangle-up', 'square', 'diamond'];

export const baseConfig = {
  // ARIA labels on every mark double an SVG's size and serve no one when it is embedded as an
  // image (a reader gets the image's alt text); docs/ keeps many of these files in git.
  aria: false,
  font: CHART_FONT,
  background: 'white',
  title: { fontSize: 15, subtitleFontSize: 12, anchor: 'start' as const, subtitleColor: '#444' },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#e4e4e4' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
};

function seriesName(row: ResultRow): string {
  return row.implementation === 'peer' ? `${row.label} (peer)` : row.label;
}

/** Every implementation of the run, variants first (in suite order), then peers. */
export function seriesDomain(results: Results): string[] {
  const names: string[] = [];
  for (const row of results.rows) {
    const name = seriesName(row);
    if (!names.includes(name)) names.push(name);
  }
  return names.sort((a, b) => Number(a.endsWith('(peer)')) - Number(b.endsWith('(peer)')));
}

function okRows(rows: readonly ResultRow[], group: string): ResultRow[] {
  return rows.filter((row) => row.group === group && row.status === 'ok');
}

function threadsLabel(threads: number): string {
  return threads === 1 ? '1 thread' : `${threads} threads`;
}

function threadsDomain(rows: readonly ResultRow[]): string[] {
  return [...new Set(rows.map((row) => row.threads))].sort((a, b) => a - b).map(threadsLabel);
}

interface SeriesChart {
  readonly title: string;
  readonly subtitle: string;
  /** Each value has n, series, line (one line per series × thread count) and yField. */
  readonly values: Record<string, unknown>[];
  readonly yField: string;
  readonly yTitle: string;
  readonly yLog: boolean;
  /** The thread-count labels of the rows drawn (field `threads`), or null when all ran on one. */
  readonly threads: string[] | null;
  readonly colorDomain: readonly string[];
  /** The y values are bytes: tight power-of-two ticks labelled B / KiB / MiB / GiB. */
  readonly bytes?: boolean;
}

/** Axis labels for a log scale in bytes ("256 KiB", "4 MiB"): powers of two read as round sizes. */
const BYTES_LABEL =
  "datum.value >= 1073741824 ? format(datum.value / 1073741824, '~r') + ' GiB' : " +
  "datum.value >= 1048576 ? format(datum.value / 1048576, '~r') + ' MiB' : " +
  "datum.value >= 1024 ? format(datum.value / 1024, '~r') + ' KiB' : format(datum.value, '~r') + ' B'";

/**
 * Power-of-two ticks spanning the data (at most 7) and the matching domain, so a log axis in bytes
 * starts and ends at the data, not decades away from it.
 */
export function byteTicks(values: readonly number[]): { domain: [number, number]; ticks: number[] } {
  const positive = values.filter((value) => value > 0);
  const lo = Math.floor(Math.log2(Math.min(...positive)));
  let hi = Math.ceil(Math.log2(Math.max(...positive)));
  if (hi === lo) hi = lo + 1;
  const step = Math.max(1, Math.ceil((hi - lo) / 6));
  const ticks: number[] = [];
  for (let k = lo; k <= hi; k += step) ticks.push(2 ** k);
  return { domain: [2 ** lo, 2 ** hi], ticks };
}

function yEncoding(chart: SeriesChart) {
  if (chart.bytes) {
    const { domain, ticks } = byteTicks(chart.values.map((value) => value[chart.yField] as number));
    return {
      field: chart.yField,
      type: 'quantitative',
      scale: { type: 'log', base: 2, domain },
      axis: { values: ticks, labelExpr: BYTES_LABEL },
      title: chart.yTitle,
    };
  }
  return {
    field: chart.yField,
    type: 'quantitative',
    scale: chart.yLog ? { type: 'log' } : { zero: true },
    title: chart.yTitle,
  };
}

function threadEncodings(threads: string[] | null, lines: boolean) {
  if (!threads) return {};
  const shape = {
    shape: {
      field: 'threads',
      type: 'nominal',
      title: 'threads',
      scale: { domain: threads, range: SHAPES.slice(0, threads.length) },
    },
  };
  if (!lines) return shape;
  return {
    ...shape,
    strokeDash: {
      field: 'threads',
      type: 'nominal',
      title: 'threads',
      // The first value solid, the others dashed, whatever order the data comes in.
      scale: { domain: threads, range: DASHES.slice(0, threads.length) },
      legend: {
        symbolType: 'stroke',
        symbolStrokeWidth: 2,
        symbolSize: 400,
        // Vega gives dash-only legend symbols no stroke colour of their own.
        encode: { symbols: { update: { stroke: { value: '#333' } } } },
      },
    },
  };
}

/**
 * One panel: lines against N (log₂ axis) when the values sweep N; a dot per implementation when
 * they have a single N (a line with one point says nothing).
 */
function seriesUnit(chart: SeriesChart, width: number): Record<string, unknown> {
  const lengths = [...new Set(chart.values.map((value) => value.n as number))].sort((a, b) => a - b);
  const present = chart.colorDomain.filter((name) => chart.values.some((value) => value.series === name));
  const color = colorEncoding(chart.colorDomain, present);
  // Implementations with equal values (flash, linear and linear:favor hold the same arena copies)
  // would hide each other: points shrink along the domain and are drawn largest first, so
  // coinciding points show as concentric rings, one colour each.
  const order = (value: Record<string, unknown>) => chart.colorDomain.indexOf(value.series as string);
  const values = withBackend(chart.values).sort((a, b) => order(a) - order(b));
  const backend = backendEncoding(values);
  const base = { width, height: HEIGHT, data: { values } };
  const size = {
    field: 'series',
    type: 'nominal',
    scale: {
      domain: [...chart.colorDomain],
      range: chart.colorDomain.map((_, index) => Math.max(25, 220 - 40 * index)),
    },
    legend: null,
  };
  if (lengths.length === 1) {
    return {
      ...base,
      title: { text: `${chart.title} (N = ${lengths[0]})`, subtitle: chart.subtitle },
      mark: { type: 'point', filled: true, opacity: 0.9 },
      encoding: {
        x: {
          field: 'series',
          type: 'nominal',
          sort: present,
          title: null,
          axis: { labelAngle: -30, labelLimit: 200 },
        },
        y: yEncoding(chart),
        color,
        size,
        ...(chart.threads
          ? { xOffset: { field: 'threads', type: 'nominal', scale: { domain: chart.threads } } }
          : {}),
        ...threadEncodings(chart.threads, false),
        ...backend,
      },
    };
  }
  const { strokeDash, shape } = threadEncodings(chart.threads, true) as {
    strokeDash?: unknown;
    shape?: unknown;
  };
  return {
    ...base,
    title: { text: `${chart.title} vs N`, subtitle: chart.subtitle },
    encoding: {
      x: {
        field: 'n',
        type: 'quantitative',
        scale: { type: 'log', base: 2 },
        axis: { values: lengths, format: 'd' },
        title: 'sequence length N (log scale)',
      },
      y: yEncoding(chart),
      color,
      ...backend,
    },
    layer: [
      {
        // Slightly translucent, so a line drawn over another of equal values still shows through.
        mark: { type: 'line', strokeWidth: 2, opacity: 0.85 },
        encoding: { ...(strokeDash ? { strokeDash } : {}), detail: { field: 'line', type: 'nominal' } },
      },
      {
        mark: { type: 'point', filled: true, opacity: 0.9 },
        encoding: { size, ...(shape ? { shape } : {}) },
      },
    ],
  };
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

function seriesSpec(chart: SeriesChart): TopLevelSpec {
  return { $schema: SCHEMA, config: baseConfig, ...seriesUnit(chart, CHART_WIDTH) } as TopLevelSpec;
}

function groupDescription(results: Results, group: string): { title: string; mask: string } {
  const spec = results.suite.groups.find((candidate) => candidate.id === group);
  return { title: spec?.title ?? group, mask: spec ? describeMask(spec.mask) : '' };
}

export function timeChart(results: Results, group: string): ChartSpec | null {
  const rows = okRows(results.rows, group).filter((row) => row.time);
  if (rows.length === 0) return null;
  const { title, mask } = groupDescription(results, group);
  const spec = seriesSpec({
    title: `${title}: time per call`,
    subtitle: `lower is better · median of tinybench samples · log scale · ${mask} mask`,
    values: rows.map((row) => ({
      n: row.n,
      ms: row.time?.medianMs,
      series: seriesName(row),
      threads: threadsLabel(row.threads),
      line: `${row.label}|${row.threads}`,
    })),
    yField: 'ms',
    yTitle: 'median ms per call (log)',
    yLog: true,
    threads: threadsDomain(rows),
    colorDomain: seriesDomain(results),
  });
  return { name: `${group}-time`, kind: 'time', group, spec };
}

export function gflopsChart(results: Results, group: string): ChartSpec | null {
  const rows = okRows(results.rows, group).filter((row) => row.time);
  if (rows.length === 0) return null;
  const { title } = groupDescription(results, group);
  const spec = seriesSpec({
    title: `${title}: throughput`,
    subtitle: 'higher is better · 2·(Dk+Dv)·attended pairs / median · log scale',
    values: rows.map((row) => ({
      n: row.n,
      gflops: row.time?.gflops,
      series: seriesName(row),
      threads: threadsLabel(row.threads),
      line: `${row.label}|${row.threads}`,
    })),
    yField: 'gflops',
    yTitle: 'GFLOP/s (log)',
    yLog: true,
    threads: threadsDomain(rows),
    colorDomain: seriesDomain(results),
  });
  return { name: `${group}-gflops`, kind: 'gflops', group, spec };
}

export const MEASURED_PANEL = 'measured peak';
export const ANALYTIC_PANEL = 'analytic workspace';

/**
 * Peak memory against N, one thread: the measured peak and the analytic workspace are different
 * quantities (the peak includes the arena copies of q, k, v and the output), so each has its own
 * panel and its own axis, in bytes, tight around its data; a shared axis ran from 0.0001 MiB
 * (naive's workspace) to 1000 MiB.
 */
export function memoryChart(results: Results, group: string): ChartSpec | null {
  const rows = okRows(results.rows, group).filter((row) => row.threads === 1 && row.memory);
  const measured: Record<string, unknown>[] = [];
  const analytic: Record<string, unknown>[] = [];
  for (const row of rows) {
    const memory = row.memory;
    if (!memory) continue;
    if (memory.measured?.status === 'ok' && memory.measured.peakBytes > 0)
      measured.push({ n: row.n, bytes: memory.measured.peakBytes, series: seriesName(row), line: row.label });
    if (memory.workspaceBytes !== null && memory.workspaceBytes > 0)
      analytic.push({ n: row.n, bytes: memory.workspaceBytes, series: seriesName(row), line: row.label });
  }
  if (measured.length === 0 && analytic.length === 0) return null;
  const { title } = groupDescription(results, group);
  const colorDomain = seriesDomain(results);
  const panel = (text: string, subtitle: string, values: Record<string, unknown>[]) =>
    seriesUnit(
      {
        title: text,
        subtitle,
        values,
        yField: 'bytes',
        yTitle: 'bytes (log)',
        yLog: true,
        threads: null,
        colorDomain,
        bytes: true,
      },
      PANEL_WIDTH,
    );
  const panels = [
    ...(measured.length > 0
      ? [panel(MEASURED_PANEL, 'per call, fresh process: peak RSS − baseline', measured)]
      : []),
    ...(analytic.length > 0 ? [panel(ANALYTIC_PANEL, "the variant's workspaceBytes", analytic)] : []),
  ];
  const spec = {
    $schema: SCHEMA,
    config: baseConfig,
    title: {
      text: `${title}: memory`,
      subtitle: 'lower is better · one thread · each panel on its own axis',
    },
    hconcat: panels,
    resolve: { scale: { color: 'shared', y: 'independent' }, legend: { color: 'shared' } },
  } as unknown as TopLevelSpec;
  return { name: `${group}-memory`, kind: 'memory', group, spec };
}

export function errorChart(results: Results, group: string): ChartSpec | null {
  const rows = okRows(results.rows, group).filter(
    (row) =>
      row.threads === 1 &&
      row.accuracy?.reference === 'float64-oracle' &&
      (row.accuracy.vsOracle.maxAbs ?? 0) > 0,
  );
  if (rows.length === 0) return null;
  const { title } = groupDescription(results, group);
  const spec = seriesSpec({
    title: `${title}: error`,
    subtitle: 'lower is better · max |out − float64 oracle| · for linear: distance from softmax',
    values: rows.map((row) => ({
      n: row.n,
      error: row.accuracy?.vsOracle.maxAbs,
      series: seriesName(row),
      line: row.label,
    })),
    yField: 'error',
    yTitle: 'max abs error (log)',
    yLog: true,
    threads: null,
    colorDomain: seriesDomain(results),
  });
  return { name: `${group}-error`, kind: 'error', group, spec };
}

export function accuracySpeedChart(results: Results, group: string): ChartSpec | null {
  const rows = okRows(results.rows, group).filter(
    (row) =>
      row.time && row.accuracy?.reference === 'float64-oracle' && (row.accuracy.vsOracle.maxAbs ?? 0) > 0,
  );
  if (rows.length === 0) return null;
  const { title } = groupDescription(results, group);
  const values = withBackend(
    rows.map((row) => ({
      ms: row.time?.medianMs,
      error: row.accuracy?.vsOracle.maxAbs,
      series: seriesName(row),
      n: row.n,
      threads: threadsLabel(row.threads),
    })),
  );
  const spec = {
    $schema: SCHEMA,
    title: {
      text: `${title}: accuracy against speed`,
      subtitle: 'lower-left is better · one point per (N, threads) · point size = N',
    },
    width: CHART_WIDTH,
    height: HEIGHT,
    config: baseConfig,
    data: { values },
    mark: { type: 'point', filled: true, opacity: 0.85 },
    encoding: {
      x: {
        field: 'ms',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'median ms per call (log) — lower is better',
      },
      y: { field: 'error', type: 'quantitative', scale: { type: 'log' }, title: 'max abs error (log)' },
      color: colorEncoding(seriesDomain(results), [
        ...new Set(values.map((value) => value.series as string)),
      ]),
      ...backendEncoding(values),
      ...threadEncodings(threadsDomain(rows), false),
      size: { field: 'n', type: 'quantitative', title: 'N', scale: { type: 'log', range: [30, 300] } },
    },
  } as TopLevelSpec;
  return { name: `${group}-accuracy-speed`, kind: 'accuracy-speed', group, spec };
}

/** Every chart a results file supports (groups without data produce none). */
export function chartSpecs(results: Results): ChartSpec[] {
  const specs: ChartSpec[] = [];
  for (const group of results.suite.groups) {
    const makers =
      group.kind === 'mha'
        ? [timeChart, gflopsChart]
        : [timeChart, gflopsChart, memoryChart, errorChart, accuracySpeedChart];
    for (const make of makers) {
      const spec = make(results, group.id);
      if (spec) specs.push(spec);
    }
  }
  return specs;
}

/**
 * Coordinates to 2 decimals (a hundredth of a pixel): vega writes 14-digit positions, a third
 * of the bytes of a committed chart.
 */
export function roundSvgNumbers(svg: string): string {
  return svg.replace(/(\d\.\d\d)\d+/g, '$1');
}

/** Vega-Lite → Vega → SVG string, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return roundSvgNumbers(await view.toSVG());
  } finally {
    view.finalize();
  }
}
