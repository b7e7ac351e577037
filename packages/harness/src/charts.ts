/**
 * Charts from a results file: Vega-Lite specs (data + encoding, no hand-drawn SVG), compiled by
 * vega-lite, rendered to SVG by a headless vega View (renderer 'none', toSVG), and to PNG by
 * resvg. Per group of the suite: time vs N (log-log), GFLOP/s vs N, peak memory vs N (analytic
 * and measured), error vs N, and accuracy against speed. Every title states the direction.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { ResultRow, Results } from './results.js';
import { describeMask } from './suite.js';

export type ChartFormat = 'svg' | 'png';
export type ChartKind = 'time' | 'gflops' | 'memory' | 'error' | 'accuracy-speed';

export interface ChartSpec {
  /** File name without extension: `${group}-${kind}`. */
  readonly name: string;
  readonly kind: ChartKind;
  readonly group: string;
  readonly spec: TopLevelSpec;
}

const FONT = 'DejaVu Sans';
const WIDTH = 560;
const HEIGHT = 320;

/** category20 over a fixed domain: the same implementation has the same colour in every chart. */
function colorEncoding(domain: readonly string[], shown: readonly string[] = domain) {
  return {
    field: 'series',
    type: 'nominal',
    title: 'implementation',
    scale: { scheme: 'category20', domain: [...domain] },
    // The legend lists only what this chart shows; the scale keeps every colour fixed.
    legend: { values: [...shown] },
  } as const;
}

const DASHES = [
  [1, 0],
  [6, 4],
  [2, 3],
];

const baseConfig = {
  font: FONT,
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
  /** Each value has n, series, line (one line per series × second category) and yField. */
  readonly values: Record<string, unknown>[];
  readonly yField: string;
  readonly yTitle: string;
  readonly yLog: boolean;
  /** The second category (threads, or analytic vs measured): dashes on lines, opacity on bars. */
  readonly second: { field: string; title: string; domain: string[] } | null;
  readonly colorDomain: readonly string[];
}

/**
 * Lines against N (log₂ axis) when the group sweeps N; grouped bars per implementation when it
 * has a single N (a line with one point says nothing).
 */
function seriesSpec(chart: SeriesChart): TopLevelSpec {
  const lengths = [...new Set(chart.values.map((value) => value.n as number))].sort((a, b) => a - b);
  const y = {
    field: chart.yField,
    type: 'quantitative',
    scale: chart.yLog ? { type: 'log' } : { zero: true },
    title: chart.yTitle,
  };
  const present = chart.colorDomain.filter((name) => chart.values.some((value) => value.series === name));
  const color = colorEncoding(chart.colorDomain, present);
  const common = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    config: baseConfig,
    data: { values: chart.values },
  };
  if (lengths.length === 1) {
    // One N: a dot plot per implementation (bars cannot start at 0 on a log scale).
    return {
      ...common,
      title: { text: `${chart.title} (N = ${lengths[0]})`, subtitle: chart.subtitle },
      mark: { type: 'point', filled: true, size: 140, opacity: 0.9 },
      encoding: {
        x: {
          field: 'series',
          type: 'nominal',
          sort: present,
          title: null,
          axis: { labelAngle: -30, labelLimit: 200 },
        },
        y,
        color,
        ...(chart.second
          ? {
              xOffset: { field: chart.second.field, type: 'nominal', scale: { domain: chart.second.domain } },
              shape: {
                field: chart.second.field,
                type: 'nominal',
                title: chart.second.title,
                scale: {
                  domain: chart.second.domain,
                  range: ['circle', 'square', 'triangle-up'].slice(0, chart.second.domain.length),
                },
              },
            }
          : {}),
      },
    } as TopLevelSpec;
  }
  return {
    ...common,
    title: { text: `${chart.title} vs N`, subtitle: chart.subtitle },
    mark: { type: 'line', point: { size: 45 }, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'n',
        type: 'quantitative',
        scale: { type: 'log', base: 2 },
        axis: { values: lengths, format: 'd' },
        title: 'sequence length N (log scale)',
      },
      y,
      color,
      ...(chart.second
        ? {
            strokeDash: {
              field: chart.second.field,
              type: 'nominal',
              title: chart.second.title,
              // The first value solid, the others dashed, whatever order the data comes in.
              scale: { domain: chart.second.domain, range: DASHES.slice(0, chart.second.domain.length) },
              legend: {
                symbolType: 'stroke',
                symbolStrokeWidth: 2,
                symbolSize: 400,
                // Vega gives dash-only legend symbols no stroke colour of their own.
                encode: { symbols: { update: { stroke: { value: '#333' } } } },
              },
            },
          }
        : {}),
      detail: { field: 'line', type: 'nominal' },
    },
  } as TopLevelSpec;
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
    second: { field: 'threads', title: 'threads', domain: threadsDomain(rows) },
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
    second: { field: 'threads', title: 'threads', domain: threadsDomain(rows) },
    colorDomain: seriesDomain(results),
  });
  return { name: `${group}-gflops`, kind: 'gflops', group, spec };
}

