/**
 * One benchmark run: for every case of the suite, the rows of its kind (cases/attention-case.ts,
 * cases/mha-case.ts; peers and peak memory from there), each appended to the results file as
 * soon as it exists. Every outcome is a row, ok or skipped with its reason: a case that fails in
 * a way its row kind did not catch has its missing rows recorded as skipped, and the run goes on.
 */
import { join } from 'node:path';
import { backendUnavailableReason, defaultBackend } from '@attnkit/kernels';
import { probeInChild } from './bandwidth.js';
import { runAttentionCase } from './cases/attention-case.js';
import { plannedDecodeRows, runBackends, runDecodeCase } from './cases/decode-case.js';
import { runMhaCase } from './cases/mha-case.js';
import { describeMachine, gitState, packageVersions } from './machine.js';
import type { Progress } from './progress.js';
import { type PeerId, VARIANTS } from './registry.js';
import { RESULTS_SCHEMA_VERSION, type Results } from './results.js';
import { ResultsWriter } from './results-writer.js';
import { describeError, rowId } from './rows.js';
import {
  CallPredictor,
  plannedRows,
  type RunContext,
  recordSkipped,
  runsPeers,
  specsForGroup,
} from './run-context.js';
import {
  type BenchCase,
  describeMask,
  expandBackends,
  expandGroup,
  type GroupSpec,
  type HarnessBackend,
  normaliseVariantSpec,
  type Suite,
  type VariantSpec,
} from './suite.js';

export interface RunOptions {
  readonly suite: Suite;
  readonly suitePath: string | null;
  readonly quick: boolean;
  /** Labels or variant ids to keep (dense is always kept: it is the baseline). */
  readonly variants?: readonly string[];
  readonly threads?: readonly number[];
  /** Backends to measure each variant on (default: the suite's). */
  readonly backends?: readonly HarnessBackend[];
  readonly peers: boolean;
  /** Peer ids to keep (default: the suite's). */
  readonly peerFilter?: readonly string[];
  readonly outDir: string;
  readonly charts: readonly ('svg' | 'png')[];
  readonly argv: readonly string[];
  readonly progress: Progress;
}

export interface RunOutcome {
  readonly results: Results;
  readonly resultsPath: string;
}

/** The variant specs a run uses: the suite's, filtered by --variants, with dense always present. */
export function selectVariants(
  suite: Suite,
  filter: readonly string[] | undefined,
): { specs: VariantSpec[]; notes: string[] } {
  const all = suite.variants.map(normaliseVariantSpec);
  const notes: string[] = [];
  let specs = all;
  if (filter && filter.length > 0) {
    specs = all.filter((spec) => filter.includes(spec.label) || filter.includes(spec.variant));
    const unknown = filter.filter(
      (name) => !all.some((spec) => spec.label === name || spec.variant === name),
    );
    if (unknown.length > 0) notes.push(`--variants: not in suite '${suite.name}': ${unknown.join(', ')}`);
  }
  if (!specs.some((spec) => spec.variant === 'dense')) {
    specs = [{ label: 'dense', variant: 'dense', options: {} }, ...specs];
    notes.push('dense added: it is always timed as the baseline');
  }
  return { specs, notes };
}

/** Whether a --peers name selects a peer: its id, or its runtime prefix ('ort-node'). */
export function peerMatches(peer: PeerId, name: string): boolean {
  return peer === name || peer.startsWith(`${name}:`);
}

export function selectPeers(suite: Suite, enabled: boolean, filter: readonly string[] | undefined): PeerId[] {
  if (!enabled) return [];
  if (!filter || filter.length === 0) return [...suite.peers];
  return suite.peers.filter((peer) => filter.some((name) => peerMatches(peer, name)));
}

export function countSteps(context: Pick<RunContext, 'suite' | 'specs' | 'threads' | 'peers'>): number {
  let steps = 0;
  for (const group of context.suite.groups) {
    const cases = expandGroup(group);
    if (group.kind === 'decode') {
      for (const benchCase of cases) steps += plannedDecodeRows(context, group, benchCase).length;
      continue;
    }
    const labels = specsForGroup(context, group).length;
    steps += cases.length * labels * context.threads.length;
    if (group.kind === 'attention') {
      if (group.memory && context.suite.memory.enabled) steps += cases.length * labels;
      const peerCases = cases.filter((c) => runsPeers(group, c.n)).length;
      steps += peerCases * context.peers.length * context.threads.length;
    }
  }
  return steps;
}

export function defaultRunId(suiteName: string, date = new Date()): string {
  const stamp = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .replace('T', '-');
  return `${suiteName}-${stamp}`;
}

