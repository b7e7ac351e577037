/**
 * `attnkit-bench docs`: the figures in docs/*.md come from a results file, never from a keyboard.
 * A note marks generated sections as
 *   <!-- results:NAME key=value ... -->  ...generated...  <!-- /results -->
 * and this module rewrites what lies between the markers (idempotently), and renders the charts
 * the notes embed into docs/charts/. Sections:
 *   source                     which results file, suite, machine, commit, date
 *   source-line                the same in one line (for the per-variant notes)
 *   speedup group=ID variant=ID [baseline=dense] [threads=1]
 *                              baseline time / variant time per N, and both peaks
 *   variant variant=ID         that implementation's rows (every group) + its time-vs-N slope
 *   case case=CASE_ID          every implementation on one case, side by side
 *   charts group=ID [kinds=a,b] image links to the group's charts
 *   skipped [variant=ID]       skip reasons, counted
 *   lse-merge                  the ring-attention merge identity, computed now with core's oracle
 *   weights                    the attention-weights figure
 *   figures [suite=NAME]       the suite's figures (ratios of two rows, target, verdict), as in the report
 *   decode group=ID suite=NAME a decode group's rows: time per token, tok/s, KV GB/s, % of the probe
 *   bandwidth suite=NAME       the run's streaming-bandwidth probes
 *   ceiling suite=NAME         the run's FMA-throughput ceilings (one core, per backend and CPU path)
 *   ceiling-rows group=ID suite=NAME
 *                              the group's timed rows: GFLOP/s against the ceiling of the path each ran on
 *   memory group=ID suite=NAME the group's measured peak RSS (variants' memory cases, the peers' own)
 *   mask-costs [implementation=flash] [threads=1]
 *                              one row per case of that implementation: mask, visible-pair fraction,
 *                              GFLOP per call (the FLOP model), median ± spread, GFLOP/s, first call
 *   mask-pairs suite=NAME      the FLOP model's visible pairs for every case of a named suite,
 *                              computed now with core's visiblePairs (needs no run)
 *   mask-picture kind=KIND [n=16] [svg=true] [kind's arguments]
 *                              a mask value drawn by core's maskToString (mask-pictures.ts lists the
 *                              kinds); svg=true also writes docs/charts/mask-picture-….svg and embeds it
 *
 * Which results file: every section reads the file given as `--results`, unless its marker says
 * `results=NAME`, which reads NAME.json in the same directory (`results=masks` next to
 * benchmarks/results/docs.json is benchmarks/results/masks.json; NAME is lowercase letters, digits
 * and dashes). So one command, `attnkit-bench docs --results benchmarks/results/docs.json`,
 * regenerates every note, each section from the run it cites. When NAME.json is missing or is not a
 * results file, each of its sections says so and how to make it (never a crash, and never the
 * previous figures left in place); the command prints a warning line. mask-picture, mask-pairs,
 * lse-merge and weights read no results file.
 * A section naming a suite (`suite=NAME`) renders, for results of another suite, the command that
 * produces them.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { visiblePairs } from '@attnkit/core';
import { ceilingLines, rowCeiling } from './ceiling.js';
import { CHART_KINDS, type ChartFormat, chartSpecs, writeChart } from './charts.js';
import { problemFor } from './flops.js';
import { lseMergeDemo } from './lse-merge.js';
import { formatBytes } from './machine.js';
import {
  MaskPictureError,
  maskPicture,
  maskPictureFile,
  maskPictureSvg,
  maskPictureText,
  maskPictureVisible,
} from './mask-pictures.js';
import { type TimedPair, timingSpread, timingVerdict } from './noise.js';
import {
  alignedMarkdownTable,
  bandwidthLines,
  describeRun,
  escapeCell,
  figuresTable,
  formatError,
  formatMs,
  markdownTable,
  type TableColumn,
  tableColumns,
  tableWithNotes,
} from './report.js';
import { type ResultRow, type Results, resultsSchema } from './results.js';
import { describeMask, expandGroup, listSuiteNames, loadSuite } from './suite.js';

export { type TimedPair, timingSpread, timingVerdict, type Verdict } from './noise.js';

export const MARKER = /<!-- results:([a-z-]+)((?:\s+[a-zA-Z]+=[^\s>]+)*)\s*-->[\s\S]*?<!-- \/results -->/g;

export function parseMarkerArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const match of text.matchAll(/([a-zA-Z]+)=([^\s>]+)/g)) {
    if (match[1] && match[2]) args[match[1]] = match[2];
  }
  return args;
}

export interface DocsContext {
  readonly results: Results;
  /** Path of the results file as the docs should cite it (relative to the repo). */
  readonly resultsLabel: string;
  /** Chart files available, relative to the docs directory. */
  readonly charts: readonly string[];
  /**
   * The other results files markers name with `results=NAME`: their context, or why there is none
   * (the text the sections print). A NAME absent here prints as not loaded.
   */
  readonly others?: ReadonlyMap<string, DocsContext | MissingResults>;
}

