/** Human-readable views of a results file: the terminal table and the markdown report. */
import { basename, relative } from 'node:path';
import { ceilingFraction, ceilingLines, rowCeiling } from './ceiling.js';
import { CHART_KINDS } from './charts.js';
import {
  computeFigures,
  type FigureSpec,
  type FigureValue,
  figureGroups,
  isMemoryFigure,
  pairedFigure,
  targetText,
} from './figures.js';
import { formatBytes } from './machine.js';
import type { ResultRow, Results } from './results.js';
import { describeMask } from './suite.js';

export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(3)} ms`;
}

export function formatError(value: number | null | undefined): string {
  if (value === undefined) return '–';
  if (value === null) return 'NaN/inf';
  if (value === 0) return '0';
  return value.toExponential(1);
}

/**
 * Dense's one-thread median on the same case divided by this row's: > 1 means faster than the
 * baseline. Dense runs on one thread, so every thread count is compared with that same baseline;
 * a row on a backend is compared with dense on the same backend (naive and the peers, which have
 * none, with dense on native where it ran, else the first dense).
 */
export function speedupVsDense(results: Results, row: ResultRow): number | null {
  if (!row.time) return null;
  const denses = results.rows.filter(
    (candidate) =>
      candidate.caseId === row.caseId &&
      candidate.threads === 1 &&
      candidate.variant === 'dense' &&
      candidate.implementation === 'attnkit' &&
      candidate.time,
  );
  const dense =
    denses.find((candidate) => candidate.backend === (row.backend ?? 'native')) ??
    (row.backend === undefined ? denses[0] : undefined);
  return dense?.time ? dense.time.medianMs / row.time.medianMs : null;
}

function ruleCell(row: ResultRow): string {
  const rule = row.accuracy?.rule;
  if (!rule) return '–';
  switch (rule.name) {
    case '2x-naive-float32':
      return rule.pass ? 'pass' : 'FAIL';
    case 'approximate':
      return 'approx.';
    case 'reference':
      return 'reference';
    case 'report-only':
      return 'report';
  }
}

function memoryCell(row: ResultRow): string {
  const measured = row.memory?.measured;
  if (!measured) return '–';
  return measured.status === 'ok' ? formatBytes(measured.peakBytes) : 'skipped';
}

export interface TableColumn {
  readonly header: string;
  readonly cell: (row: ResultRow) => string;
  readonly align?: 'left' | 'right';
}

/** Decode rows' own columns (decode-model.ts): tokens/s, GB/s of KV read and the share of the probe. */
const DECODE_COLUMNS: TableColumn[] = [
  {
    header: 'tok/s',
    cell: (row) => (row.decode?.tokensPerSecond == null ? '–' : row.decode.tokensPerSecond.toFixed(0)),
    align: 'right',
  },
  {
    header: 'KV GB/s',
    cell: (row) => (row.decode?.gbPerSecond == null ? '–' : row.decode.gbPerSecond.toFixed(1)),
    align: 'right',
  },
  {
    header: '% probe',
    cell: (row) =>
      row.decode?.probeFraction == null ? '–' : `${(100 * row.decode.probeFraction).toFixed(0)} %`,
    align: 'right',
  },
];

/** A row's GFLOP/s over its FMA-throughput ceiling (ceiling.ts), for runs that measured one. */
function ceilingColumn(results: Results): TableColumn {
  return {
    header: '% ceiling',
    cell: (row) => {
      const fraction = ceilingFraction(results, row);
      const ceiling = rowCeiling(results, row);
      return fraction === null || ceiling === null ? '–' : `${(100 * fraction).toFixed(0)} % ${ceiling.path}`;
    },
    align: 'right',
  };
}

export function tableColumns(results: Results): TableColumn[] {
  let columns = baseColumns(results);
  if ((results.ceiling ?? []).length > 0) {
    // after GFLOP/s: what the row's engine could reach on this machine (ceiling.ts)
    const at = columns.findIndex((column) => column.header === 'GFLOP/s') + 1;
    columns = [...columns.slice(0, at), ceilingColumn(results), ...columns.slice(at)];
  }
  if (!results.rows.some((row) => row.kind === 'decode')) return columns;
  // after GFLOP/s: a decoding step is judged by bytes read, not FLOPs
  const at = columns.findIndex((column) => column.header === 'GFLOP/s') + 1;
  return [...columns.slice(0, at), ...DECODE_COLUMNS, ...columns.slice(at)];
}

function baseColumns(results: Results): TableColumn[] {
  return [
    { header: 'case', cell: (row) => row.caseId },
    {
      header: 'implementation',
      cell: (row) => (row.implementation === 'peer' ? `${row.label} (peer)` : row.label),
    },
    { header: 'thr', cell: (row) => String(row.threads), align: 'right' },
    { header: 'median', cell: (row) => formatMs(row.time?.medianMs), align: 'right' },
    { header: '± mad', cell: (row) => (row.time ? formatMs(row.time.madMs) : '–'), align: 'right' },
    { header: 'GFLOP/s', cell: (row) => (row.time ? row.time.gflops.toFixed(2) : '–'), align: 'right' },
    {
      header: '× dense',
      cell: (row) => {
        const speedup = speedupVsDense(results, row);
        return speedup === null ? '–' : `${speedup.toFixed(2)}×`;
      },
      align: 'right',
    },
    { header: 'max abs err', cell: (row) => formatError(row.accuracy?.vsOracle.maxAbs), align: 'right' },
    { header: '2× rule', cell: ruleCell },
    { header: 'workspace', cell: (row) => formatBytes(row.memory?.workspaceBytes), align: 'right' },
    { header: 'peak', cell: memoryCell, align: 'right' },
    { header: 'status', cell: (row) => (row.status === 'ok' ? 'ok' : `skipped (${row.reason ?? ''})`) },
  ];
}

/** Skipped rows of one implementation (at some thread count) that no N of the group could run. */
export interface NeverApplicable {
  readonly group: string;
  readonly label: string;
  readonly threads: readonly number[];
  readonly reason: string;
  readonly rows: number;
}

/**
 * Skips that can never run in a group: every row of an (implementation, threads) series in it is
 * skipped for the same reason, which the variant itself gave ("not supported: …", e.g. causal on
 * unmasked cases, naive on 2 threads). The tables show them as one line per group, not a row per
 * case; the results JSON keeps every row.
 */
export function neverApplicable(results: Results): {
  readonly rows: ReadonlySet<ResultRow>;
  readonly byGroup: ReadonlyMap<string, NeverApplicable[]>;
} {
  const series = new Map<string, ResultRow[]>();
  for (const row of results.rows) {
    const key = `${row.group}\u0000${row.label}\u0000${row.threads}`;
    series.set(key, [...(series.get(key) ?? []), row]);
  }
  const collapsed = new Set<ResultRow>();
  const byGroup = new Map<string, NeverApplicable[]>();
  for (const rows of series.values()) {
    const [first] = rows;
    const reason = first?.reason;
    if (!first || !reason?.startsWith('not supported:')) continue;
    if (!rows.every((row) => row.status === 'skipped' && row.reason === reason)) continue;
    for (const row of rows) collapsed.add(row);
    const entries = byGroup.get(first.group) ?? [];
    const same = entries.find((entry) => entry.label === first.label && entry.reason === reason);
    const entry: NeverApplicable = same
      ? { ...same, threads: [...same.threads, first.threads], rows: same.rows + rows.length }
      : { group: first.group, label: first.label, threads: [first.threads], reason, rows: rows.length };
    byGroup.set(first.group, [...entries.filter((other) => other !== same), entry]);
  }
  return { rows: collapsed, byGroup };
}

function threadsText(threads: readonly number[]): string {
  return `t=${[...threads].sort((a, b) => a - b).join(',')}`;
}

/** The one terminal line standing for a group's never-applicable rows (reasons: report and JSON). */
export function neverApplicableLine(group: string, entries: readonly NeverApplicable[]): string {
  const rows = entries.reduce((sum, entry) => sum + entry.rows, 0);
  const names = entries.map((entry) => `${entry.label} ${threadsText(entry.threads)}`).join(', ');
  return `${group}: ${rows} row${rows === 1 ? '' : 's'} not applicable at any N (${names}); reasons in the report`;
}

export function terminalTable(results: Results, maxReason = 70): string {
  const columns = tableColumns(results);
  const { rows: hidden, byGroup } = neverApplicable(results);
  const shown = results.rows.filter((row) => !hidden.has(row));
  const cells = shown.map((row) =>
    columns.map((column) => {
      const text = column.cell(row);
      return column.header === 'status' && text.length > maxReason
        ? `${text.slice(0, maxReason - 1)}…`
        : text;
    }),
  );
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...cells.map((row) => row[index]?.length ?? 0)),
  );
  const line = (values: string[]) =>
    values
      .map((value, index) => {
        const width = widths[index] ?? 0;
        return columns[index]?.align === 'right' ? value.padStart(width) : value.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const header = line(columns.map((column) => column.header));
  const body: string[] = [];
  // Each group's collapsed line follows its last shown row (or stands alone if nothing was shown).
  const groups = [...new Set(results.rows.map((row) => row.group))];
  for (const group of groups) {
    shown.forEach((row, index) => {
      if (row.group === group) body.push(line(cells[index] ?? []));
    });
    const entries = byGroup.get(group);
    if (entries) body.push(`  ${neverApplicableLine(group, entries)}`);
  }
  return [header, '-'.repeat(header.length), ...body].join('\n');
}

/**
 * The charts of one group among the files written: exactly `${group}-${kind}` for each chart kind
 * (a prefix match would give group "gpt2-small" the charts of "gpt2-small-causal"), SVG where it
 * exists, else PNG.
 */
export function groupChartFiles(chartFiles: readonly string[], group: string): string[] {
  const files: string[] = [];
  for (const kind of CHART_KINDS) {
    const name = `${group}-${kind}`;
    const file =
      chartFiles.find((candidate) => basename(candidate) === `${name}.svg`) ??
      chartFiles.find((candidate) => basename(candidate) === `${name}.png`);
    if (file) files.push(file);
  }
  return files;
}

/** A cell's text with its pipes escaped (a markdown table cell cannot hold a bare '|'). */
export function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function markdownTable(
  results: Results,
  rows: readonly ResultRow[],
  columns = tableColumns(results),
): string {
  return tableWithNotes(
    columns.map((column) => column.header),
    rows.map((row) => columns.map((column) => escapeCell(column.cell(row)))),
    columns.map((column) => column.align ?? 'left'),
    rows.map((row) => row.reason),
  );
}

/** Display width in code points (the tables use narrow symbols only: – × ± ∝). */
function width(text: string): number {
  return [...text].length;
}

/**
 * A markdown table with padded columns, in the layout the repository's formatter (biome) writes,
 * so regenerated docs are already formatted: cells padded to the column width (right-aligned
 * columns padded on the left), separator dashes as wide as the column with a trailing ':' when
 * right-aligned.
 */
export function alignedMarkdownTable(
  header: readonly string[],
  body: readonly (readonly string[])[],
  align: readonly ('left' | 'right')[],
): string {
  const widths = header.map((cell, index) =>
    Math.max(3, width(cell), ...body.map((row) => width(row[index] ?? ''))),
  );
  const pad = (cell: string, index: number) => {
    const fill = ' '.repeat(Math.max(0, (widths[index] ?? 0) - width(cell)));
    return align[index] === 'right' ? fill + cell : cell + fill;
  };
  const line = (cells: readonly string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `| ${widths
    .map((w, index) => (align[index] === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)))
    .join(' | ')} |`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** Reasons at least this long, repeated down a table, are printed once under it (tableWithNotes). */
const NOTE_MIN_LENGTH = 80;

/**
 * alignedMarkdownTable, with each long reason that several cells repeat (the skip reason every
 * thread count of a backend shares, quoted again by each figure that needs the row) printed once
 * under the table as a numbered note: each cell keeps its own words with the reason replaced by
 * "note N". `reasons` are the rows' own skip reasons; one seen in a single cell, or shorter than
 * NOTE_MIN_LENGTH characters, stays where it is.
 */
export function tableWithNotes(
  header: readonly string[],
  body: readonly (readonly string[])[],
  align: readonly ('left' | 'right')[],
  reasons: Iterable<string | null | undefined>,
): string {
  // longest first: a reason inside a longer one counts only where the longer one is not
  const candidates = [...new Set(reasons)]
    .filter((reason): reason is string => typeof reason === 'string' && reason.length >= NOTE_MIN_LENGTH)
    .sort((a, b) => b.length - a.length);
  let cells = body.map((row) => [...row]);
  const marked: string[] = [];
  for (const reason of candidates) {
    const escaped = escapeCell(reason);
    const count = cells.reduce((sum, row) => sum + row.filter((cell) => cell.includes(escaped)).length, 0);
    if (count < 2) continue;
    const marker = `\uE000${marked.push(reason) - 1}\uE001`;
    cells = cells.map((row) => row.map((cell) => cell.split(escaped).join(marker)));
  }
  if (marked.length === 0) return alignedMarkdownTable(header, body, align);
  // notes numbered in the order the table first points to them
  const order: number[] = [];
  const noted = cells.map((row) =>
    row.map((cell) =>
      cell.replace(/\uE000(\d+)\uE001/g, (_, index: string) => {
        const mark = Number(index);
        if (!order.includes(mark)) order.push(mark);
        return `note ${order.indexOf(mark) + 1}`;
      }),
    ),
  );
  return [
    alignedMarkdownTable(header, noted, align),
    '',
    ...order.map((mark, index) => `- note ${index + 1}: ${escapeCell(marked[mark] ?? '')}`),
  ].join('\n');
}

export function describeRun(results: Results): string[] {
  const m = results.machine;
  const commit = results.git.commit
    ? `${results.git.commit.slice(0, 10)}${results.git.dirty ? ' (uncommitted changes)' : ''}`
    : 'unknown';
  const found = Object.entries(results.packages)
    .filter(([, version]) => version !== null)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `- Suite: \`${results.options.suite}\` — ${results.suite.description}`,
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${formatBytes(m.memoryBytes)} RAM, ${m.os} ${m.release} (${m.arch}); load average at start ${m.loadAverage.join(' / ')}`,
    `- Node ${results.node}; kernels backend: ${results.backend ?? 'unknown'}; commit ${commit}`,
    `- Packages: ${found}`,
    `- Started ${results.startedAt}${results.wallTimeMs !== null ? `, measured for ${(results.wallTimeMs / 1000).toFixed(1)} s` : ''}${results.complete ? '' : ' — INCOMPLETE (interrupted)'}`,
    `- Options: variants ${results.options.variants.join(', ')}; threads ${results.options.threads.join(', ')}; peers ${results.options.peers ? 'on' : 'off (--no-peers)'}`,
  ];
}

const FIRST_CALL_TITLE = 'first call incl. mask compilation';

/** Rows that measured a predicate mask's first use (results.ts, firstCall). */
function firstCallRows(rows: readonly ResultRow[]): ResultRow[] {
  return rows.filter((row) => row.firstCall !== undefined);
}

function verdictCell(value: FigureValue): string {
  if (value.status === 'missing') return `missing: ${value.detail}`;
  return `${value.status === 'met' ? 'met' : 'NOT MET'} (${value.detail})`;
}

const ratioCell = (value: FigureValue) => (value.ratio === null ? '–' : value.ratio.toFixed(3));
const msCell = (ms: number | null) => (ms === null ? '–' : formatMs(ms));

/**
 * The suite's figures (figures.ts) as terminal lines, and each predicate row's first call: what
 * `run` and `render` print under the table and `compare` prints for the newer file ('' when the
 * suite has neither).
 */
export function terminalFigures(results: Results): string {
  const blocks: string[] = [];
  const cold = firstCallRows(results.rows);
  if (cold.length > 0) {
    blocks.push(
      [
        `${FIRST_CALL_TITLE} (a fresh mask value; the medians above reuse one classified before them):`,
        ...cold.map(
          (row) =>
            `  ${row.caseId} ${row.label} t=${row.threads}: ${formatMs(row.firstCall?.ms)} (classification alone ${formatMs(row.firstCall?.compileMs)}; median with the mask cached ${formatMs(row.time?.medianMs)})`,
        ),
      ].join('\n'),
    );
  }
  const probes = bandwidthLines(results);
  if (probes.length > 0)
    blocks.push(['streaming bandwidth probe:', ...probes.map((line) => `  ${line}`)].join('\n'));
  const ceilings = ceilingLines(results);
  if (ceilings.length > 0)
    blocks.push(['FMA-throughput ceiling (one core):', ...ceilings.map((line) => `  ${line}`)].join('\n'));
  const figures = computeFigures(results);
  if (figures.length > 0) {
    const idWidth = Math.max(...figures.map((value) => value.figure.id.length));
    const labelWidth = Math.max(...figures.map((value) => `${value.label} t=${value.threads ?? '–'}`.length));
    blocks.push(
      [
        "figures (computed from this run's rows: measured / baseline, the same implementation, backend and threads unless the figure names others; see the report for each figure's rows):",
        ...figures.map(
          (value) =>
            `  ${value.figure.id.padEnd(idWidth)}  ${`${value.label} t=${value.threads ?? '–'}`.padEnd(labelWidth)}  ${ratioCell(value).padStart(6)}  target ${targetText(value.figure.target)}: ${verdictCell(value)}`,
        ),
      ].join('\n'),
    );
  }
  return blocks.join('\n\n');
}

/** The run's streaming probes in one line each (decode runs), '' when it has none. */
export function bandwidthLines(results: Results): string[] {
  return (results.bandwidth ?? []).map(
    (probe) =>
      `${probe.backend} t=${probe.threads}${probe.taken ? ` (${probe.taken} the decode cases)` : ''}: ${probe.gbPerSecond === null ? `skipped (${probe.reason ?? ''})` : `${probe.gbPerSecond.toFixed(1)} GB/s (best of ${probe.samples.length}; ${formatBytes(probe.bytes)} streamed)`}`,
  );
}

/** The streaming-bandwidth probe section of the report ([] when the run measured none). */
function bandwidthMarkdown(results: Results): string[] {
  const lines = bandwidthLines(results);
  if (lines.length === 0) return [];
  return [
    '## Streaming bandwidth',
    '',
    "Measured in this run before the decode cases and again after them (bandwidth.ts): a buffer larger than the caches read once per repeat by the kernels' columnSums on the pool's threads. A decode row's \"% probe\" is its KV GB/s over the best probe at its thread count (any backend, before or after).",
    '',
    ...lines.map((line) => `- ${line}`),
    '',
  ];
}

/** The FMA-throughput ceiling section of the report ([] when the run measured none). */
function ceilingMarkdown(results: Results): string[] {
  const lines = ceilingLines(results);
  if (lines.length === 0) return [];
  return [
    '## FMA-throughput ceiling',
    '',
    'Measured in this run before the first case (ceiling-probe.ts): register-held vector multiply-add chains on one core, per backend and CPU path. A row\'s "% ceiling" is its GFLOP/s over the ceiling of the path it ran on (a peer: the machine\'s best path) times its threads.',
    '',
    ...lines.map((line) => `- ${line}`),
    '',
  ];
}

/** A paired figure's row: its label with the backend it keeps, and its threads. */
function rowWords(label: string, backend: string | undefined, threads: number | undefined): string {
  const scoped = backend === undefined ? label : `${label}@${backend}`;
  return threads === undefined ? scoped : `${scoped} t=${threads}`;
}

/** Which rows a figure reads, in words. */
function figureScope(figure: FigureSpec): string {
  const { group, baseline, n } = figureGroups(figure);
  if ('kind' in figure && figure.kind === 'probe-fraction') {
    return `\`${group}\` at N = ${n}, GB/s over the run's streaming probe`;
  }
  if ('kind' in figure && figure.kind === 'batch-bandwidth')
    return `\`${group}\` over its KV bytes at the GB/s of \`${baseline}\` at N = ${n}`;
  const paired = pairedFigure(figure);
  const where = group === baseline ? `\`${group}\`` : `\`${group}\` over \`${baseline}\``;
  const what = isMemoryFigure(figure) ? 'peak RSS of ' : '';
  if (
    !paired ||
    (paired.baselineLabel === undefined &&
      paired.backend === undefined &&
      paired.baselineBackend === undefined &&
      paired.baselineThreads === undefined)
  )
    return `${what}${where} at N = ${n}`;
  const measured = rowWords(paired.label, paired.backend, paired.threads);
  // another label (a peer) keeps no backend of the measured row's: a peer row has none
  const against = rowWords(
    paired.baselineLabel ?? paired.label,
    paired.baselineBackend ?? (paired.baselineLabel === undefined ? paired.backend : undefined),
    paired.baselineThreads ?? paired.threads,
  );
  return `${what}${measured} over ${against}, ${where} at N = ${n}`;
}

