/**
 * --compare: matches the rows of two results files by id (case | implementation | threads) and
 * reports new/old median-time ratios (< 1 = the new run is faster) and GFLOP/s ratios.
 */
import type { Results } from './results.js';

export interface ComparedRow {
  readonly id: string;
  readonly oldMs: number;
  readonly newMs: number;
  /** newMs / oldMs: < 1 means faster now. */
  readonly timeRatio: number;
  /** new GFLOP/s / old GFLOP/s. */
  readonly gflopsRatio: number;
}

export interface Comparison {
  readonly rows: ComparedRow[];
  /** Measured in one run and not the other (or skipped in one). */
  readonly onlyOld: string[];
  readonly onlyNew: string[];
  /** Geometric mean of timeRatio over matched rows (null when none matched). */
  readonly geometricMeanTimeRatio: number | null;
}

export function compareResults(oldResults: Results, newResults: Results): Comparison {
  const timed = (results: Results) =>
    new Map(
      results.rows.filter((row) => row.status === 'ok' && row.time).map((row) => [row.id, row] as const),
    );
  const before = timed(oldResults);
  const after = timed(newResults);
  const rows: ComparedRow[] = [];
  for (const [id, newRow] of after) {
    const oldRow = before.get(id);
    if (!oldRow?.time || !newRow.time) continue;
    rows.push({
      id,
      oldMs: oldRow.time.medianMs,
      newMs: newRow.time.medianMs,
      timeRatio: newRow.time.medianMs / oldRow.time.medianMs,
      gflopsRatio: newRow.time.gflops / oldRow.time.gflops,
    });
  }
  const logSum = rows.reduce((sum, row) => sum + Math.log(row.timeRatio), 0);
  return {
    rows,
    onlyOld: [...before.keys()].filter((id) => !after.has(id)),
    onlyNew: [...after.keys()].filter((id) => !before.has(id)),
    geometricMeanTimeRatio: rows.length > 0 ? Math.exp(logSum / rows.length) : null,
  };
}

export function formatComparison(comparison: Comparison, oldLabel: string, newLabel: string): string {
  const lines = [`compare: ${newLabel} against ${oldLabel} (time ratio new/old: < 1 is faster now)`];
  if (comparison.rows.length === 0) {
    lines.push('  no measured rows in common');
  } else {
    const width = Math.max(...comparison.rows.map((row) => row.id.length));
    lines.push(
      `  ${'row'.padEnd(width)}  ${'old'.padStart(10)}  ${'new'.padStart(10)}  ${'new/old'.padStart(8)}  GFLOP/s ratio`,
    );
    for (const row of comparison.rows) {
      lines.push(
        `  ${row.id.padEnd(width)}  ${row.oldMs.toFixed(3).padStart(10)}  ${row.newMs.toFixed(3).padStart(10)}  ${row.timeRatio.toFixed(3).padStart(8)}  ${row.gflopsRatio.toFixed(3)}`,
      );
    }
    if (comparison.geometricMeanTimeRatio !== null) {
      lines.push(
        `  geometric mean time ratio over ${comparison.rows.length} rows: ${comparison.geometricMeanTimeRatio.toFixed(3)}`,
      );
    }
  }
  const rows = (count: number) => `${count} row${count === 1 ? '' : 's'}`;
  if (comparison.onlyOld.length > 0) lines.push(`  only in ${oldLabel}: ${rows(comparison.onlyOld.length)}`);
  if (comparison.onlyNew.length > 0) lines.push(`  only in ${newLabel}: ${rows(comparison.onlyNew.length)}`);
  return lines.join('\n');
}