const MIB = 1024 * 1024;
const ANALYTIC = 'analytic workspaceBytes';
const MEASURED = 'measured peak RSS − baseline';

export function memoryChart(results: Results, group: string): ChartSpec | null {
  const rows = okRows(results.rows, group).filter((row) => row.threads === 1 && row.memory);
  const values: Record<string, unknown>[] = [];
  for (const row of rows) {
    const memory = row.memory;
    if (!memory) continue;
    if (memory.workspaceBytes !== null && memory.workspaceBytes > 0) {
      values.push({
        n: row.n,
        mib: memory.workspaceBytes / MIB,
        series: seriesName(row),
        source: ANALYTIC,
        line: `${row.label}|analytic`,
      });
    }
    if (memory.measured?.status === 'ok' && memory.measured.peakBytes > 0) {
      values.push({
        n: row.n,
        mib: memory.measured.peakBytes / MIB,
        series: seriesName(row),
        source: MEASURED,
        line: `${row.label}|measured`,
      });
    }
  }
  if (values.length === 0) return null;
  const { title } = groupDescription(results, group);
  const spec = seriesSpec({
    title: `${title}: memory`,
    subtitle: 'lower is better · measured peak per call (fresh process) and analytic workspace · log',
    values,
    yField: 'mib',
    yTitle: 'MiB (log)',
    yLog: true,
    second: { field: 'source', title: 'memory', domain: [MEASURED, ANALYTIC] },
    colorDomain: seriesDomain(results),
  });
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
    second: null,
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
  const values = rows.map((row) => ({
    ms: row.time?.medianMs,
    error: row.accuracy?.vsOracle.maxAbs,
    series: seriesName(row),
    n: row.n,
    threads: threadsLabel(row.threads),
  }));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${title}: accuracy against speed`,
      subtitle: 'lower-left is better · one point per (N, threads) · point size = N',
    },
    width: WIDTH,
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
      color: colorEncoding(seriesDomain(results), [...new Set(values.map((value) => value.series))]),
      shape: { field: 'threads', type: 'nominal', title: 'threads' },
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

/** Vega-Lite → Vega → SVG string, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** SVG → PNG (2× for legibility), text set in the system's DejaVu Sans. */
export async function svgToPng(svg: string, width = 2 * (WIDTH + 260)): Promise<Uint8Array> {
  const { Resvg } = (await import('@resvg/resvg-js')) as typeof import('@resvg/resvg-js');
  const image = new Resvg(svg, {
    fitTo: { mode: 'width', value: width },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: FONT, sansSerifFamily: FONT },
  }).render();
  return image.asPng();
}

export async function writeChart(
  spec: TopLevelSpec,
  directory: string,
  name: string,
  formats: readonly ChartFormat[],
): Promise<string[]> {
  mkdirSync(directory, { recursive: true });
  const svg = await renderSvg(spec);
  const written: string[] = [];
  if (formats.includes('svg')) {
    const path = join(directory, `${name}.svg`);
    writeFileSync(path, svg);
    written.push(path);
  }
  if (formats.includes('png')) {
    const path = join(directory, `${name}.png`);
    writeFileSync(path, await svgToPng(svg));
    written.push(path);
  }
  return written;
}

/** Renders every chart of a results file into `directory`; returns the files written. */
export async function writeCharts(
  results: Results,
  directory: string,
  formats: readonly ChartFormat[],
): Promise<string[]> {
  const written: string[] = [];
  for (const chart of chartSpecs(results)) {
    written.push(...(await writeChart(chart.spec, directory, chart.name, formats)));
  }
  return written;
}
