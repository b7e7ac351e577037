/**
 * A suite's figures: ratios of two of its own rows with a target, e.g. "ALiBi costs at most 10 %
 * over plain flash" = flash's median on the ALiBi group / flash's median on the plain group at the
 * same N, target <= 1.1. The suite names the rows and the target; the ratio and whether it is met
 * are computed from the run's results every time a report is drawn (never typed by hand).
 *
 * A ratio figure's baseline row may be another label (a peer: 'ort-node:mha'), another backend
 * (flash@native over flash@wasm) or another thread count; `backend` keeps only the measured rows of
 * one backend. 'peak-memory' figures pair rows the same way and divide their measured peak RSS
 * (docs/native.md: the native call against onnxruntime-node's).
 *
 * Decode suites add two kinds (docs/decoding.md): 'probe-fraction', a decode row's GB/s over the
 * run's streaming probe at its thread count; 'batch-bandwidth', a batch row's median over the time
 * its KV bytes take at the GB/s of a single-sequence row (same label, backend and threads).
 */
import { z } from 'zod';
import { probeBandwidth } from './decode-model.js';
import { formatBytes } from './format.js';
import { timingSpread, timingVerdict } from './noise.js';
import type { ResultRow, Results } from './results.js';

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');
/** The kernels backends a row can run on (suite-schema.ts's HARNESS_BACKENDS; not imported: it imports this module). */
const backendName = z.enum(['wasm', 'native', 'js']);

export const figureTargetSchema = z.union([
  /** ratio <= atMost. */
  z.object({ atMost: z.number().positive() }).strict(),
  /** The two medians differ by no more than their measured spread (noise.ts). */
  z.object({ withinNoise: z.literal(true) }).strict(),
  /** baseline median / measured median >= atLeastTimesFaster (a speed-up: 2 threads over 1, float16 over float32). */
  z.object({ atLeastTimesFaster: z.number().positive() }).strict(),
  /** The measured median is below the baseline's by more than their measured spread. */
  z.object({ faster: z.literal(true) }).strict(),
  /** ratio >= atLeast (probe-fraction figures). */
  z.object({ atLeast: z.number().positive() }).strict(),
]);
export type FigureTarget = z.infer<typeof figureTargetSchema>;

export const ratioFigureSchema = z
  .object({
    id: slug,
    /** What the figure checks, in the words of the requirement it comes from. */
    claim: z.string().min(1),
    /** The group whose row is measured, and the group whose row it is divided by, at N = n. */
    group: slug,
    baseline: slug,
    n: z.number().int().positive(),
    /** The suite variant label of both rows ('flash' matches flash@wasm and flash@native, each with its own). */
    label: z.string().min(1),
    /** The baseline row's label when it differs (default: label). */
    baselineLabel: z.string().min(1).optional(),
    /** Only the measured rows at this thread count (default: every thread count). */
    threads: z.number().int().positive().optional(),
    /** The baseline row at this thread count (default: the measured row's): 2 threads over 1. */
    baselineThreads: z.number().int().positive().optional(),
    /** Only the measured rows of this backend (default: every backend the run measured). */
    backend: backendName.optional(),
    /** The baseline row of this backend (default: the measured row's): native over wasm. */
    baselineBackend: backendName.optional(),
    target: figureTargetSchema,
  })
  .strict();

/**
 * Measured peak RSS of two rows paired as a ratio figure pairs them (memory cases for variant rows,
 * the peer's own measurement for a peer): measured peak / baseline peak <= atMost.
 */
export const memoryFigureSchema = ratioFigureSchema
  .omit({ target: true })
  .extend({
    kind: z.literal('peak-memory'),
    target: z.object({ atMost: z.number().positive() }).strict(),
  })
  .strict();

