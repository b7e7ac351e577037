/**
 * Decode rows (kind 'decode' groups; docs/decoding.md): one new token per sequence against a cache
 * prefilled outside the timing. Each (cache, storage, backend) gets its own cache, filled with the
 * case's seeded chunks in large appends, the new token's key and value included (its last
 * position); the timed call is `attend` alone, of that token's queries against every visible
 * position, so the cache never grows across samples. A row per thread count; then the peers.
 *
 * Options a cache may or may not take (a storage format, threads) are feature-detected: the cache
 * is asked, and a refusal is a skipped row carrying its message, so the suite runs unchanged as
 * the caches learn them. Threads: the attend's `threads` option if checkAttendOptions accepts it,
 * else the cache's creation option, else skipped with both refusals.
 */
import { createKVCache, createPagedKVCache } from '@attnkit/causal';
import type { Tensor } from '@attnkit/core';
import { compareOutputs } from '../accuracy.js';
import { type DecodeInputs, decodeOracle, makeDecodeInputs } from '../decode-inputs.js';
import {
  type DecodeImplementation,
  decodeImplementations,
  decodeLabel,
  decodePairs,
  decodeRowFields,
  kvReadBytes,
} from '../decode-model.js';
import { formatBytes } from '../machine.js';
import type { Accuracy, ResultRow } from '../results.js';
import { baseRow, describeError, lazy, SkipRow } from '../rows.js';
import { casePeers, type PlannedRow, type RunContext, skippedRow } from '../run-context.js';
import type { BenchCase, DecodeCase, GroupSpec, HarnessBackend } from '../suite-schema.js';
import { timeSyncInterleaved } from '../timing.js';
import { runDecodePeer } from './decode-peer.js';

/** What every decode row needs from its cache: one timed step, and its output after the first. */
interface DecodeTarget {
  readonly step: () => void;
  /** [S, Hq, 1, Dv] of the last step. */
  readonly output: () => Float32Array;
}

/** The backends of the run's variant rows (the suite's `backends`, as --backends filtered them). */
export function runBackends(context: Pick<RunContext, 'specs'>): HarnessBackend[] {
  const backends = context.specs.flatMap((spec) => (spec.backend ? [spec.backend] : []));
  return backends.length > 0 ? [...new Set(backends)] : ['wasm'];
}

/** Every row a decode case owes, in order: each implementation × backend × threads, then the peers. */
export function plannedDecodeRows(
  context: Pick<RunContext, 'specs' | 'threads' | 'peers'>,
  group: GroupSpec,
  benchCase: BenchCase,
): PlannedRow[] {
  const backends = runBackends(context);
  const rows: PlannedRow[] = [];
  for (const implementation of decodeImplementations(benchCase.decode!)) {
    for (const backend of backends) {
      for (const threads of context.threads) rows.push(decodeRow(implementation, backend, backends, threads));
    }
  }
  for (const peer of casePeers(context, group, benchCase.n)) {
    for (const threads of context.threads) {
      rows.push({ label: peer, threads, implementation: 'peer', variant: peer, exact: true });
    }
  }
  return rows;
}

function decodeRow(
  implementation: DecodeImplementation,
  backend: HarnessBackend,
  backends: readonly HarnessBackend[],
  threads: number,
): PlannedRow {
  return {
    label: decodeLabel(implementation.baseLabel, backend, backends),
    threads,
    implementation: 'attnkit',
    variant: implementation.decoder === 'paged' ? 'paged-kv-cache' : 'kv-cache',
    exact: implementation.storage === 'float32',
    backend,
  };
}

type CacheOptions = Record<string, unknown>;

