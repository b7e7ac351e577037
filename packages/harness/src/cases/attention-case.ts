/**
 * Attention rows: one (variant label, threads) of an attention case per row. Validate against
 * the float64 oracle, then time; then, where the run has child processes (context.outOfProcess:
 * Node, not the browser), the peak memory of the 1-thread call (memory-case.ts) and the peers
 * (peer-case.ts). A row that cannot be measured, for a known reason or because
 * anything in it threw, is recorded as skipped with its reason and the case goes on.
 */
import {
  attentionFlops as coreAttentionFlops,
  isMaskCompiled,
  problemForShape,
  type Tensor,
  visiblePairs,
} from '@attnkit/core';
import { compareOutputs, measureAccuracy, type OracleSlice, prepareOracle } from '../accuracy.js';
import { problemFor } from '../flops.js';
import { formatBytes } from '../format.js';
import { type AttentionInputs, ioBytes, lastRows, lastRowsTensor, makeInputs } from '../inputs.js';
import { hasPredicate, type MaskOptions, maskOptions, sliceMaskOptions } from '../mask-spec.js';
import { VARIANTS, type VariantEntry } from '../registry.js';
import type { ResultRow } from '../results.js';
import { baseRow, describeError, lazy, SkipRow, safely } from '../rows.js';
import {
  backendSkipReason,
  casePeers,
  type RunContext,
  recordSkipped,
  seconds,
  specsForGroup,
  variantRow,
} from '../run-context.js';
import type { BenchCase, GroupSpec, VariantSpec } from '../suite-schema.js';
import { timeSync } from '../timing.js';
import type { MemoryCandidate } from './memory-case.js';

/** What the rows of one case share: its mask options, FLOPs, and the inputs and oracle built on first use. */
interface CaseData {
  /**
   * The case's mask and score-modifier values, built once: every call of every row gets these same
   * objects, so a predicate mask is classified once (core's cache, keyed by the mask value).
   */
  readonly options: MaskOptions;
  /** The same for the oracle's slice (the last rowsPerHead query rows), for variants' own oracles. */
  readonly sliceOptions: () => MaskOptions;
  readonly flops: number;
  readonly pairs: number;
  /** q, k, v, out and their arena copies: every variant's floor, known before anything is allocated. */
  readonly floorBytes: number;
  readonly inputs: () => AttentionInputs;
  readonly oracle: () => OracleSlice;
}

/** Where a row got to: named in the skip reason of an unexpected failure, with what was measured so far. */
interface RowState {
  stage: string;
  extra: Partial<ResultRow>;
}

export async function runAttentionCase(
  context: RunContext,
  group: GroupSpec,
  benchCase: BenchCase,
): Promise<void> {
  const { suite, progress, outOfProcess } = context;
  const options = maskOptions(benchCase.mask, benchCase.shape);
  // Building the problem compiles the mask's general part for these values: the calls reuse it.
  const problem = problemFor(benchCase.shape, benchCase.mask, options);
  const data: CaseData = {
    options,
    sliceOptions: lazy(() => sliceMaskOptions(benchCase.mask, benchCase.shape, suite.accuracy.rowsPerHead)),
    flops: coreAttentionFlops(problem),
    pairs: visiblePairs(problem),
    floorBytes: 2 * ioBytes(benchCase.shape),
    // Allocated on first use, after the budget check: a case over the budget never allocates its inputs.
    inputs: lazy(() => makeInputs(benchCase.shape, benchCase.seed)),
    oracle: lazy(() => prepareOracle(data.inputs(), benchCase.mask, suite.accuracy.rowsPerHead)),
  };
  const { flops, pairs } = data;

  for (const spec of specsForGroup(context, group)) {
    let memoryCandidate: MemoryCandidate | undefined;
    for (const threads of context.threads) {
      progress.start(`${benchCase.id} ${spec.label} t=${threads}`);
      const state: RowState = { stage: 'setup', extra: {} };
      try {
        const row = measureRow(context, group, benchCase, spec, threads, data, state);
        context.writer.upsert(row);
        if (threads === 1) memoryCandidate ??= { row, options: { ...spec.options } };
        progress.finish(
          `${row.time?.medianMs.toFixed(2)} ms, ${row.time?.gflops.toFixed(2)} GFLOP/s, max abs err ${row.accuracy?.vsOracle.maxAbs?.toExponential(1) ?? 'NaN'}`,
        );
      } catch (error) {
        const skip =
          error instanceof SkipRow
            ? error
            : new SkipRow(`${state.stage} failed: ${describeError(error)}`, state.extra);
        recordSkipped(
          context,
          benchCase,
          variantRow(spec, threads),
          { flops, pairs, ...skip.extra },
          skip.reason,
        );
      }
    }
    if (outOfProcess && group.memory && suite.memory.enabled)
      await outOfProcess.measureMemory(context, benchCase, spec, memoryCandidate);
  }

  if (outOfProcess) {
    for (const peer of casePeers(context, group, benchCase.n)) {
      for (const threads of context.threads) {
        await outOfProcess.runPeerCase(context, benchCase, peer, threads, flops, pairs, data.oracle);
      }
    }
  }
}

function roleOf(spec: VariantSpec, exact: boolean): 'exact' | 'approximate' | 'reference' {
  if (spec.variant === 'naive') return 'reference';
  return exact ? 'exact' : 'approximate';
}

