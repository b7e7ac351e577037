/** Small helpers shared by the row kinds (cases/*). */
import type { ResultRow } from './results.js';
import type { BenchCase } from './suite-schema.js';

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

export function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.length > 240 ? `${line.slice(0, 237)}...` : line;
}

/** An exception as one line for a skip reason: its class (RangeError, ...) and the first line of its message. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return firstLine(`${error.name}: ${error.message}`);
  return firstLine(String(error));
}

/** Runs fn; an exception becomes its first message line (recorded as a skip reason). */
export function safely<T>(fn: () => T): { value: T } | { error: string } {
  try {
    return { value: fn() };
  } catch (error) {
    return { error: firstLine((error as Error).message ?? String(error)) };
  }
}

/**
 * Thrown by a row kind when a row cannot be measured for a known reason; the row loop records it
 * as a skipped row (any other exception is recorded the same way, with the stage that failed).
 */
export class SkipRow extends Error {
  override name = 'SkipRow';
  constructor(
    readonly reason: string,
    readonly extra: Partial<ResultRow> = {},
  ) {
    super(reason);
  }
}

/** A value computed on first use; a failure is remembered and rethrown, not retried per row. */
export function lazy<T>(make: () => T): () => T {
  let state: { value: T } | { error: unknown } | undefined;
  return () => {
    if (!state) {
      try {
        state = { value: make() };
      } catch (error) {
        state = { error };
      }
    }
    if ('error' in state) throw state.error;
    return state.value;
  };
}