/** Creates the cache of an implementation (extra: threads, when that is a creation option). */
function createCache(
  implementation: DecodeImplementation,
  benchCase: BenchCase,
  backend: HarnessBackend,
  extra: CacheOptions,
) {
  const { shape } = benchCase;
  const decode = benchCase.decode!;
  const storage = implementation.storage === 'float32' ? {} : { storage: implementation.storage };
  if (implementation.decoder === 'paged') {
    return {
      kind: 'paged' as const,
      cache: createPagedKVCache({
        kvHeads: shape.kvHeads,
        headDim: shape.headDim,
        valueDim: shape.valueDim,
        backend,
        ...(decode.spec.pageSize !== undefined ? { pageSize: decode.spec.pageSize } : {}),
        ...(decode.window !== undefined ? { window: decode.window } : {}),
        ...storage,
        ...extra,
      } as Parameters<typeof createPagedKVCache>[0]),
    };
  }
  if (new Set(decode.lengths).size > 1) {
    throw new SkipRow('createKVCache holds a batch of equal lengths; this batch has mixed lengths');
  }
  return {
    kind: 'kv-cache' as const,
    cache: createKVCache({
      batch: decode.lengths.length,
      kvHeads: shape.kvHeads,
      headDim: shape.headDim,
      valueDim: shape.valueDim,
      capacity: shape.kvLength,
      growth: 'none',
      backend,
      ...storage,
      ...extra,
    } as Parameters<typeof createKVCache>[0]),
  };
}

type BuiltCache = ReturnType<typeof createCache>;

/** Appends every sequence's chunks (untimed; large appends). */
function prefill(built: BuiltCache, inputs: DecodeInputs, ids: readonly number[]): void {
  if (built.kind === 'paged') {
    inputs.chunks.forEach((chunks, s) => {
      for (const chunk of chunks) built.cache.append([ids[s]!], chunk.k, chunk.v);
    });
    return;
  }
  // createKVCache: every sequence the same length, appended chunk by chunk as [S, Hkv, count, D].
  const S = inputs.chunks.length;
  for (let c = 0; c < inputs.chunks[0]!.length; c++) {
    const parts = inputs.chunks.map((chunks) => chunks[c]!);
    const join = (part: 'k' | 'v'): Tensor => {
      const [, heads = 1, count = 0, dim = 0] = parts[0]![part].shape;
      const data = new Float32Array(S * heads * count * dim);
      for (let s = 0; s < S; s++) data.set(parts[s]![part].data, s * heads * count * dim);
      return { data, shape: [S, heads, count, dim] };
    };
    built.cache.append(join('k'), join('v'));
  }
}

function firstLineOf(error: unknown): string {
  return describeError(error).replace(/^AttentionInputError: /, '');
}

/** A cache ready to time at `threads`, or the reason it cannot be. */
function readyCache(
  implementation: DecodeImplementation,
  benchCase: BenchCase,
  backend: HarnessBackend,
  threads: number,
  inputs: DecodeInputs,
  plain: () => { built: BuiltCache; ids: number[] },
): { built: BuiltCache; ids: number[]; attendOptions: CacheOptions } {
  const base = plain();
  if (threads === 1) return { ...base, attendOptions: {} };
  let attendRefusal: string;
  try {
    base.built.cache.checkAttendOptions({ threads });
    return { ...base, attendOptions: { threads } };
  } catch (error) {
    attendRefusal = firstLineOf(error);
  }
  try {
    const built = createCache(implementation, benchCase, backend, { threads });
    const ids = sequenceIds(built, inputs);
    prefill(built, inputs, ids);
    return { built, ids, attendOptions: {} };
  } catch (error) {
    if (error instanceof SkipRow) throw error;
    const creationRefusal = firstLineOf(error);
    throw new SkipRow(
      creationRefusal === attendRefusal
        ? `threads not taken by the cache's attend nor its creation: ${attendRefusal}`
        : `threads not taken by the cache: its attend refused it (${attendRefusal}); its creation refused it (${creationRefusal})`,
    );
  }
}

function sequenceIds(built: BuiltCache, inputs: DecodeInputs): number[] {
  if (built.kind !== 'paged') return [];
  return inputs.chunks.map(() => built.cache.addSequence());
}

