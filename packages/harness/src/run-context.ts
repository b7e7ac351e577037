/**
 * What the row kinds (cases/*) share with the run loop (runner.ts): the run's context, which
 * labels a group runs, and how a row that could not be measured is recorded.
 */
import { backendUnavailableReason } from '@attnkit/kernels';
import type { OracleSlice } from './accuracy.js';
import type { MemoryCandidate } from './cases/memory-case.js';
import type { Progress } from './progress.js';
import { type PeerId, VARIANTS } from './registry.js';
import type { ResultRow, Results } from './results.js';
import { baseRow } from './rows.js';
import type { BenchCase, GroupSpec, HarnessBackend, Suite, VariantSpec } from './suite-schema.js';

/**
 * Why a spec's backend cannot run here (the native addon did not load, no wasm), or null. The
 * row is recorded as skipped with this reason: the table still shows where native was missing.
 */
export function backendSkipReason(
  spec: VariantSpec,
  unavailable: (backend: HarnessBackend) => string | undefined = backendUnavailableReason,
): string | null {
  if (!spec.backend) return null;
  const why = unavailable(spec.backend);
  return why === undefined ? null : `backend ${spec.backend} unavailable: ${why}`;
}

/** Predicted milliseconds of one call from this label's GFLOP/s on an earlier case of the group. */
export class CallPredictor {
  private readonly rates = new Map<string, number>();
  record(key: string, flops: number, milliseconds: number): void {
    if (milliseconds > 0) this.rates.set(key, flops / milliseconds);
  }
  predict(key: string, flops: number): number | null {
    const rate = this.rates.get(key);
    return rate ? flops / rate : null;
  }
}

/**
 * Where rows go: the results file in Node (ResultsWriter, rewritten after every row), an
 * in-memory document in the browser (browser-runner.ts).
 */
export interface RowSink {
  readonly results: Results;
  /** Adds a row, or replaces the row with the same id (memory measurements complete a row later). */
  upsert(row: ResultRow): void;
}

/** What the row kinds report progress to: Progress on stderr in Node, the page in the browser. */
export type ProgressSink = Pick<Progress, 'start' | 'finish' | 'note' | 'addWork' | 'end'>;

/**
 * The measurements that run in child processes (Node only): the runner passes them in, so the
 * row kinds import no node:* and the browser runner, which has no child processes, runs the same
 * row kinds without them.
 */
export interface OutOfProcessSteps {
  /** The peak memory of a variant's 1-thread call (cases/memory-case.ts). */
  measureMemory(
    context: RunContext,
    benchCase: BenchCase,
    spec: VariantSpec,
    candidate: MemoryCandidate | undefined,
  ): Promise<void>;
  /** One peer at one thread count (cases/peer-case.ts). */
  runPeerCase(
    context: RunContext,
    benchCase: BenchCase,
    peer: PeerId,
    threads: number,
    flops: number,
    pairs: number,
    oracle: () => OracleSlice,
  ): Promise<void>;
  /** The rows a decode case owes (cases/decode-case.ts: KV caches and the ort GQA peer, Node only). */
  plannedDecodeRows?(
    context: Pick<RunContext, 'suite' | 'specs' | 'threads' | 'peers'>,
    group: GroupSpec,
    benchCase: BenchCase,
  ): PlannedRow[];
  /** One decode case. */
  runDecodeCase?(context: RunContext, group: GroupSpec, benchCase: BenchCase): Promise<void>;
  /** The streaming-bandwidth probe (bandwidth.ts): before the first decode case, and again after the last. */
  measureProbe?(context: RunContext, taken: 'before' | 'after'): Promise<void>;
  /** The FMA-throughput ceilings (ceiling-probe.ts), once before the first case of a suite with a ceilingProbe. */
  measureCeiling?(context: RunContext): Promise<void>;
}