/** A decode row's GB/s over the run's streaming probe at its thread count. */
export const probeFigureSchema = z
  .object({
    id: slug,
    kind: z.literal('probe-fraction'),
    claim: z.string().min(1),
    group: slug,
    n: z.number().int().positive(),
    label: z.string().min(1),
    threads: z.number().int().positive().optional(),
    target: z.object({ atLeast: z.number().positive() }).strict(),
  })
  .strict();

/**
 * A batch's median over the time its KV bytes take at a single-sequence row's GB/s: the batch row of
 * `label` in `group` (its only N) against the row of `label` in `baseline` at N = n.
 */
export const batchFigureSchema = z
  .object({
    id: slug,
    kind: z.literal('batch-bandwidth'),
    claim: z.string().min(1),
    group: slug,
    baseline: slug,
    n: z.number().int().positive(),
    label: z.string().min(1),
    threads: z.number().int().positive().optional(),
    target: z.object({ atMost: z.number().positive() }).strict(),
  })
  .strict();

export const figureSchema = z.union([
  ratioFigureSchema,
  memoryFigureSchema,
  probeFigureSchema,
  batchFigureSchema,
]);
export type FigureSpec = z.infer<typeof figureSchema>;
export type RatioFigureSpec = z.infer<typeof ratioFigureSchema>;
export type MemoryFigureSpec = z.infer<typeof memoryFigureSchema>;

/** The groups and N a figure reads (for the suite's checks and the report's description). */
export function figureGroups(figure: FigureSpec): { group: string; baseline: string | null; n: number } {
  if ('kind' in figure && figure.kind === 'probe-fraction')
    return { group: figure.group, baseline: null, n: figure.n };
  return { group: figure.group, baseline: figure.baseline, n: figure.n };
}

export interface FigureValue {
  readonly figure: FigureSpec;
  /** The measured row's label (with its backend when the run has several), or the figure's label when no row was found. */
  readonly label: string;
  readonly threads: number | null;
  /** The measured row's median (its peak RSS in bytes for a peak-memory figure). */
  readonly measuredMs: number | null;
  readonly baselineMs: number | null;
  /** measured median / baseline median (peak over peak for a peak-memory figure). */
  readonly ratio: number | null;
  /** 'missing' when either row is absent or was not timed (detail says which and why). */
  readonly status: 'met' | 'not met' | 'missing';
  readonly detail: string;
}

function labelMatches(row: ResultRow, label: string): boolean {
  return row.label === label || (row.backend !== undefined && row.label === `${label}@${row.backend}`);
}

function rowText(row: ResultRow | undefined, label: string, group: string, n: number): string {
  if (!row) return `${label} in ${group} at N=${n} is not in this run`;
  return `${row.label} t=${row.threads} in ${group} at N=${n} was skipped (${row.reason ?? 'no time'})`;
}

const bound = (atMost: number) => String(Number(atMost.toPrecision(4)));

/** The target in words: "≤ 1.1", "within noise", "≥ 1.7× faster". */
export function targetText(target: FigureTarget): string {
  if ('atMost' in target) return `≤ ${bound(target.atMost)}`;
  if ('atLeast' in target) return `≥ ${bound(target.atLeast)}`;
  if ('atLeastTimesFaster' in target) return `≥ ${bound(target.atLeastTimesFaster)}× faster`;
  if ('faster' in target) return 'faster beyond noise';
  return 'within noise';
}

