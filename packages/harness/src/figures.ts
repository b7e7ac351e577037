/**
 * A suite's figures: ratios of two of its own rows with a target, e.g. "ALiBi costs at most 10 %
 * over plain flash" = flash's median on the ALiBi group / flash's median on the plain group at the
 * same N, target <= 1.1. The suite names the rows and the target; the ratio and whether it is met
 * are computed from the run's results every time a report is drawn (never typed by hand).
 */
import { z } from 'zod';
import { timingSpread } from './noise.js';
import type { ResultRow, Results } from './results.js';

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');

export const figureTargetSchema = z.union([
  /** ratio <= atMost. */
  z.object({ atMost: z.number().positive() }).strict(),
  /** The two medians differ by no more than their measured spread (noise.ts). */
  z.object({ withinNoise: z.literal(true) }).strict(),
]);
export type FigureTarget = z.infer<typeof figureTargetSchema>;

export const figureSchema = z
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
    target: figureTargetSchema,
  })
  .strict();
export type FigureSpec = z.infer<typeof figureSchema>;

export interface FigureValue {
  readonly figure: FigureSpec;
  /** The measured row's label (with its backend when the run has several), or the figure's label when no row was found. */
  readonly label: string;
  readonly threads: number | null;
  readonly measuredMs: number | null;
  readonly baselineMs: number | null;
  /** measured median / baseline median. */
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

/** The target in words: "≤ 1.1", "within noise". */
export function targetText(target: FigureTarget): string {
  return 'atMost' in target ? `≤ ${bound(target.atMost)}` : 'within noise';
}

function judge(target: FigureTarget, measured: ResultRow, baseline: ResultRow) {
  const m = measured.time!;
  const b = baseline.time!;
  const ratio = m.medianMs / b.medianMs;
  if ('atMost' in target) {
    const met = ratio <= target.atMost;
    return { ratio, met, detail: `${ratio.toFixed(3)} ${met ? '≤' : '>'} ${bound(target.atMost)}` };
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

/**
 * Every figure of the run's suite, once per (measured row label, threads) found: the measured row of
 * `label` in `group` at N, over the baseline row of the same backend and thread count.
 */
export function computeFigures(results: Results): FigureValue[] {
  const values: FigureValue[] = [];
  for (const figure of results.suite.figures ?? []) {
    const baselineLabel = figure.baselineLabel ?? figure.label;
    const measuredRows = results.rows.filter(
      (row) => row.group === figure.group && row.n === figure.n && labelMatches(row, figure.label),
    );
    const missing = (label: string, threads: number | null, detail: string): FigureValue => ({
      figure,
      label,
      threads,
      measuredMs: null,
      baselineMs: null,
      ratio: null,
      status: 'missing',
      detail,
    });
    if (measuredRows.length === 0) {
      values.push(missing(figure.label, null, rowText(undefined, figure.label, figure.group, figure.n)));
      continue;
    }
    for (const measured of measuredRows) {
      const baseline = results.rows.find(
        (row) =>
          row.group === figure.baseline &&
          row.n === figure.n &&
          row.threads === measured.threads &&
          row.backend === measured.backend &&
          labelMatches(row, baselineLabel),
      );
      if (measured.status !== 'ok' || !measured.time) {
        values.push(
          missing(measured.label, measured.threads, rowText(measured, figure.label, figure.group, figure.n)),
        );
      } else if (baseline?.status !== 'ok' || !baseline.time) {
        const label = baseline?.label ?? baselineLabel;
        values.push(
          missing(measured.label, measured.threads, rowText(baseline, label, figure.baseline, figure.n)),
        );
      } else {
        const verdict = judge(figure.target, measured, baseline);
        values.push({
          figure,
          label: measured.label,
          threads: measured.threads,
          measuredMs: measured.time.medianMs,
          baselineMs: baseline.time.medianMs,
          ratio: verdict.ratio,
          status: verdict.met ? 'met' : 'not met',
          detail: verdict.detail,
        });
      }
    }
  }
  return values;
}