/**
 * The last line of defence: a case whose row kind threw past its own per-row handling still
 * owes every one of its rows; those not written yet become skipped rows carrying the error.
 */
function recordCaseFailure(
  context: RunContext,
  group: GroupSpec,
  benchCase: BenchCase,
  error: unknown,
): void {
  const written = new Set(context.writer.results.rows.map((row) => row.id));
  const reason = `case failed: ${describeError(error)}`;
  const owed =
    group.kind === 'decode'
      ? plannedDecodeRows(context, group, benchCase)
      : plannedRows(context, group, benchCase);
  for (const planned of owed) {
    if (written.has(rowId(benchCase.id, planned.label, planned.threads))) continue;
    context.progress.start(`${benchCase.id} ${planned.label} t=${planned.threads}`);
    recordSkipped(context, benchCase, planned, { flops: 0, pairs: 0 }, reason);
  }
}

/** The streaming-bandwidth probe of a decode run, per backend and thread count, before its first decode case. */
async function measureProbe(context: RunContext): Promise<void> {
  const probe = context.suite.bandwidthProbe ?? { bytes: 512 * 2 ** 20, repeats: 8, timeoutMs: 300_000 };
  context.progress.note(`bandwidth probe: streaming read of ${probe.bytes} bytes, best of ${probe.repeats}`);
  const probes = await probeInChild(
    {
      backends: runBackends(context),
      threads: context.threads,
      options: { bytes: probe.bytes, repeats: probe.repeats },
    },
    probe.timeoutMs,
  );
  context.writer.setBandwidth(probes);
  for (const result of probes) {
    context.progress.note(
      `  ${result.backend} t=${result.threads}: ${result.gbPerSecond === null ? `skipped (${result.reason})` : `${result.gbPerSecond.toFixed(1)} GB/s`}`,
    );
  }
}

export async function runBenchmarks(options: RunOptions): Promise<RunOutcome> {
  const started = Date.now();
  const { suite, progress } = options;
  const selected = selectVariants(suite, options.variants);
  for (const note of selected.notes) progress.note(note);
  const backends = [...new Set(options.backends ?? suite.backends)];
  for (const backend of backends) {
    const why = backendUnavailableReason(backend);
    if (why) progress.note(`backend ${backend}: unavailable here, its rows are skipped (${why})`);
  }
  const specs = expandBackends(selected.specs, backends);
  const threads = [...new Set(options.threads ?? suite.threads)].sort((a, b) => a - b);
  const peers = selectPeers(suite, options.peers, options.peerFilter);
  if (!options.peers) progress.note('peers: not run (--no-peers)');
  for (const spec of specs) progress.note(`variant ${spec.label}: ${VARIANTS[spec.variant].source}`);

  const initial: Results = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    tool: 'attnkit-bench',
    runId: defaultRunId(suite.name, new Date(started)),
    startedAt: new Date(started).toISOString(),
    finishedAt: null,
    complete: false,
    machine: describeMachine(),
    node: process.version,
    packages: packageVersions(),
    backend: defaultBackend(),
    git: gitState(),
    options: {
      suite: suite.name,
      suitePath: options.suitePath,
      quick: options.quick,
      variants: specs.map((spec) => spec.label),
      threads,
      backends,
      peers: options.peers,
      charts: [...options.charts],
      argv: [...options.argv],
    },
    suite,
    rows: [],
    wallTimeMs: null,
  };
  const resultsPath = join(options.outDir, 'results.json');
  const writer = new ResultsWriter(resultsPath, initial);
  const context: RunContext = {
    suite,
    specs,
    threads,
    peers,
    writer,
    progress,
    predictor: new CallPredictor(),
    peerThreadLimits: new Map(),
  };
  progress.addWork(countSteps(context));
  progress.note(`results: ${resultsPath} (rewritten after every case)`);

  let probed = false;
  for (const group of suite.groups) {
    progress.note(`${group.title} — ${group.source}; ${describeMask(group.mask)}`);
    if (group.kind === 'decode' && !probed) {
      probed = true;
      await measureProbe(context);
    }
    const runCase =
      group.kind === 'mha' ? runMhaCase : group.kind === 'decode' ? runDecodeCase : runAttentionCase;
    for (const benchCase of expandGroup(group)) {
      try {
        await runCase(context, group, benchCase);
      } catch (error) {
        recordCaseFailure(context, group, benchCase, error);
      }
    }
  }
  progress.end();
  const finishedAt = Date.now();
  const results = writer.finish({
    finishedAt: new Date(finishedAt).toISOString(),
    wallTimeMs: finishedAt - started,
  });
  return { results, resultsPath };
}