function judge(target: FigureTarget, measured: ResultRow, baseline: ResultRow) {
  const m = measured.time!;
  const b = baseline.time!;
  const ratio = m.medianMs / b.medianMs;
  if ('atMost' in target) {
    const met = ratio <= target.atMost;
    return { ratio, met, detail: `${ratio.toFixed(3)} ${met ? '≤' : '>'} ${bound(target.atMost)}` };
  }
  if ('atLeast' in target) {
    const met = ratio >= target.atLeast;
    return { ratio, met, detail: `${ratio.toFixed(3)} ${met ? '≥' : '<'} ${bound(target.atLeast)}` };
  }
  if ('atLeastTimesFaster' in target) {
    const speedup = b.medianMs / m.medianMs;
    const met = speedup >= target.atLeastTimesFaster;
    return {
      ratio,
      met,
      detail: `${speedup.toFixed(2)}× faster ${met ? '≥' : '<'} ${bound(target.atLeastTimesFaster)}×`,
    };
  }
  if ('faster' in target) {
    const verdict = timingVerdict({
      n: measured.n,
      baselineMs: b.medianMs,
      baselineSpreadMs: timingSpread(b),
      variantMs: m.medianMs,
      variantSpreadMs: timingSpread(m),
    });
    return {
      ratio,
      met: verdict === 'faster',
      detail: `${(b.medianMs / m.medianMs).toFixed(2)}× the baseline's speed: ${verdict === 'within noise' ? 'within noise' : `${verdict} beyond the measured spread`}`,
    };
  }
  const spread = timingSpread(m) + timingSpread(b);
  const difference = m.medianMs - b.medianMs;
  const met = Math.abs(difference) <= spread;
  const how = met ? 'within' : difference > 0 ? 'slower beyond' : 'faster beyond';
  return {
    ratio,
    met,
    detail: `${how} the measured spread (|${difference.toFixed(2)}| ms vs ${spread.toFixed(2)} ms)`,
  };
}

/** The label a figure's rows carry when it keeps one backend: 'flash@native' (the label itself otherwise). */
function scopedLabel(label: string, backend: string | undefined): string {
  return backend === undefined || label.endsWith(`@${backend}`) ? label : `${label}@${backend}`;
}

/** Whether a figure divides measured peak RSS (a 'peak-memory' figure). */
export function isMemoryFigure(figure: FigureSpec): figure is MemoryFigureSpec {
  return 'kind' in figure && figure.kind === 'peak-memory';
}

/** The figures that pair a measured row with a baseline row by label, backend and threads. */
export type PairedFigure = RatioFigureSpec | MemoryFigureSpec;

/** The figure when it pairs rows (ratio and peak-memory figures), else null. */
export function pairedFigure(figure: FigureSpec): PairedFigure | null {
  if (!('kind' in figure)) return figure;
  return figure.kind === 'peak-memory' ? figure : null;
}

/**
 * The (measured, baseline) row pairs of a ratio or peak-memory figure: each measured row of `label`
 * (and `backend`, `threads`) in `group` at N, with the baseline row of `baselineLabel` in `baseline`
 * at N, on `baselineBackend` (default: the measured row's; a peer or naive row has no backend and is
 * every backend's baseline) and `baselineThreads` (default: the measured row's). A row that is
 * absent is a missing value saying which.
 */
function pairRows(
  results: Results,
  figure: PairedFigure,
): ({ measured: ResultRow; baseline: ResultRow | undefined } | FigureValue)[] {
  const baselineLabel = figure.baselineLabel ?? figure.label;
  const measuredRows = results.rows.filter(
    (row) =>
      row.group === figure.group &&
      row.n === figure.n &&
      labelMatches(row, figure.label) &&
      (figure.backend === undefined || row.backend === figure.backend) &&
      (figure.threads === undefined || row.threads === figure.threads),
  );
  if (measuredRows.length === 0) {
    const label = scopedLabel(figure.label, figure.backend);
    const threads = figure.threads === undefined ? '' : ` t=${figure.threads}`;
    return [
      missingValue(
        figure,
        label,
        figure.threads ?? null,
        `${label}${threads} in ${figure.group} at N=${figure.n} is not in this run`,
      ),
    ];
  }
  return measuredRows.map((measured) => {
    const backend = figure.baselineBackend ?? measured.backend;
    const baseline = results.rows.find(
      (row) =>
        row.group === figure.baseline &&
        row.n === figure.n &&
        row.threads === (figure.baselineThreads ?? measured.threads) &&
        (row.backend === backend || row.backend === undefined) &&
        labelMatches(row, baselineLabel),
    );
    return { measured, baseline };
  });
}

