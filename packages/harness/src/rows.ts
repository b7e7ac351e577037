/** Small helpers shared by the attention and layer runners. */
import type { BenchCase } from './suite.js';
import { firstLine } from './variants.js';

export function rowId(caseId: string, label: string, threads: number): string {
  return `${caseId}|${label}|t${threads}`;
}

/** The fields every row of a case shares. */
export function baseRow(benchCase: BenchCase, label: string, threads: number) {
  return {
    id: rowId(benchCase.id, label, threads),
    caseId: benchCase.id,
    group: benchCase.groupId,
    kind: benchCase.kind,
    n: benchCase.n,
    shape: { ...benchCase.shape },
    mask: benchCase.mask,
    ...(benchCase.dModel !== undefined ? { dModel: benchCase.dModel } : {}),
    label,
    threads,
  };
}

/** Runs fn; an exception becomes its first message line (recorded as a skip reason). */
export function safely<T>(fn: () => T): { value: T } | { error: string } {
  try {
    return { value: fn() };
  } catch (error) {
    return { error: firstLine((error as Error).message ?? String(error)) };
  }
}