/** The timed step of an implementation on a ready cache. */
function targetFor(
  implementation: DecodeImplementation,
  built: BuiltCache,
  ids: readonly number[],
  q: Tensor,
  dv: number,
  attendOptions: CacheOptions,
): DecodeTarget {
  const [S = 1, Hq = 1, , Dk = 1] = q.shape;
  const out = new Float32Array(S * Hq * dv);
  if (built.kind === 'kv-cache') {
    const tensor: Tensor = { data: out, shape: [S, Hq, 1, dv] };
    const options = { ...attendOptions, out: tensor } as Parameters<typeof built.cache.attend>[1];
    return { step: () => built.cache.attend(q, options), output: () => out };
  }
  if (implementation.calls === 'one') {
    const options = { ...attendOptions, out: { data: out, shape: [S, Hq, 1, dv] } };
    const call = options as Parameters<typeof built.cache.attend>[2];
    return { step: () => built.cache.attend(ids, q, call), output: () => out };
  }
  // One attend per sequence: views of q and out, built once (nothing allocated in the timed loop).
  const queries: Tensor[] = [];
  const calls: Parameters<typeof built.cache.attend>[2][] = [];
  const single: number[][] = ids.map((id) => [id]);
  for (let s = 0; s < S; s++) {
    queries.push({ data: q.data.subarray(s * Hq * Dk, (s + 1) * Hq * Dk), shape: [1, Hq, 1, Dk] });
    const view = out.subarray(s * Hq * dv, (s + 1) * Hq * dv);
    calls.push({ ...attendOptions, out: { data: view, shape: [1, Hq, 1, dv] } } as (typeof calls)[number]);
  }
  return {
    step: () => {
      for (let s = 0; s < S; s++) built.cache.attend(single[s]!, queries[s]!, calls[s]);
    },
    output: () => out,
  };
}

function decodeAccuracy(out: Float32Array, oracle: Float64Array): Accuracy {
  return {
    reference: 'float64-oracle',
    rowsPerHead: 1,
    elements: oracle.length,
    vsOracle: compareOutputs(out, oracle),
    // Compact formats change the numbers by design: their error is reported, not judged (issue 14).
    rule: { name: 'report-only' },
  };
}