/**
 * Every figure of the run's suite, once per (measured row label, threads) found: the measured row of
 * `label` in `group` at N, over the baseline row of the same backend and thread count (unless the
 * figure names another label, backend or threads).
 */
export function computeFigures(results: Results): FigureValue[] {
  const values: FigureValue[] = [];
  for (const figure of results.suite.figures ?? []) {
    const paired = pairedFigure(figure);
    if (paired === null) {
      if ('kind' in figure && figure.kind === 'probe-fraction') values.push(...probeFigure(results, figure));
      else if ('kind' in figure && figure.kind === 'batch-bandwidth')
        values.push(...batchFigure(results, figure));
      continue;
    }
    values.push(...pairedValues(results, paired));
  }
  return values;
}

/** A ratio or peak-memory figure's values: one per measured row, or one saying which row is missing. */
function pairedValues(results: Results, figure: PairedFigure): FigureValue[] {
  const baselineLabel = figure.baselineLabel ?? figure.label;
  return pairRows(results, figure).map((pair) => {
    if (!('measured' in pair)) return pair;
    const { measured, baseline } = pair;
    const baselineText = () =>
      rowText(
        baseline,
        // another label (a peer's) is not the measured row's label on its backend
        baseline?.label ??
          scopedLabel(
            baselineLabel,
            figure.baselineBackend ?? (figure.baselineLabel === undefined ? measured.backend : undefined),
          ),
        figure.baseline,
        figure.n,
      );
    if ('kind' in figure) return memoryValue(figure, measured, baseline, baselineText);
    if (measured.status !== 'ok' || !measured.time) {
      const detail = rowText(measured, figure.label, figure.group, figure.n);
      return missingValue(figure, measured.label, measured.threads, detail);
    }
    if (baseline?.status !== 'ok' || !baseline.time)
      return missingValue(figure, measured.label, measured.threads, baselineText());
    const verdict = judge(figure.target, measured, baseline);
    return {
      figure,
      label: measured.label,
      threads: measured.threads,
      measuredMs: measured.time.medianMs,
      baselineMs: baseline.time.medianMs,
      ratio: verdict.ratio,
      status: verdict.met ? 'met' : 'not met',
      detail: verdict.detail,
    };
  });
}

/** A row's measured peak RSS, or why there is none (never measured, skipped, or the row itself skipped). */
function peakOf(row: ResultRow | undefined, text: () => string): { bytes: number } | { why: string } {
  if (row?.status !== 'ok') return { why: text() };
  const measured = row.memory?.measured;
  if (!measured)
    return { why: `${row.label} t=${row.threads} in ${row.group} at N=${row.n} has no measured peak memory` };
  if (measured.status !== 'ok')
    return {
      why: `the peak memory of ${row.label} t=${row.threads} in ${row.group} at N=${row.n} was not measured (${measured.reason})`,
    };
  return { bytes: measured.peakBytes };
}

function memoryValue(
  figure: MemoryFigureSpec,
  measured: ResultRow,
  baseline: ResultRow | undefined,
  baselineText: () => string,
): FigureValue {
  const mine = peakOf(measured, () => rowText(measured, figure.label, figure.group, figure.n));
  if ('why' in mine) return missingValue(figure, measured.label, measured.threads, mine.why);
  const theirs = peakOf(baseline, baselineText);
  if ('why' in theirs) return missingValue(figure, measured.label, measured.threads, theirs.why);
  const ratio = mine.bytes / theirs.bytes;
  const met = ratio <= figure.target.atMost;
  return {
    figure,
    label: measured.label,
    threads: measured.threads,
    measuredMs: mine.bytes,
    baselineMs: theirs.bytes,
    ratio,
    status: met ? 'met' : 'not met',
    detail: `peak ${formatBytes(mine.bytes)} / ${formatBytes(theirs.bytes)} = ${ratio.toFixed(3)} ${met ? '≤' : '>'} ${bound(figure.target.atMost)}`,
  };
}

