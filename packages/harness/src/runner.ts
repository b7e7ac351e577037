/**
 * One benchmark run: for every case of the suite, validate then time every implementation at
 * every thread count, measure peak memory in a fresh child process, and run the peers in theirs.
 * Every outcome is a row (ok, or skipped with its reason), appended to the results file as soon
 * as it exists.
 */
import { join } from 'node:path';
import type { Tensor } from '@attnkit/core';
import {
  compareOutputs,
  measureAccuracy,
  measureSliceAccuracy,
  type OracleSlice,
  prepareOracle,
} from './accuracy.js';
import { childScriptPath, runChild } from './child.js';
import { attendedPairs, attentionFlops } from './flops.js';
import { ioBytes, lastRows, lastRowsTensor, makeInputs } from './inputs.js';
import { describeMachine, formatBytes, gitState, packageVersion, packageVersions } from './machine.js';
import type { MemoryReply, MemoryRequest } from './memory-child.js';
import { runMhaCase } from './mha-bench.js';
import { PEERS, type PeerReply, type PeerRequest, peerEstimatedBytes, peerPrecheck } from './peers/peers.js';
import type { Progress } from './progress.js';
import { RESULTS_SCHEMA_VERSION, type ResultRow, type Results } from './results.js';
import { ResultsWriter } from './results-writer.js';
import { baseRow, safely } from './rows.js';
import {
  type BenchCase,
  describeMask,
  expandGroup,
  type GroupSpec,
  maskOptions,
  normaliseVariantSpec,
  type PeerId,
  type Suite,
  type VariantSpec,
} from './suite.js';
import { timeSync } from './timing.js';
import { type AnyVariant, type LoadedVariant, loadVariant, ownOracleOf } from './variants.js';