/** The figures section of the markdown report ([] when the suite has none). */
export function figuresMarkdown(results: Results): string[] {
  const table = figuresTable(results);
  return table.length === 0 ? [] : ['## Figures', '', ...table];
}

/**
 * The figures of a run as markdown lines (method, table, each figure's claim), without a heading:
 * the report's Figures section and the notes' `figures` section (docs.ts). [] when the suite has none.
 */
export function figuresTable(results: Results): string[] {
  const figures = computeFigures(results);
  if (figures.length === 0) return [];
  const cell = (value: FigureValue, amount: number | null) =>
    isMemoryFigure(value.figure) ? (amount === null ? '–' : formatBytes(amount)) : msCell(amount);
  const body = figures.map((value) => [
    value.figure.id,
    value.label,
    value.threads === null ? '–' : String(value.threads),
    cell(value, value.measuredMs),
    cell(value, value.baselineMs),
    ratioCell(value),
    targetText(value.figure.target),
    escapeCell(verdictCell(value)),
  ]);
  const specs = [...new Map(figures.map((value) => [value.figure.id, value.figure])).values()];
  return [
    "Computed from this run's rows (never typed): the median of the measured row over the median of the baseline row " +
      'of the same implementation, backend and thread count at the same N, unless the figure names another implementation (a peer), backend or thread count; ' +
      'peak-memory figures divide measured peak RSS instead of medians. "within noise": the two medians differ by ' +
      'no more than the sum of their spreads (each the larger of its MAD and its distance to the fastest sample). ' +
      "Decode suites also have probe fractions (a row's KV GB/s over the streaming probe) and batch figures (a batch's median " +
      "over the time its KV bytes take at a single-sequence row's GB/s).",
    '',
    tableWithNotes(
      ['figure', 'implementation', 'thr', 'measured', 'baseline', 'ratio', 'target', 'verdict'],
      body,
      ['left', 'left', 'right', 'right', 'right', 'right', 'left', 'left'],
      results.rows.map((row) => row.reason),
    ),
    '',
    ...specs.map((figure) => `- \`${figure.id}\`: ${escapeCell(figure.claim)} (${figureScope(figure)})`),
    '',
  ];
}