function missingValue(
  figure: FigureSpec,
  label: string,
  threads: number | null,
  detail: string,
): FigureValue {
  return {
    figure,
    label,
    threads,
    measuredMs: null,
    baselineMs: null,
    ratio: null,
    status: 'missing',
    detail,
  };
}

function decodeRowsOf(
  results: Results,
  figure: { group: string; label: string; threads?: number | undefined },
  n?: number,
): ResultRow[] {
  return results.rows.filter(
    (row) =>
      row.group === figure.group &&
      (n === undefined || row.n === n) &&
      labelMatches(row, figure.label) &&
      (figure.threads === undefined || row.threads === figure.threads),
  );
}

function probeFigure(results: Results, figure: z.infer<typeof probeFigureSchema>): FigureValue[] {
  const rows = decodeRowsOf(results, figure, figure.n);
  if (rows.length === 0)
    return [
      missingValue(figure, figure.label, null, rowText(undefined, figure.label, figure.group, figure.n)),
    ];
  return rows.map((row) => {
    if (row.status !== 'ok' || !row.time) {
      return missingValue(figure, row.label, row.threads, rowText(row, figure.label, figure.group, figure.n));
    }
    const probe = probeBandwidth(results.bandwidth, row.threads);
    const rate = row.decode?.gbPerSecond ?? null;
    if (probe === null || rate === null) {
      const why =
        probe === null ? `no streaming probe at ${row.threads} thread(s) in this run` : 'the row has no GB/s';
      return missingValue(figure, row.label, row.threads, why);
    }
    const ratio = rate / probe;
    const met = ratio >= figure.target.atLeast;
    return {
      figure,
      label: row.label,
      threads: row.threads,
      measuredMs: row.time.medianMs,
      baselineMs: null,
      ratio,
      status: met ? 'met' : 'not met',
      detail: `${rate.toFixed(1)} of ${probe.toFixed(1)} GB/s = ${ratio.toFixed(3)} ${met ? '≥' : '<'} ${bound(figure.target.atLeast)}`,
    };
  });
}

function batchFigure(results: Results, figure: z.infer<typeof batchFigureSchema>): FigureValue[] {
  const rows = decodeRowsOf(results, figure);
  if (rows.length === 0)
    return [
      missingValue(figure, figure.label, null, `${figure.label} in ${figure.group} is not in this run`),
    ];
  return rows.map((row) => {
    if (row.status !== 'ok' || !row.time || !row.decode) {
      return missingValue(figure, row.label, row.threads, rowText(row, figure.label, figure.group, row.n));
    }
    const single = results.rows.find(
      (candidate) =>
        candidate.group === figure.baseline &&
        candidate.n === figure.n &&
        candidate.label === row.label &&
        candidate.threads === row.threads,
    );
    const rate = single?.status === 'ok' ? (single.decode?.gbPerSecond ?? null) : null;
    if (rate === null) {
      return missingValue(
        figure,
        row.label,
        row.threads,
        rowText(single, row.label, figure.baseline, figure.n),
      );
    }
    const expectedMs = row.decode.kvBytes / (rate * 1e6);
    const ratio = row.time.medianMs / expectedMs;
    const met = ratio <= figure.target.atMost;
    return {
      figure,
      label: row.label,
      threads: row.threads,
      measuredMs: row.time.medianMs,
      baselineMs: expectedMs,
      ratio,
      status: met ? 'met' : 'not met',
      detail: `${ratio.toFixed(3)} ${met ? '≤' : '>'} ${bound(figure.target.atMost)} (${(row.decode.kvBytes / 2 ** 20).toFixed(0)} MiB at ${rate.toFixed(1)} GB/s)`,
    };
  });
}