export interface RunOptions {
  readonly suite: Suite;
  readonly suitePath: string | null;
  readonly quick: boolean;
  /** Labels or variant ids to keep (dense is always kept: it is the baseline). */
  readonly variants?: readonly string[];
  readonly threads?: readonly number[];
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

export function selectPeers(suite: Suite, enabled: boolean, filter: readonly string[] | undefined): PeerId[] {
  if (!enabled) return [];
  if (!filter || filter.length === 0) return [...suite.peers];
  return suite.peers.filter(
    (peer) => filter.includes(peer) || filter.some((name) => peer.startsWith(`${name}:`)),
  );
}

/** Predicted milliseconds of one call from this label's GFLOP/s on an earlier case of the group. */
class CallPredictor {
  private readonly rates = new Map<string, number>();
  record(key: string, flops: number, milliseconds: number): void {
    if (milliseconds > 0) this.rates.set(key, flops / milliseconds);
  }
  predict(key: string, flops: number): number | null {
    const rate = this.rates.get(key);
    return rate ? flops / rate : null;
  }
}

interface RunContext {
  readonly suite: Suite;
  readonly specs: readonly VariantSpec[];
  readonly loaded: ReadonlyMap<string, LoadedVariant>;
  readonly threads: readonly number[];
  readonly peers: readonly PeerId[];
  readonly writer: ResultsWriter;
  readonly progress: Progress;
  readonly predictor: CallPredictor;
  /** Peers found unable to use a thread count: later cases skip at once with the same reason. */
  readonly peerThreadLimits: Map<string, string>;
}

function specsForGroup(context: RunContext, group: GroupSpec): VariantSpec[] {
  if (!group.variants) return [...context.specs];
  return context.specs.filter(
    (spec) =>
      spec.variant === 'dense' ||
      group.variants?.includes(spec.label) ||
      group.variants?.includes(spec.variant),
  );
}

function roleOf(spec: VariantSpec, variant: AnyVariant): 'exact' | 'approximate' | 'reference' {
  if (spec.variant === 'naive') return 'reference';
  return variant.exact ? 'exact' : 'approximate';
}

function seconds(milliseconds: number): string {
  return `${Number((milliseconds / 1000).toPrecision(2))} s`;
}

function runsPeers(group: GroupSpec, n: number): boolean {
  return group.peers && (group.peerLengths === undefined || group.peerLengths.includes(n));
}

export function countSteps(context: Pick<RunContext, 'suite' | 'specs' | 'threads' | 'peers'>): number {
  let steps = 0;
  for (const group of context.suite.groups) {
    const cases = expandGroup(group).length;
    const labels = group.variants
      ? context.specs.filter(
          (s) =>
            s.variant === 'dense' || group.variants?.includes(s.label) || group.variants?.includes(s.variant),
        ).length
      : context.specs.length;
    steps += cases * labels * context.threads.length;
    if (group.kind === 'attention') {
      if (group.memory && context.suite.memory.enabled) steps += cases * labels;
      const peerCases = expandGroup(group).filter((c) => runsPeers(group, c.n)).length;
      steps += peerCases * context.peers.length * context.threads.length;
    }
  }
  return steps;
}

async function runAttentionCase(context: RunContext, group: GroupSpec, benchCase: BenchCase): Promise<void> {
  const { suite, writer, progress } = context;
  const flops = attentionFlops(benchCase.shape, benchCase.mask);
  const pairs = attendedPairs(benchCase.shape, benchCase.mask);
  const inputs = makeInputs(benchCase.shape, benchCase.seed);
  const { q, k, v } = inputs;
  let oracle: OracleSlice | null = null;
  const oracleFor = (): OracleSlice => {
    oracle ??= prepareOracle(inputs, benchCase.mask, suite.accuracy.rowsPerHead);
    return oracle;
  };
  const budget = suite.memory.budgetBytes;
  const maskOpts = maskOptions(benchCase.mask);

  for (const spec of specsForGroup(context, group)) {
    const loaded = context.loaded.get(spec.label);
    const memoryCandidates: { row: ResultRow; options: Record<string, unknown> }[] = [];
    for (const threads of context.threads) {
      const base = { ...baseRow(benchCase, spec.label, threads), flops, pairs };
      const implementation = spec.variant === 'naive' ? ('naive' as const) : ('attnkit' as const);
      progress.start(`${benchCase.id} ${spec.label} t=${threads}`);
      const skip = (reason: string, extra: Partial<ResultRow> = {}) => {
        writer.upsert({
          ...base,
          implementation,
          variant: spec.variant,
          exact: loaded?.ok ? loaded.variant.exact : null,
          status: 'skipped',
          reason,
          ...extra,
        });
        progress.finish(`skipped (${reason})`);
      };
      if (!loaded?.ok) {
        skip(loaded ? loaded.reason : 'not loaded');
        continue;
      }
      const variant = loaded.variant;
      const options: Record<string, unknown> = { ...spec.options, ...maskOpts };
      if (threads > 1) options.threads = threads;
      const supported = safely(() => variant.notSupportedReasons(q, k, v, options));
      if ('error' in supported) {
        skip(`notSupportedReasons threw: ${supported.error}`);
        continue;
      }
      if (supported.value.length > 0) {
        skip(`not supported: ${supported.value.join('; ')}`);
        continue;
      }
      const workspace = safely(() => variant.workspaceBytes(q, k, v, options));
      const workspaceBytes =
        'value' in workspace && Number.isFinite(workspace.value) ? workspace.value : null;
      // The call copies q, k, v and out into the engine's arena and returns a fresh out: 2 × io + workspace.
      const estimatedBytes = 2 * ioBytes(benchCase.shape) + (workspaceBytes ?? 0);
      const memory = { workspaceBytes, estimatedBytes };
      if (estimatedBytes > budget) {
        skip(`estimated ${formatBytes(estimatedBytes)} exceeds the memory budget ${formatBytes(budget)}`, {
          memory,
        });
        continue;
      }
      const predictorKey = `${group.id}|${spec.label}|${threads}`;
      const predicted = context.predictor.predict(predictorKey, flops);
      if (predicted !== null && predicted > suite.timing.maxCallMs) {
        skip(
          `one call predicted to take ${seconds(predicted)} (from the previous case), over the ${seconds(suite.timing.maxCallMs)} cap`,
          { memory },
        );
        continue;
      }
      const started = performance.now();
      const first = safely(() => variant.forward(q, k, v, options) as Tensor);
      const firstMs = performance.now() - started;
      if ('error' in first) {
        skip(`forward threw: ${first.error}`, { memory });
        continue;
      }
      context.predictor.record(predictorKey, flops, firstMs);
      const accuracy = measureAccuracy(
        first.value.data,
        first.value.shape,
        oracleFor(),
        roleOf(spec, variant),
      );
      const ownOracle = ownOracleOf(spec.variant, loaded);
      if (ownOracle && threads === 1) {
        const qSlice = lastRowsTensor(q, suite.accuracy.rowsPerHead);
        const own = safely(() => ownOracle(qSlice, k, v, options).out);
        if ('value' in own) {
          accuracy.vsOwnOracle = compareOutputs(
            lastRows(first.value.data, first.value.shape, suite.accuracy.rowsPerHead),
            own.value,
          );
        }
      }
      const timed = safely(() =>
        timeSync(() => variant.forward(q, k, v, options), suite.timing, firstMs, flops),
      );
      if ('error' in timed) {
        skip(`timing failed: ${timed.error}`, { memory, accuracy });
        continue;
      }
      context.predictor.record(predictorKey, flops, timed.value.medianMs);
      const row: ResultRow = {
        ...base,
        implementation,
        variant: spec.variant,
        exact: variant.exact,
        status: 'ok',
        accuracy,
        time: timed.value,
        memory,
      };
      writer.upsert(row);
      if (threads === 1) memoryCandidates.push({ row, options: { ...spec.options } });
      progress.finish(
        `${timed.value.medianMs.toFixed(2)} ms, ${timed.value.gflops.toFixed(2)} GFLOP/s, max abs err ${accuracy.vsOracle.maxAbs?.toExponential(1) ?? 'NaN'}`,
      );
    }
    if (group.memory && suite.memory.enabled) {
      await measureMemory(context, benchCase, spec, memoryCandidates[0]);
    }
  }

  if (runsPeers(group, benchCase.n)) {
    for (const peer of context.peers) {
      for (const threads of context.threads) {
        await runPeerCase(context, benchCase, peer, threads, flops, pairs, oracleFor);
      }
    }
  }
}

async function measureMemory(
  context: RunContext,
  benchCase: BenchCase,
  spec: VariantSpec,
  candidate: { row: ResultRow; options: Record<string, unknown> } | undefined,
): Promise<void> {
  const { progress, writer, suite } = context;
  progress.start(`${benchCase.id} ${spec.label} peak memory (child process)`);
  if (!candidate) {
    // Nothing ran at 1 thread (skipped above, reason recorded there): nothing to measure.
    progress.finish('memory: not measured (the call itself was skipped)');
    return;
  }
  const { row, options } = candidate;
  const request: MemoryRequest = {
    variant: spec.variant,
    options,
    shape: benchCase.shape,
    mask: benchCase.mask,
    seed: benchCase.seed,
  };
  const outcome = await runChild<MemoryReply>(
    childScriptPath('memory-child'),
    request,
    suite.memory.timeoutMs,
  );
  const measured = outcome.ok
    ? {
        status: 'ok' as const,
        peakBytes: outcome.value.peakBytes,
        baselineBytes: outcome.value.baselineBytes,
        floorBytes: outcome.value.floorBytes,
        method: outcome.value.method,
      }
    : { status: 'skipped' as const, reason: outcome.reason };
  const memory = row.memory ?? { workspaceBytes: null, estimatedBytes: 0 };
  writer.upsert({ ...row, memory: { ...memory, measured } });
  progress.finish(
    outcome.ok ? `peak ${formatBytes(outcome.value.peakBytes)}` : `memory skipped (${outcome.reason})`,
  );
}

async function runPeerCase(
  context: RunContext,
  benchCase: BenchCase,
  peer: PeerId,
  threads: number,
  flops: number,
  pairs: number,
  oracleFor: () => OracleSlice,
): Promise<void> {
  const { progress, writer, suite } = context;
  const base = {
    ...baseRow(benchCase, peer, threads),
    flops,
    pairs,
    implementation: 'peer' as const,
    variant: peer,
    exact: true,
  };
  progress.start(`${benchCase.id} ${peer} t=${threads} (child process)`);
  const skip = (reason: string, extra: Partial<ResultRow> = {}) => {
    writer.upsert({ ...base, status: 'skipped', reason, ...extra });
    progress.finish(`skipped (${reason})`);
  };
  const limit = context.peerThreadLimits.get(`${peer}|${threads}`);
  const estimatedBytes = peerEstimatedBytes(peer, benchCase.shape, benchCase.mask);
  const memory = { workspaceBytes: null, estimatedBytes };
  const reason =
    peerPrecheck(
      peer,
      benchCase.shape,
      benchCase.mask,
      suite.memory.budgetBytes,
      (name) => packageVersion(name) !== null,
    ) ?? limit;
  if (reason) {
    skip(reason, reason.startsWith('estimated') ? { memory } : {});
    return;
  }
  const request: PeerRequest = {
    peer,
    shape: benchCase.shape,
    mask: benchCase.mask,
    seed: benchCase.seed,
    threads,
    rowsPerHead: suite.accuracy.rowsPerHead,
    timing: suite.timing,
    flops,
  };
  const outcome = await runChild<PeerReply>(
    childScriptPath('peers/peer-child'),
    request,
    suite.peerTimeoutMs,
  );
  if (!outcome.ok) {
    skip(`peer failed: ${outcome.reason}`, { memory });
    return;
  }
  const reply = outcome.value;
  if (reply.threadsUsed !== threads) {
    const reason = `${PEERS[peer].description} ran on ${reply.threadsUsed} thread(s) when asked for ${threads} in Node`;
    context.peerThreadLimits.set(`${peer}|${threads}`, reason);
    skip(reason, { memory });
    return;
  }
  const accuracy = measureSliceAccuracy(reply.rows, oracleFor(), 'exact');
  writer.upsert({
    ...base,
    status: 'ok',
    accuracy,
    time: reply.timing,
    memory: {
      ...memory,
      measured: {
        status: 'ok',
        peakBytes: reply.memory.peakBytes,
        baselineBytes: reply.memory.baselineBytes,
        floorBytes: reply.memory.floorBytes,
        method: reply.memory.method,
      },
    },
    notes: [...reply.notes, ...(reply.version ? [`version ${reply.version}`] : [])],
  });
  progress.finish(`${reply.timing.medianMs.toFixed(2)} ms, ${reply.timing.gflops.toFixed(2)} GFLOP/s`);
}

export function defaultRunId(suiteName: string, date = new Date()): string {
  const stamp = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .replace('T', '-');
  return `${suiteName}-${stamp}`;
}

async function kernelsBackend(): Promise<string | null> {
  try {
    const kernels = (await import('@attnkit/kernels')) as { defaultBackend?: () => string };
    return typeof kernels.defaultBackend === 'function'
      ? kernels.defaultBackend()
      : 'js (kernels has no defaultBackend yet)';
  } catch {
    return null;
  }
}

export async function runBenchmarks(options: RunOptions): Promise<RunOutcome> {
  const started = Date.now();
  const { suite, progress } = options;
  const { specs, notes } = selectVariants(suite, options.variants);
  for (const note of notes) progress.note(note);
  const threads = [...new Set(options.threads ?? suite.threads)].sort((a, b) => a - b);
  const peers = selectPeers(suite, options.peers, options.peerFilter);
  if (!options.peers) progress.note('peers: not run (--no-peers)');

  const loaded = new Map<string, LoadedVariant>();
  for (const spec of specs) {
    const result = await loadVariant(spec.variant);
    loaded.set(spec.label, result);
    progress.note(
      result.ok
        ? `variant ${spec.label}: ${result.source}`
        : `variant ${spec.label}: skipped (${result.reason})`,
    );
  }

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
    backend: await kernelsBackend(),
    git: gitState(),
    options: {
      suite: suite.name,
      suitePath: options.suitePath,
      quick: options.quick,
      variants: specs.map((spec) => spec.label),
      threads,
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
    loaded,
    threads,
    peers,
    writer,
    progress,
    predictor: new CallPredictor(),
    peerThreadLimits: new Map(),
  };
  progress.addWork(countSteps(context));
  progress.note(`results: ${resultsPath} (rewritten after every case)`);

  for (const group of suite.groups) {
    progress.note(`${group.title} — ${group.source}; ${describeMask(group.mask)}`);
    for (const benchCase of expandGroup(group)) {
      if (benchCase.kind === 'mha') await runMhaCase(context, specsForGroup(context, group), benchCase);
      else await runAttentionCase(context, group, benchCase);
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

export type { RunContext };