/** A group's first-call table (its rows with firstCall), [] when there are none. */
function firstCallMarkdown(rows: readonly ResultRow[]): string[] {
  const cold = firstCallRows(rows);
  if (cold.length === 0) return [];
  return [
    `First call incl. mask compilation: one call with a fresh mask value (the predicate's tile classification, then the call); the medians above reuse a mask value classified before them.`,
    '',
    alignedMarkdownTable(
      ['case', 'implementation', 'thr', 'classification alone', FIRST_CALL_TITLE, 'median (mask cached)'],
      cold.map((row) => [
        row.caseId,
        row.label,
        String(row.threads),
        formatMs(row.firstCall?.compileMs),
        formatMs(row.firstCall?.ms),
        formatMs(row.time?.medianMs),
      ]),
      ['left', 'left', 'right', 'right', 'right', 'right'],
    ),
    '',
  ];
}

/** The markdown report of a run; `chartFiles` are embedded relative to `reportDirectory`. */
export function markdownReport(
  results: Results,
  chartFiles: readonly string[],
  reportDirectory: string,
): string {
  const lines: string[] = [`# attnkit-bench: ${results.options.suite}`, '', ...describeRun(results), ''];
  lines.push(
    "Method: each implementation is validated against core's float64 oracle on the last " +
      `${results.suite.accuracy.rowsPerHead} query rows of every head, then timed with tinybench (warm-up on; the table gives the median and the median absolute deviation). ` +
      'GFLOP/s = 2·(Dk+Dv)·attended pairs / median. "× dense" is dense\'s one-thread median over this one on the same case (> 1 = faster). ' +
      "Exact variants (and peers) must keep max abs error within 2× the plain float32 loop's, plus 8 float32 ulps of max |ref|. Peak memory is measured in a fresh child process (peak RSS − RSS before the call). " +
      'Timings on a shared machine are noisy: compare ratios within one run.',
    '',
  );
  lines.push(...bandwidthMarkdown(results));
  lines.push(...ceilingMarkdown(results));
  lines.push(...figuresMarkdown(results));
  const { rows: hidden, byGroup } = neverApplicable(results);
  for (const group of results.suite.groups) {
    const rows = results.rows.filter((row) => row.group === group.id);
    if (rows.length === 0) continue;
    lines.push(`## ${group.title}`, '', `${group.source}. Mask: ${describeMask(group.mask)}.`, '');
    lines.push(
      markdownTable(
        results,
        rows.filter((row) => !hidden.has(row)),
      ),
      '',
    );
    lines.push(...firstCallMarkdown(rows));
    const entries = byGroup.get(group.id);
    if (entries) {
      const count = entries.reduce((sum, entry) => sum + entry.rows, 0);
      const parts = entries.map(
        (entry) => `${entry.label} (${threadsText(entry.threads)}): ${escapeCell(entry.reason)}`,
      );
      lines.push(
        `Not applicable at any N (${count} rows, kept in the results JSON): ${parts.join('; ')}`,
        '',
      );
    }
    for (const file of groupChartFiles(chartFiles, group.id))
      lines.push(`![${group.title}](${relative(reportDirectory, file)})`, '');
  }
  const skipped = results.rows.filter((row) => row.status === 'skipped' && !hidden.has(row));
  if (skipped.length > 0) {
    const reasons = new Map<string, number>();
    for (const row of skipped)
      reasons.set(`${row.label}: ${row.reason}`, (reasons.get(`${row.label}: ${row.reason}`) ?? 0) + 1);
    lines.push('## Skipped', '');
    for (const [reason, count] of reasons)
      lines.push(`- ${escapeCell(reason)} (${count} row${count === 1 ? '' : 's'})`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