/** A results file a marker names that could not be used: the sections print `message`. */
export interface MissingResults {
  readonly missing: string;
}

/** `results=NAME`: a sibling results file, NAME.json (no path: a marker cannot reach outside the directory). */
export const RESULTS_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Sections that read no results file: a `results=` on them changes nothing. */
const RESULTS_FREE = new Set(['lse-merge', 'weights', 'mask-picture', 'mask-pairs']);

/** Least-squares slope of log(time) against log(N): the measured exponent of growth. */
export function scalingExponent(points: readonly { n: number; ms: number }[]): number | null {
  const usable = points.filter((point) => point.n > 0 && point.ms > 0);
  if (new Set(usable.map((point) => point.n)).size < 3) return null;
  const xs = usable.map((point) => Math.log(point.n));
  const ys = usable.map((point) => Math.log(point.ms));
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    den += ((xs[i] ?? 0) - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

function variantColumns(results: Results): TableColumn[] {
  const keep = new Set([
    'case',
    'thr',
    'median',
    '± mad',
    'GFLOP/s',
    '× dense',
    'max abs err',
    '2× rule',
    'workspace',
    'peak',
  ]);
  return [
    ...tableColumns(results).filter((column) => keep.has(column.header)),
    {
      header: 'status',
      cell: (row: ResultRow) => (row.status === 'ok' ? 'ok' : `skipped: ${row.reason ?? ''}`),
    },
  ];
}

function sectionSource(context: DocsContext): string {
  return [
    `Figures from \`${context.resultsLabel}\` (generated by \`attnkit-bench docs\`; do not edit by hand):`,
    '',
    ...describeRun(context.results),
  ].join('\n');
}

function sectionSourceLine(context: DocsContext): string {
  const { results } = context;
  const m = results.machine;
  const commit = results.git.commit ? results.git.commit.slice(0, 10) : 'unknown commit';
  return (
    `Figures from \`${context.resultsLabel}\` (suite \`${results.options.suite}\`; ${m.cpuModel}, ${m.cores} cores; ` +
    `Node ${results.node}; kernels backend ${results.backend ?? 'unknown'}; commit ${commit}; ${results.startedAt.slice(0, 10)}; ` +
    `load average ${m.loadAverage[0]} at the start: a shared machine, so read ratios within the run rather than absolute times). ` +
    'Generated by `attnkit-bench docs`.'
  );
}

function sectionSpeedup(context: DocsContext, args: Record<string, string>): string {
  const { results } = context;
  const baseline = args.baseline ?? 'dense';
  const threads = Number(args.threads ?? '1');
  const rows = results.rows.filter((row) => row.group === args.group && row.threads === threads);
  const lengths = [...new Set(rows.map((row) => row.n))].sort((a, b) => a - b);
  const body: string[][] = [];
  const points: TimedPair[] = [];
  for (const n of lengths) {
    const a = rows.find((row) => row.n === n && row.label === baseline);
    const b = rows.find((row) => row.n === n && row.label === args.variant);
    if (a?.time && b?.time)
      points.push({
        n,
        baselineMs: a.time.medianMs,
        baselineSpreadMs: timingSpread(a.time),
        variantMs: b.time.medianMs,
        variantSpreadMs: timingSpread(b.time),
      });
    const ratio = a?.time && b?.time ? `${(a.time.medianMs / b.time.medianMs).toFixed(2)}×` : '–';
    const peak = (row: ResultRow | undefined) =>
      row?.memory?.measured?.status === 'ok' ? formatBytes(row.memory.measured.peakBytes) : '–';
    const time = (row: ResultRow | undefined) =>
      row?.time ? `${formatMs(row.time.medianMs)} ± ${formatMs(row.time.madMs)}` : row ? 'skipped' : '–';
    body.push([String(n), time(a), time(b), ratio, peak(a), peak(b)]);
  }
  const header = [
    'N',
    `${baseline} median ± mad`,
    `${args.variant} median ± mad`,
    `${baseline} / ${args.variant}`,
    `${baseline} peak`,
    `${args.variant} peak`,
  ];
  const table = alignedMarkdownTable(header, body, ['right', 'right', 'right', 'right', 'right', 'right']);
  return `${table}\n\n${crossoverSentence(points, baseline, args.variant ?? '')}`;
}

const ratioText = (pair: TimedPair) => `${(pair.baselineMs / pair.variantMs).toFixed(2)}×`;

/**
 * Where `variant` overtakes `baseline` for good: the smallest measured N from which every larger
 * measured N has the variant faster beyond the measured spread (timingVerdict). Claims of
 * "faster" or "overtakes" are made only then; otherwise the sentence says "within noise".
 */
export function crossoverSentence(points: readonly TimedPair[], baseline: string, variant: string): string {
  if (points.length === 0) return `No N has timings for both ${baseline} and ${variant}.`;
  const verdicts = points.map(timingVerdict);
  const last = points.at(-1)!;
  if (verdicts.every((verdict) => verdict === 'within noise'))
    return `${variant} and ${baseline} are within noise of each other at every measured N (the medians differ by less than their measured spread).`;
  let from = -1;
  for (let i = points.length - 1; i >= 0 && verdicts[i] === 'faster'; i--) from = i;
  if (from === -1) {
    return verdicts.at(-1) === 'within noise'
      ? `${variant} and ${baseline} are within noise of each other at the largest measured N (${last.n}, ${ratioText(last)}).`
      : `${variant} is slower than ${baseline} at the largest measured N (${last.n}, ${ratioText(last)}).`;
  }
  if (from === 0)
    return `${variant} is faster than ${baseline} at every measured N, by more than the measured spread: the crossover lies at or below N = ${points[0]!.n}.`;
  const before = points[from - 1]!;
  const at = points[from]!;
  if (verdicts[from - 1] === 'within noise')
    return `${variant} is faster than ${baseline} beyond noise from N = ${at.n} on (${ratioText(at)}); at N = ${before.n} the two are within noise (${ratioText(before)}).`;
  return `${variant} overtakes ${baseline} between N = ${before.n} and N = ${at.n}, and stays faster (beyond the measured spread) from there on.`;
}

function sectionVariant(context: DocsContext, args: Record<string, string>): string {
  const { results } = context;
  const label = args.variant ?? '';
  const rows = results.rows.filter((row) => row.label === label);
  if (rows.length === 0) return `_No rows for \`${label}\` in this results file._`;
  const lines = [markdownTable(results, rows, variantColumns(results))];
  const slopes: string[] = [];
  for (const group of results.suite.groups) {
    for (const threads of results.options.threads) {
      const points = rows
        .filter(
          (row) => row.group === group.id && row.threads === threads && row.time && !group.fixedTotalTokens,
        )
        .map((row) => ({ n: row.n, ms: row.time?.medianMs ?? 0 }));
      const slope = scalingExponent(points);
      if (slope !== null)
        slopes.push(
          `${group.title}, ${threads} thread${threads === 1 ? '' : 's'}: time ∝ N^${slope.toFixed(2)}`,
        );
    }
  }
  if (slopes.length > 0)
    lines.push('', `Measured growth (least-squares slope of log time against log N): ${slopes.join('; ')}.`);
  const failing = rows.filter(
    (row) => row.accuracy?.rule.name === '2x-naive-float32' && !row.accuracy.rule.pass,
  );
  if (failing.length > 0)
    lines.push(
      '',
      `**${failing.length} row(s) break the 2× float32 rule**: ${failing.map((row) => row.id).join(', ')}.`,
    );
  const own = rows.filter((row) => row.accuracy?.vsOwnOracle);
  if (own.length > 0) {
    const worst = Math.max(
      ...own.map((row) => row.accuracy?.vsOwnOracle?.maxAbs ?? Number.POSITIVE_INFINITY),
    );
    lines.push(
      '',
      `Fidelity to its own float64 oracle (the quadratic form): max abs error ≤ ${formatError(worst)} over ${own.length} rows.`,
    );
  }
  return lines.join('\n');
}

function sectionCase(context: DocsContext, args: Record<string, string>): string {
  const { results } = context;
  const rows = results.rows.filter((row) => row.caseId === args.case);
  if (rows.length === 0) return `_No rows for case \`${args.case}\` in this results file._`;
  const first = rows[0];
  const shape = first?.shape;
  const heading = shape
    ? `B=${shape.batch}, Hq=${shape.qHeads}, Hkv=${shape.kvHeads}, Lq=${shape.qLength}, Lk=${shape.kvLength}, Dk=${shape.headDim}, Dv=${shape.valueDim}, mask ${describeMask(first.mask)}; ${(first.flops / 1e9).toFixed(2)} GFLOP per call (${pairsText(first.pairs, allPairs(shape))}).`
    : '';
  const columns = tableColumns(results).filter((column) => column.header !== 'case');
  return [heading, '', markdownTable(results, rows, columns)].join('\n');
}

/** B·Hq·Lq·Lk: the pairs of the call without a mask. */
function allPairs(shape: ResultRow['shape']): number {
  return shape.batch * shape.qHeads * shape.qLength * shape.kvLength;
}

function fractionText(pairs: number, all: number): string {
  if (all === 0) return '–';
  if (pairs === all) return '1';
  const fraction = pairs / all;
  const inverse = 1 / fraction;
  // 1/8 when it is exactly 1/8 (a block-sparse layout of density 1/8 is charged exactly that)
  const exact = Number.isInteger(inverse) && inverse > 1 ? ` = 1/${inverse}` : '';
  return `${fraction.toFixed(4)}${exact}`;
}

function pairsText(pairs: number, all: number): string {
  return `visible pairs ${pairs.toLocaleString('en-US')} of ${all.toLocaleString('en-US')}, ${fractionText(pairs, all)}`;
}

function labelIs(row: ResultRow, label: string): boolean {
  return row.label === label || (row.backend !== undefined && row.label === `${label}@${row.backend}`);
}

/**
 * One implementation's rows over every group of the run, in suite order: what each mask costs it,
 * next to the work the FLOP model charges (visible pairs only) and the first call of a predicate.
 */
function sectionMaskCosts(context: DocsContext, args: Record<string, string>): string {
  const { results } = context;
  const label = args.implementation ?? 'flash';
  const threads = Number(args.threads ?? '1');
  const order = new Map(results.suite.groups.map((group, index) => [group.id, index]));
  const rows = results.rows
    .filter((row) => labelIs(row, label) && row.threads === threads)
    .sort(
      (a, b) =>
        (order.get(a.group) ?? 0) - (order.get(b.group) ?? 0) || a.n - b.n || a.label.localeCompare(b.label),
    );
  if (rows.length === 0) return `_No rows of \`${label}\` at ${threads} thread(s) in this results file._`;
  const title = new Map(results.suite.groups.map((group) => [group.id, group.title]));
  const body = rows.map((row) => [
    title.get(row.group) ?? row.group,
    String(row.n),
    row.label,
    describeMask(row.mask),
    fractionText(row.pairs, allPairs(row.shape)),
    (row.flops / 1e9).toFixed(3),
    row.time
      ? `${formatMs(row.time.medianMs)} ± ${formatMs(timingSpread(row.time))}`
      : `skipped: ${row.reason ?? ''}`,
    row.time ? row.time.gflops.toFixed(2) : '–',
    row.firstCall ? `${formatMs(row.firstCall.ms)} (${formatMs(row.firstCall.compileMs)})` : '–',
  ]);
  return [
    tableWithNotes(
      [
        'group',
        'N',
        'implementation',
        'mask',
        'visible pairs',
        'GFLOP',
        'median ± spread',
        'GFLOP/s',
        'first call (classification)',
      ],
      body.map((cells) => cells.map((cell) => cell.replace(/\|/g, '\\|'))),
      ['left', 'right', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
      rows.map((row) => row.reason),
    ),
    '',
    `${threads} thread${threads === 1 ? '' : 's'}. Visible pairs: the fraction of B·Hq·Lq·Lk the mask lets a row see, which is all the FLOP model charges (GFLOP = 2·(Dk+Dv)·visible pairs / 10⁹; GFLOP/s = that / median). Spread: the larger of the MAD and the distance to the fastest sample. First call: one call with a fresh mask value, its tile classification included (the classification alone in brackets); the medians reuse a value classified before them.`,
  ].join('\n');
}

/** The FLOP model of every case of a named suite, computed now (core's visiblePairs, no run needed). */
function sectionMaskPairs(args: Record<string, string>): string {
  const name = args.suite ?? '';
  // a named suite of the package only: a note does not read files by path
  if (!RESULTS_NAME.test(name))
    return `_mask-pairs: suite=${name || '(none)'}: expected the name of one of the harness's suites._`;
  let suite: ReturnType<typeof loadSuite>['suite'];
  try {
    suite = loadSuite(name).suite;
  } catch (error) {
    return `_mask-pairs: ${(error as Error).message}_`;
  }
  const body: string[][] = [];
  for (const group of suite.groups) {
    if (group.kind !== 'attention') continue;
    for (const benchCase of expandGroup(group)) {
      const pairs = visiblePairs(problemFor(benchCase.shape, group.mask));
      const flops = 2 * (benchCase.shape.headDim + benchCase.shape.valueDim) * pairs;
      body.push([
        group.title,
        String(benchCase.n),
        describeMask(group.mask),
        pairs.toLocaleString('en-US'),
        fractionText(pairs, allPairs(benchCase.shape)),
        (flops / 1e9).toFixed(3),
      ]);
    }
  }
  return [
    `Computed by \`attnkit-bench docs\` with core's \`visiblePairs\` for every case of the \`${suite.name}\` suite (no run needed):`,
    '',
    alignedMarkdownTable(['group', 'N', 'mask', 'visible pairs', 'of B·Hq·Lq·Lk', 'GFLOP per call'], body, [
      'left',
      'right',
      'left',
      'right',
      'right',
      'right',
    ]),
  ].join('\n');
}

function sectionMaskPicture(context: DocsContext, args: Record<string, string>): string {
  let picture: ReturnType<typeof maskPicture>;
  try {
    picture = maskPicture(args);
  } catch (error) {
    if (error instanceof MaskPictureError) return `_mask-picture: ${error.message}._`;
    throw error;
  }
  const { n } = picture;
  const visible = maskPictureVisible(picture);
  const lines = [
    `\`${picture.code}\`, Lq = Lk = ${n}: ${visible} of ${n * n} pairs visible (${fractionText(visible, n * n)}).${picture.note ? ` ${picture.note[0]?.toUpperCase()}${picture.note.slice(1)}.` : ''}`,
    '',
  ];
  const text = ['```text', maskPictureText(picture), '```'];
  const file =
    args.svg === 'true'
      ? context.charts.find((chart) => basename(chart) === maskPictureFile(args))
      : undefined;
  if (!file) return [...lines, ...text].join('\n');
  // a wide picture reads better as the heatmap; the text stays one click away (same bytes)
  return [
    ...lines,
    `![${picture.kind} mask, ${n} × ${n}](${file})`,
    '',
    '<details><summary>The same picture as text (maskToString)</summary>',
    '',
    ...text,
    '',
    '</details>',
  ].join('\n');
}

function sectionCharts(context: DocsContext, args: Record<string, string>): string {
  const kinds = args.kinds?.split(',') ?? CHART_KINDS;
  const lines: string[] = [];
  for (const kind of kinds) {
    const name = `${args.group}-${kind}`;
    const file =
      context.charts.find((chart) => basename(chart) === `${name}.svg`) ??
      context.charts.find((chart) => basename(chart) === `${name}.png`);
    if (file) lines.push(`![${name}](${file})`, '');
  }
  return lines.length > 0
    ? lines.join('\n').trimEnd()
    : `_No charts for group \`${args.group}\` in this results file._`;
}

function sectionSkipped(context: DocsContext, args: Record<string, string>): string {
  const rows = context.results.rows.filter(
    (row) => row.status === 'skipped' && (!args.variant || row.label === args.variant),
  );
  if (rows.length === 0) return '_Nothing was skipped._';
  const counts = new Map<string, number>();
  for (const row of rows) {
    const key = `${row.label}: ${row.reason ?? ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .map(([reason, count]) => `- ${reason} (${count} row${count === 1 ? '' : 's'})`)
    .join('\n');
}

function sectionLseMerge(): string {
  const body: string[][] = [];
  let shape = '';
  for (const parts of [2, 4, 8]) {
    const demo = lseMergeDemo(parts);
    shape = `B=${demo.shape.batch}, H=${demo.shape.heads}, L=${demo.shape.qLength}, D=${demo.shape.headDim}`;
    body.push([
      String(parts),
      formatError(demo.maxAbsOut),
      formatError(demo.maxAbsLse),
      demo.maxAbsReference.toFixed(3),
    ]);
  }
  return [
    `Computed by \`attnkit-bench docs\` with core's float64 oracle (${shape}, seeded inputs, keys split into contiguous blocks, partial results merged in ring order):`,
    '',
    alignedMarkdownTable(
      ['key blocks ("devices")', 'max abs diff, out', 'max abs diff, lse', 'max abs out'],
      body,
      ['right', 'right', 'right', 'right'],
    ),
  ].join('\n');
}

function sectionWeights(context: DocsContext): string {
  const file =
    context.charts.find((chart) => basename(chart) === 'attention-weights.svg') ??
    context.charts.find((chart) => basename(chart) === 'attention-weights.png');
  return file ? `![attention weights](${file})` : '_attention-weights figure not rendered_';
}

/** The words a section shows when the results are of another suite: how to produce the right ones. */
export function runInstruction(suite: string): string {
  return (
    `_Not in this results file (suite \`${suite}\` not run): run \`node packages/harness/dist/cli.js --suite ${suite}\` ` +
    `on a quiet machine, then \`node packages/harness/dist/cli.js docs --results <that run's results.json> --docs <a directory holding this note alone>\` ` +
    '(every note of a docs directory is rewritten from the one results file)._'
  );
}

function wrongSuite(context: DocsContext, args: Record<string, string>): string | null {
  return args.suite !== undefined && context.results.options.suite !== args.suite
    ? runInstruction(args.suite)
    : null;
}

function sectionFigures(context: DocsContext, args: Record<string, string>): string {
  const other = wrongSuite(context, args);
  if (other) return other;
  const lines = figuresTable(context.results);
  return lines.length > 0
    ? lines.join('\n').trimEnd()
    : `_The suite of \`${context.resultsLabel}\` (\`${context.results.options.suite}\`) has no figures._`;
}

function sectionBandwidth(context: DocsContext, args: Record<string, string>): string {
  const other = wrongSuite(context, args);
  if (other) return other;
  const lines = bandwidthLines(context.results);
  return lines.length === 0
    ? '_No streaming probe in this run._'
    : lines.map((line) => `- ${line}`).join('\n');
}

function sectionDecode(context: DocsContext, args: Record<string, string>): string {
  const other = wrongSuite(context, args);
  if (other) return other;
  const rows = context.results.rows.filter((row) => row.group === args.group && row.kind === 'decode');
  if (rows.length === 0) return `_No decode rows of group \`${args.group}\` in this results file._`;
  const number = (value: number | null | undefined, digits: number) =>
    value === null || value === undefined ? '–' : value.toFixed(digits);
  const body = rows.map((row) => [
    row.caseId,
    row.implementation === 'peer' ? `${row.label} (peer)` : row.label,
    String(row.threads),
    row.time ? formatMs(row.time.medianMs) : '–',
    number(row.decode?.tokensPerSecond, 0),
    number(row.decode?.gbPerSecond, 1),
    row.decode?.probeFraction == null ? '–' : `${(100 * row.decode.probeFraction).toFixed(0)} %`,
    formatError(row.accuracy?.vsOracle.maxAbs),
    row.status === 'ok' ? 'ok' : escapeCell(`skipped: ${row.reason ?? ''}`),
  ]);
  return tableWithNotes(
    ['case', 'implementation', 'thr', 'per token', 'tok/s', 'KV GB/s', '% probe', 'max abs err', 'status'],
    body,
    ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    rows.map((row) => row.reason),
  );
}

function sectionCeiling(context: DocsContext, args: Record<string, string>): string {
  const other = wrongSuite(context, args);
  if (other) return other;
  const lines = ceilingLines(context.results);
  return lines.length === 0
    ? '_No ceiling probe in this run (its suite has no `ceilingProbe`)._'
    : lines.map((line) => `- ${line}`).join('\n');
}

const implementationCell = (row: ResultRow) =>
  row.implementation === 'peer' ? `${row.label} (peer)` : row.label;

/** A group's timed rows, each against the FMA-throughput ceiling of the path it ran on (ceiling.ts). */
function sectionCeilingRows(context: DocsContext, args: Record<string, string>): string {
  const other = wrongSuite(context, args);
  if (other) return other;
  const { results } = context;
  const rows = results.rows.filter((row) => row.group === args.group && row.status === 'ok' && row.time);
  if (rows.length === 0) return `_No timed rows of group \`${args.group}\` in this results file._`;
  const body = rows.map((row) => {
    const ceiling = rowCeiling(results, row);
    const gflops = row.time?.gflops ?? 0;
    return [
      row.caseId,
      implementationCell(row),
      String(row.threads),
      formatMs(row.time?.medianMs),
      gflops.toFixed(1),
      ceiling ? `${ceiling.gflops.toFixed(0)} (${ceiling.path} × ${row.threads})` : '–',
      ceiling ? `${((100 * gflops) / ceiling.gflops).toFixed(0)} %` : '–',
    ];
  });
  return alignedMarkdownTable(
    ['case', 'implementation', 'thr', 'median', 'GFLOP/s', 'ceiling GFLOP/s', '% ceiling'],
    body,
    ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
  );
}

/** A group's measured peak RSS: the variants' memory cases (1 thread, a fresh process) and the peers' own. */
function sectionMemory(context: DocsContext, args: Record<string, string>): string {
  const other = wrongSuite(context, args);
  if (other) return other;
  const rows = context.results.rows.filter(
    (row) => row.group === args.group && row.memory?.measured !== undefined,
  );
  if (rows.length === 0) return `_No measured peak memory in group \`${args.group}\` of this results file._`;
  const body = rows.map((row) => {
    const measured = row.memory?.measured;
    return [
      row.caseId,
      implementationCell(row),
      String(row.threads),
      measured?.status === 'ok' ? formatBytes(measured.peakBytes) : '–',
      formatBytes(row.memory?.workspaceBytes),
      formatBytes(row.memory?.estimatedBytes),
      measured?.status === 'ok' ? (measured.method ?? 'maxrss') : `not measured: ${measured?.reason ?? ''}`,
    ];
  });
  return alignedMarkdownTable(
    ['case', 'implementation', 'thr', 'peak RSS', 'workspace', 'estimated', 'how'],
    body,
    ['left', 'left', 'right', 'right', 'right', 'right', 'left'],
  );
}

export function renderSection(name: string, args: Record<string, string>, context: DocsContext): string {
  switch (name) {
    case 'source':
      return sectionSource(context);
    case 'source-line':
      return sectionSourceLine(context);
    case 'speedup':
      return sectionSpeedup(context, args);
    case 'variant':
      return sectionVariant(context, args);
    case 'case':
      return sectionCase(context, args);
    case 'charts':
      return sectionCharts(context, args);
    case 'skipped':
      return sectionSkipped(context, args);
    case 'lse-merge':
      return sectionLseMerge();
    case 'weights':
      return sectionWeights(context);
    case 'figures':
      return sectionFigures(context, args);
    case 'mask-costs':
      return sectionMaskCosts(context, args);
    case 'mask-pairs':
      return sectionMaskPairs(args);
    case 'mask-picture':
      return sectionMaskPicture(context, args);
    case 'decode':
      return sectionDecode(context, args);
    case 'bandwidth':
      return sectionBandwidth(context, args);
    case 'ceiling':
      return sectionCeiling(context, args);
    case 'ceiling-rows':
      return sectionCeilingRows(context, args);
    case 'memory':
      return sectionMemory(context, args);
    default:
      return `_Unknown results section \`${name}\`._`;
  }
}

/** The context a marker's `results=NAME` selects, or the text its section prints instead. */
function contextFor(name: string, args: Record<string, string>, context: DocsContext): DocsContext | string {
  const other = args.results;
  if (other === undefined || RESULTS_FREE.has(name)) return context;
  if (!RESULTS_NAME.test(other))
    return `_results=${other}: expected the name of a results file next to \`${context.resultsLabel}\` (lowercase letters, digits and dashes, no .json)._`;
  const found = context.others?.get(other);
  if (found === undefined)
    return `_results=${other}: not loaded (\`attnkit-bench docs\` loads every file its notes name)._`;
  return 'missing' in found ? found.missing : found;
}

/** Rewrites every marked section of a markdown text; returns the new text. */
export function rewriteMarkdown(text: string, context: DocsContext): string {
  return text.replace(MARKER, (_whole, name: string, rawArgs: string) => {
    const args = parseMarkerArgs(rawArgs);
    const opening = `<!-- results:${name}${rawArgs.trimEnd()} -->`;
    const chosen = contextFor(name, args, context);
    const body = typeof chosen === 'string' ? chosen : renderSection(name, args, chosen);
    return `${opening}\n${body}\n<!-- /results -->`;
  });
}

/** Every marker of these texts: its section name and arguments. */
function markers(texts: readonly string[]): { name: string; args: Record<string, string> }[] {
  return texts.flatMap((text) =>
    [...text.matchAll(MARKER)].map((match) => ({
      name: match[1] ?? '',
      args: parseMarkerArgs(match[2] ?? ''),
    })),
  );
}

/**
 * The chart names (`${group}-${kind}`) the `charts` markers of these markdown texts embed from one
 * results file: the `--results` file (source undefined) or the one `results=source` names.
 */
export function referencedCharts(texts: readonly string[], source?: string): Set<string> {
  const names = new Set<string>();
  for (const { name, args } of markers(texts)) {
    if (name !== 'charts' || args.results !== source) continue;
    for (const kind of args.kinds?.split(',') ?? CHART_KINDS) names.add(`${args.group}-${kind}`);
  }
  return names;
}

/** The results names (`results=NAME`) the markers of these texts read, sorted. */
export function referencedResults(texts: readonly string[]): string[] {
  const names = new Set<string>();
  for (const { name, args } of markers(texts))
    if (args.results !== undefined && !RESULTS_FREE.has(name)) names.add(args.results);
  return [...names].sort();
}

/** The SVG pictures (file name → marker arguments) the `mask-picture … svg=true` markers embed. */
export function referencedMaskPictures(texts: readonly string[]): Map<string, Record<string, string>> {
  const files = new Map<string, Record<string, string>>();
  for (const { name, args } of markers(texts))
    if (name === 'mask-picture' && args.svg === 'true') files.set(maskPictureFile(args), args);
  return files;
}

/**
 * The results file `results=NAME` names, read and checked: a Results, or why the sections cannot
 * use it (and how to make it). Never throws: a note must not stop the other notes being rewritten.
 */
export function loadNamedResults(
  name: string,
  resultsDir: string,
  repoRoot: string,
  mainLabel: string,
): Results | MissingResults {
  const path = join(resultsDir, `${name}.json`);
  const label = relative(repoRoot, path);
  const rerun = `\`node packages/harness/dist/cli.js docs --results ${mainLabel}\``;
  if (!existsSync(path)) {
    const suite = listSuiteNames().includes(name)
      ? `run the \`${name}\` suite on a quiet machine (\`node packages/harness/dist/cli.js --suite ${name} --out benchmarks/results/runs/${name}\`), copy its results.json to \`${label}\``
      : `write a run's results.json to \`${label}\``;
    return {
      missing: `_No results yet: \`${label}\` does not exist. To fill this section, ${suite}, then rerun ${rerun}._`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return {
      missing: `_\`${label}\` could not be read (${(error as Error).message.split('\n')[0]}): no figures until it holds a run's results.json; then rerun ${rerun}._`,
    };
  }
  const parsed = resultsSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return {
    missing: `_\`${label}\` is not an attnkit-bench results file (${issue?.path.join('.') || '(root)'}: ${issue?.message}): no figures until it holds a run's results.json; then rerun ${rerun}._`,
  };
}

/** Writes the charts of one results file the notes embed, removes its charts no note embeds; returns the files written. */
async function renderCharts(
  results: Results,
  wanted: ReadonlySet<string>,
  chartDir: string,
  formats: readonly ChartFormat[],
  log: string[],
): Promise<string[]> {
  const written: string[] = [];
  for (const chart of chartSpecs(results)) {
    if (wanted.has(chart.name)) {
      written.push(...(await writeChart(chart.spec, chartDir, chart.name, formats)));
      continue;
    }
    for (const format of ['svg', 'png']) {
      const stale = join(chartDir, `${chart.name}.${format}`);
      if (existsSync(stale)) {
        rmSync(stale);
        log.push(`removed ${stale} (no note embeds it)`);
      }
    }
  }
  return written;
}

/** Writes the mask pictures the notes embed as SVG and removes the mask pictures none embeds. */
function renderMaskPictures(texts: readonly string[], chartDir: string, log: string[]): string[] {
  const wanted = referencedMaskPictures(texts);
  const written: string[] = [];
  for (const [file, args] of wanted) {
    let svg: string;
    try {
      svg = maskPictureSvg(maskPicture(args));
    } catch (error) {
      if (!(error instanceof MaskPictureError)) throw error;
      continue; // the section prints the message
    }
    mkdirSync(chartDir, { recursive: true });
    writeFileSync(join(chartDir, file), svg);
    written.push(join(chartDir, file));
  }
  if (existsSync(chartDir)) {
    for (const file of readdirSync(chartDir)) {
      if (file.startsWith('mask-picture-') && file.endsWith('.svg') && !wanted.has(file)) {
        rmSync(join(chartDir, file));
        log.push(`removed ${join(chartDir, file)} (no note embeds it)`);
      }
    }
  }
  return written;
}

/**
 * Renders the charts the notes in `docsDir` embed into `chartDir` (only those: docs/ is in git)
 * and rewrites every marked section of those notes. A chart file of this results file that no note
 * embeds any longer is removed. Returns one line per file touched.
 */
export async function rewriteDocs(
  results: Results,
  resultsPath: string,
  docsDir: string,
  chartDir: string,
  formats: readonly ChartFormat[],
): Promise<string[]> {
  if (!existsSync(docsDir)) return [`no docs directory at ${docsDir}`];
  const notes = readdirSync(docsDir)
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((file) => ({ path: join(docsDir, file), text: readFileSync(join(docsDir, file), 'utf8') }));
  const texts = notes.map((note) => note.text);
  const repoRoot = join(docsDir, '..');
  const resultsLabel = relative(repoRoot, resultsPath);
  const log: string[] = [];
  const written = await renderCharts(results, referencedCharts(texts), chartDir, formats, log);
  const resultsDir = dirname(resolve(resultsPath));
  const others = new Map<string, DocsContext | MissingResults>();
  const otherResults: [string, Results, string][] = [];
  for (const name of referencedResults(texts)) {
    if (!RESULTS_NAME.test(name)) continue; // the section says what is wrong with the name
    const path = join(resultsDir, `${name}.json`);
    const loaded =
      path === resolve(resultsPath) ? results : loadNamedResults(name, resultsDir, repoRoot, resultsLabel);
    if ('missing' in loaded) {
      others.set(name, loaded);
      log.push(
        `warning: results=${name}: ${relative(repoRoot, path)} is missing or unreadable; its sections say so`,
      );
      continue;
    }
    otherResults.push([name, loaded, relative(repoRoot, path)]);
    written.push(...(await renderCharts(loaded, referencedCharts(texts, name), chartDir, formats, log)));
  }
  written.push(...renderMaskPictures(texts, chartDir, log));
  for (const format of formats) {
    const file = join(chartDir, `attention-weights.${format}`);
    if (existsSync(file)) written.push(file);
  }
  log.unshift(`charts: ${written.length} files in ${chartDir}`);
  const charts = written.map((file) => relative(docsDir, file));
  for (const [name, loaded, label] of otherResults)
    others.set(name, { results: loaded, resultsLabel: label, charts });
  const context: DocsContext = { results, resultsLabel, charts, others };
  for (const note of notes) {
    const after = rewriteMarkdown(note.text, context);
    if (after !== note.text) {
      writeFileSync(note.path, after);
      log.push(`rewrote ${note.path}`);
    } else {
      log.push(`unchanged ${note.path}`);
    }
  }
  return log;
}