export interface RunContext {
  readonly suite: Suite;
  readonly specs: readonly VariantSpec[];
  readonly threads: readonly number[];
  readonly peers: readonly PeerId[];
  readonly writer: RowSink;
  readonly progress: ProgressSink;
  /** Absent where there are no child processes (the browser): no peak memory, no peers. */
  readonly outOfProcess?: OutOfProcessSteps;
  readonly predictor: CallPredictor;
  /** Peers found unable to use a thread count: later cases skip at once with the same reason. */
  readonly peerThreadLimits: Map<string, string>;
}

/** The specs a group runs: its own list (dense always, unless the group sets denseBaseline: false), else the run's. */
export function specsForGroup(context: Pick<RunContext, 'specs'>, group: GroupSpec): VariantSpec[] {
  if (!group.variants) return [...context.specs];
  return context.specs.filter(
    (spec) =>
      (spec.variant === 'dense' && group.denseBaseline !== false) ||
      group.variants?.includes(spec.baseLabel ?? spec.label) ||
      group.variants?.includes(spec.variant),
  );
}

/** The run's peers a case of this group runs: none, all, or those the group lists (in the run's order). */
export function casePeers(context: Pick<RunContext, 'peers'>, group: GroupSpec, n: number): PeerId[] {
  const runs =
    group.kind !== 'mha' &&
    group.peers !== false &&
    (group.peerLengths === undefined || group.peerLengths.includes(n));
  if (!runs) return [];
  const listed = group.peers;
  return Array.isArray(listed) ? context.peers.filter((peer) => listed.includes(peer)) : [...context.peers];
}

export function seconds(milliseconds: number): string {
  return `${Number((milliseconds / 1000).toPrecision(2))} s`;
}

/** The identity of one row a case owes the results file, before it is measured. */
export interface PlannedRow {
  readonly label: string;
  readonly threads: number;
  readonly implementation: ResultRow['implementation'];
  readonly variant: string;
  readonly exact: boolean | null;
  readonly backend?: HarnessBackend;
}

export function variantRow(spec: VariantSpec, threads: number): PlannedRow {
  return {
    label: spec.label,
    threads,
    implementation: spec.variant === 'naive' ? 'naive' : 'attnkit',
    variant: spec.variant,
    exact: VARIANTS[spec.variant].variant.exact,
    ...(spec.backend ? { backend: spec.backend } : {}),
  };
}

export function peerRow(peer: PeerId, threads: number): PlannedRow {
  return { label: peer, threads, implementation: 'peer', variant: peer, exact: true };
}

/** Every row a case produces: each label at each thread count, then the peers'. */
export function plannedRows(context: RunContext, group: GroupSpec, benchCase: BenchCase): PlannedRow[] {
  const rows: PlannedRow[] = [];
  for (const spec of specsForGroup(context, group)) {
    for (const threads of context.threads) rows.push(variantRow(spec, threads));
  }
  for (const peer of casePeers(context, group, benchCase.n)) {
    for (const threads of context.threads) rows.push(peerRow(peer, threads));
  }
  return rows;
}

/** Writes a skipped row and ends its progress step (started by the caller). */
export function recordSkipped(
  context: RunContext,
  benchCase: BenchCase,
  planned: PlannedRow,
  extra: { flops: number; pairs: number } & Partial<ResultRow>,
  reason: string,
): void {
  context.writer.upsert(skippedRow(benchCase, planned, extra, reason));
  context.progress.finish(`skipped (${reason})`);
}

/** The row of a planned row that was not measured, saying why (recordSkipped writes it at once). */
export function skippedRow(
  benchCase: BenchCase,
  planned: PlannedRow,
  extra: { flops: number; pairs: number } & Partial<ResultRow>,
  reason: string,
): ResultRow {
  const { label, threads, ...identity } = planned;
  return {
    ...baseRow(benchCase, label, threads),
    ...identity,
    ...extra,
    status: 'skipped',
    reason,
  };
}
