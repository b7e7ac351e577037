/**
 * One benchmark run in Node: for every case of the suite, the rows of its kind (run-plan.ts's
 * loop over cases/attention-case.ts and cases/mha-case.ts), with peers and peak memory in child
 * processes (cases/peer-case.ts, cases/memory-case.ts), each row appended to the results file as
 * soon as it exists.
 */
import { join } from 'node:path';
import { backendUnavailableReason, defaultBackend } from '@attnkit/kernels';
import { probeInChild } from './bandwidth.js';
import { plannedDecodeRows, runBackends, runDecodeCase } from './cases/decode-case.js';
import { measureMemory } from './cases/memory-case.js';
import { runPeerCase } from './cases/peer-case.js';
import { ceilingLines } from './ceiling.js';
import { measureCeilings } from './ceiling-probe.js';
import { withProbeFraction } from './decode-model.js';
import { describeMachine, gitState, packageVersions } from './machine.js';
import type { Progress } from './progress.js';
import { VARIANTS } from './registry.js';
import { RESULTS_SCHEMA_VERSION, type Results } from './results.js';
import { ResultsWriter } from './results-writer.js';
import { CallPredictor, type RunContext } from './run-context.js';
import { countSteps, defaultRunId, runCases, selectPeers, selectVariants } from './run-plan.js';
import { expandBackends, type HarnessBackend, type Suite } from './suite.js';

export { countSteps, defaultRunId, peerMatches, selectPeers, selectVariants } from './run-plan.js';

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
    outOfProcess: {
      measureMemory,
      runPeerCase,
      plannedDecodeRows,
      runDecodeCase,
      measureProbe: (probeContext, taken) => measureProbe(probeContext, writer, taken),
      measureCeiling: async (probeContext) => measureCeiling(probeContext, writer),
    },
  };
  progress.addWork(countSteps(context));
  progress.note(`results: ${resultsPath} (rewritten after every case)`);

  await runCases(context);
  const finishedAt = Date.now();
  const results = writer.finish({
    finishedAt: new Date(finishedAt).toISOString(),
    wallTimeMs: finishedAt - started,
  });
  return { results, resultsPath };
}

/**
 * The streaming-bandwidth probe of a decode run, per backend and thread count: before its first
 * decode case, and again after its last. After the second, every decode row's probe fraction is
 * taken over the best of both (probeBandwidth), as the probe figures are.
 */
async function measureProbe(
  context: RunContext,
  writer: ResultsWriter,
  taken: 'before' | 'after',
): Promise<void> {
  const probe = context.suite.bandwidthProbe ?? { bytes: 512 * 2 ** 20, repeats: 8, timeoutMs: 300_000 };
  context.progress.note(
    `bandwidth probe (${taken} the decode cases): streaming read of ${probe.bytes} bytes, best of ${probe.repeats}`,
  );
  const measured = await probeInChild(
    {
      backends: runBackends(context),
      threads: context.threads,
      options: { bytes: probe.bytes, repeats: probe.repeats },
    },
    probe.timeoutMs,
  );
  const probes = measured.map((result) => ({ ...result, taken }));
  writer.addBandwidth(probes);
  if (taken === 'after') {
    for (const row of writer.results.rows) {
      if (row.decode) writer.upsert(withProbeFraction(row, writer.results.bandwidth));
    }
  }
  for (const result of probes) {
    context.progress.note(
      `  ${result.backend} t=${result.threads}: ${result.gbPerSecond === null ? `skipped (${result.reason})` : `${result.gbPerSecond.toFixed(1)} GB/s`}`,
    );
  }
}

/** The FMA-throughput ceilings of a suite with a ceilingProbe, per backend and CPU path, before its first case. */
function measureCeiling(context: RunContext, writer: ResultsWriter): void {
  const plan = context.suite.ceilingProbe ?? { iterations: 1_000_000, repeats: 40 };
  context.progress.note(
    `ceiling probe: register-held vector FMA chains, ${plan.iterations} iterations, best of ${plan.repeats} (one core)`,
  );
  const probes = measureCeilings(runBackends(context), plan);
  writer.setCeiling(probes);
  for (const line of ceilingLines({ ceiling: probes })) context.progress.note(`  ${line}`);
}