export async function runDecodeCase(
  context: RunContext,
  group: GroupSpec,
  benchCase: BenchCase,
): Promise<void> {
  const { suite, progress } = context;
  const decode: DecodeCase = benchCase.decode!;
  const { shape } = benchCase;
  const pairs = decodePairs(decode, shape.qHeads);
  const flops = 2 * (shape.headDim + shape.valueDim) * pairs;
  const inputs = lazy(() =>
    makeDecodeInputs(shape, decode.lengths, decode.spec.prefillChunk, benchCase.seed),
  );
  const oracle = lazy(() => decodeOracle(shape, inputs(), decode.lengths, decode.window));
  const backends = runBackends(context);
  const cacheBytes = (storage: DecodeImplementation['storage']) =>
    kvReadBytes({
      lengths: decode.lengths,
      ...shape,
      storage,
      ...(decode.window ? { window: decode.window } : {}),
    });

  for (const implementation of decodeImplementations(decode)) {
    for (const backend of backends) {
      // One prefilled cache per (implementation, backend), shared by its thread counts.
      let plainCache: { built: BuiltCache; ids: number[] } | undefined;
      let refusal: SkipRow | undefined;
      const plain = () => {
        if (refusal) throw refusal;
        if (!plainCache) {
          let built: BuiltCache;
          try {
            built = createCache(implementation, benchCase, backend, {});
          } catch (error) {
            // A storage format (or anything else) the cache does not take: every thread count's row says so.
            const creator = implementation.decoder === 'paged' ? 'createPagedKVCache' : 'createKVCache';
            refusal =
              error instanceof SkipRow ? error : new SkipRow(`${creator} refused: ${firstLineOf(error)}`);
            throw refusal;
          }
          const ids = sequenceIds(built, inputs());
          prefill(built, inputs(), ids);
          plainCache = { built, ids };
        }
        return plainCache;
      };
      // Every thread count's row is set up and checked first, then all are timed side by side
      // (timeSyncInterleaved): the 2-thread figure divides two of these rows, and this machine's
      // memory bandwidth drifts by tens of percent over seconds. The rows are written afterwards,
      // in thread order.
      const extra = { flops, pairs };
      const rowsInOrder: ResultRow[] = [];
      const prepared: {
        slot: number;
        planned: ReturnType<typeof decodeRow>;
        target: DecodeTarget;
        firstMs: number;
        accuracy: Accuracy;
        estimated: number;
      }[] = [];
      for (const threads of context.threads) {
        const planned = decodeRow(implementation, backend, backends, threads);
        progress.start(`${benchCase.id} ${planned.label} t=${threads}`);
        let stage = 'setup';
        try {
          const estimated = cacheBytes(implementation.storage);
          if (estimated > suite.memory.budgetBytes) {
            throw new SkipRow(
              `the cache's ${formatBytes(estimated)} of keys and values exceeds the memory budget ${formatBytes(suite.memory.budgetBytes)}`,
            );
          }
          stage = 'prefill';
          const ready = readyCache(implementation, benchCase, backend, threads, inputs(), plain);
          const target = targetFor(
            implementation,
            ready.built,
            ready.ids,
            inputs().q,
            shape.valueDim,
            ready.attendOptions,
          );
          stage = 'first call';
          const started = performance.now();
          target.step();
          const firstMs = performance.now() - started;
          stage = 'accuracy';
          const accuracy = decodeAccuracy(target.output(), oracle());
          // a placeholder until the timing: a row that cannot be timed says so
          rowsInOrder.push(skippedRow(benchCase, planned, extra, 'timing did not run'));
          prepared.push({ slot: rowsInOrder.length - 1, planned, target, firstMs, accuracy, estimated });
          progress.finish(`ready (first call ${firstMs.toFixed(2)} ms); timed with the other thread counts`);
        } catch (error) {
          const skip =
            error instanceof SkipRow ? error : new SkipRow(`${stage} failed: ${firstLineOf(error)}`);
          rowsInOrder.push(skippedRow(benchCase, planned, { ...extra, ...skip.extra }, skip.reason));
          progress.finish(`skipped (${skip.reason})`);
        }
      }
      if (prepared.length > 0) {
        progress.note(
          `    timing ${prepared.map(({ planned }) => `t=${planned.threads}`).join(', ')} of ${benchCase.id} ${prepared[0]!.planned.label} side by side`,
        );
        try {
          const timings = timeSyncInterleaved(
            prepared.map(({ target }) => ({ fn: target.step, flops })),
            suite.timing,
            Math.max(...prepared.map(({ firstMs }) => firstMs)),
          );
          timings.forEach((time, index) => {
            const { slot, planned, accuracy, estimated } = prepared[index]!;
            const { label, threads, ...identity } = planned;
            const row: ResultRow = {
              ...baseRow(benchCase, label, threads),
              ...identity,
              ...extra,
              status: 'ok',
              accuracy,
              time,
              memory: { workspaceBytes: null, estimatedBytes: estimated },
              decode: decodeRowFields(
                decode,
                implementation,
                shape,
                time.medianMs,
                threads,
                context.writer.results.bandwidth,
              ),
              notes: [
                implementation.calls === 'one'
                  ? `timed: one attend of the new token${decode.lengths.length > 1 ? 's of every sequence' : ''} (prefill and the new key/value untimed)`
                  : 'timed: one attend per sequence, in order (prefill and the new keys/values untimed)',
                ...(prepared.length > 1
                  ? [
                      `timed side by side with ${prepared
                        .filter((_, other) => other !== index)
                        .map((other) => `t=${other.planned.threads}`)
                        .join(', ')}: samples taken in alternating rounds`,
                    ]
                  : []),
              ],
            };
            rowsInOrder[slot] = row;
            progress.note(
              `    t=${threads}: ${time.medianMs.toFixed(2)} ms, ${row.decode?.gbPerSecond?.toFixed(1) ?? '–'} GB/s, max abs err ${accuracy.vsOracle.maxAbs?.toExponential(1) ?? 'NaN'}`,
            );
          });
        } catch (error) {
          for (const { slot, planned } of prepared) {
            rowsInOrder[slot] = skippedRow(benchCase, planned, extra, `timing failed: ${firstLineOf(error)}`);
          }
        }
      }
      for (const row of rowsInOrder) context.writer.upsert(row);
      plainCache = undefined; // the next cache may take this one's memory
    }
  }

  for (const peer of casePeers(context, group, benchCase.n)) {
    for (const threads of context.threads) {
      await runDecodePeer(context, benchCase, peer, threads, flops, pairs, oracle);
    }
  }
}