/** One row, measured; throws SkipRow (or anything else) when it cannot be. */
function measureRow(
  context: RunContext,
  group: GroupSpec,
  benchCase: BenchCase,
  spec: VariantSpec,
  threads: number,
  data: CaseData,
  state: RowState,
): ResultRow {
  const { suite } = context;
  const { flops, pairs } = data;
  const unavailable = backendSkipReason(spec);
  if (unavailable) throw new SkipRow(unavailable);
  const budget = suite.memory.budgetBytes;
  if (data.floorBytes > budget) {
    throw new SkipRow(
      `estimated at least ${formatBytes(data.floorBytes)} (q, k, v, out and their arena copies) exceeds the memory budget ${formatBytes(budget)}`,
      { memory: { workspaceBytes: null, estimatedBytes: data.floorBytes } },
    );
  }
  state.stage = 'allocating inputs';
  const { q, k, v } = data.inputs();
  state.stage = 'setup';
  const entry: VariantEntry = VARIANTS[spec.variant];
  const variant = entry.variant;
  const options: Record<string, unknown> = { ...spec.options, ...data.options };
  if (threads > 1) options.threads = threads;
  const supported = safely(() => variant.notSupportedReasons(q, k, v, options));
  if ('error' in supported) throw new SkipRow(`notSupportedReasons threw: ${supported.error}`);
  if (supported.value.length > 0) throw new SkipRow(`not supported: ${supported.value.join('; ')}`);
  const workspace = safely(() => variant.workspaceBytes(q, k, v, options));
  const workspaceBytes = 'value' in workspace && Number.isFinite(workspace.value) ? workspace.value : null;
  // The call copies q, k, v and out into the engine's arena and returns a fresh out: 2 × io + workspace.
  const estimatedBytes = data.floorBytes + (workspaceBytes ?? 0);
  const memory = { workspaceBytes, estimatedBytes };
  state.extra = { memory };
  if (estimatedBytes > budget) {
    throw new SkipRow(
      `estimated ${formatBytes(estimatedBytes)} exceeds the memory budget ${formatBytes(budget)}`,
      { memory },
    );
  }
  const predictorKey = `${group.id}|${spec.label}|${threads}`;
  const predicted = context.predictor.predict(predictorKey, flops);
  if (predicted !== null && predicted > suite.timing.maxCallMs) {
    throw new SkipRow(
      `one call predicted to take ${seconds(predicted)} (from the previous case), over the ${seconds(suite.timing.maxCallMs)} cap`,
      { memory },
    );
  }
  const started = performance.now();
  const first = safely(() => variant.forward(q, k, v, options) as Tensor);
  const firstMs = performance.now() - started;
  if ('error' in first) throw new SkipRow(`forward threw: ${first.error}`, { memory });
  context.predictor.record(predictorKey, flops, firstMs);
  state.stage = 'accuracy';
  const accuracy = measureAccuracy(
    first.value.data,
    first.value.shape,
    data.oracle(),
    roleOf(spec, variant.exact),
  );
  if (entry.ownOracle && threads === 1) {
    const ownOracle = entry.ownOracle;
    const qSlice = lastRowsTensor(q, suite.accuracy.rowsPerHead);
    const own = safely(() => ownOracle(qSlice, k, v, { ...options, ...data.sliceOptions() }).out);
    if ('value' in own) {
      accuracy.vsOwnOracle = compareOutputs(
        lastRows(first.value.data, first.value.shape, suite.accuracy.rowsPerHead),
        own.value,
      );
    }
  }
  state.extra = { memory, accuracy };
  state.stage = 'timing';
  const timed = safely(() => timeSync(() => variant.forward(q, k, v, options), suite.timing, firstMs, flops));
  if ('error' in timed) throw new SkipRow(`timing failed: ${timed.error}`, { memory, accuracy });
  context.predictor.record(predictorKey, flops, timed.value.medianMs);
  const cold = hasPredicate(benchCase.mask)
    ? safely(() => coldCall(benchCase, spec, threads, q, k, v))
    : null;
  const planned = variantRow(spec, threads);
  return {
    ...baseRow(benchCase, spec.label, threads),
    flops,
    pairs,
    implementation: planned.implementation,
    variant: spec.variant,
    exact: variant.exact,
    ...(spec.backend ? { backend: spec.backend } : {}),
    status: 'ok',
    accuracy,
    time: timed.value,
    ...(cold && 'value' in cold ? { firstCall: cold.value } : {}),
    ...(cold && 'error' in cold ? { notes: [`first call with a fresh mask failed: ${cold.error}`] } : {}),
    memory,
  };
}

/**
 * What a predicate mask costs the first time (docs/design.md, Masks: classified once per mask value
 * and shape, then cached): the classification alone (core's problemForShape on a fresh mask value,
 * which compiles it) and one call with another fresh value, which classifies and then attends. The
 * timed samples above used the case's values, compiled before them.
 */
function coldCall(
  benchCase: BenchCase,
  spec: VariantSpec,
  threads: number,
  q: Tensor,
  k: Tensor,
  v: Tensor,
): { ms: number; compileMs: number } {
  const { shape, mask } = benchCase;
  const forCompile = maskOptions(mask, shape);
  let started = performance.now();
  const problem = problemForShape(shape, forCompile);
  const compileMs = performance.now() - started;
  const fresh = maskOptions(mask, shape);
  if (!fresh.mask || isMaskCompiled(fresh.mask, problem)) {
    throw new Error('a fresh mask value was already compiled: the first call would not include compilation');
  }
  const options: Record<string, unknown> = { ...spec.options, ...fresh };
  if (threads > 1) options.threads = threads;
  started = performance.now();
  VARIANTS[spec.variant].variant.forward(q, k, v, options);
  const ms = performance.now() - started;
  return { ms, compileMs };
}
