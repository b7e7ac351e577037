/**
 * Charts as files: the Vega-Lite specs and their SVG (chart-specs.ts, shared with the browser
 * entry) written to a directory, and PNGs by resvg (a native addon, so Node only).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { CHART_FONT, CHART_WIDTH, chartSpecs, renderSvg } from './chart-specs.js';
import type { Results } from './results.js';

export * from './chart-specs.js';

export type ChartFormat = 'svg' | 'png';

/** SVG → PNG (2× for legibility), text set in the system's DejaVu Sans. */
export async function svgToPng(svg: string, width = 2 * (CHART_WIDTH + 260)): Promise<Uint8Array> {
  const { Resvg } = (await import('@resvg/resvg-js')) as typeof import('@resvg/resvg-js');
  const image = new Resvg(svg, {
    fitTo: { mode: 'width', value: width },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: CHART_FONT, sansSerifFamily: CHART_FONT },
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
