/**
 * What a row's GFLOP/s is measured against: the run's FMA-throughput ceilings (results.ceiling,
 * measured by ceiling-probe.ts). A row on native is held to the ceiling of the CPU path its calls
 * ran on, a row on wasm to the 128-bit SIMD ceiling, a peer (which picks its own instructions) to
 * the best path of the machine; each times the row's threads, since the probe measures one core.
 * No node:* here (the report and the docs use it).
 */
import type { CeilingProbe, ResultRow, Results } from './results.js';

export interface RowCeiling {
  /** The probe's path ('avx512', 'simd128', ...). */
  readonly path: string;
  /** One core's GFLOP/s on that path. */
  readonly perCore: number;
  /** perCore · the row's threads. */
  readonly gflops: number;
}

function usable(probe: CeilingProbe): probe is CeilingProbe & { gflops: number } {
  return probe.status === 'ok' && probe.gflops !== null && probe.gflops > 0;
}

/** The ceiling a row is measured against, or null (no probe in the run, js or naive rows, no time). */
export function rowCeiling(results: Pick<Results, 'ceiling'>, row: ResultRow): RowCeiling | null {
  const probes = (results.ceiling ?? []).filter(usable);
  let probe: (CeilingProbe & { gflops: number }) | undefined;
  if (row.implementation === 'peer') {
    for (const candidate of probes) if (!probe || candidate.gflops > probe.gflops) probe = candidate;
  } else if (row.backend !== undefined) {
    probe = probes.find((candidate) => candidate.backend === row.backend && candidate.selected);
  }
  if (!probe) return null;
  return { path: probe.path, perCore: probe.gflops, gflops: probe.gflops * row.threads };
}

/** A row's GFLOP/s over its ceiling (0.5 = half of it), or null. */
export function ceilingFraction(results: Pick<Results, 'ceiling'>, row: ResultRow): number | null {
  const ceiling = rowCeiling(results, row);
  return ceiling && row.time ? row.time.gflops / ceiling.gflops : null;
}

/** The run's ceilings in one line each ([] when it measured none). */
export function ceilingLines(results: Pick<Results, 'ceiling'>): string[] {
  return (results.ceiling ?? []).map(
    (probe) =>
      `${probe.backend} ${probe.path}${probe.selected ? ' (the path its rows ran on)' : ''}: ${probe.status === 'ok' && probe.gflops !== null ? `${probe.gflops.toFixed(1)} GFLOP/s per core` : `skipped (${probe.reason ?? ''})`}`,
  );
}
