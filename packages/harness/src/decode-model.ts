/**
 * The decode suite's models (docs/decoding.md): how many bytes of keys and values one decoding
 * step must read, the row labels of a decode group, and each row's share of the run's streaming
 * bandwidth. Decoding one token is bound by memory bandwidth: every visible key and value is read
 * once and used for a handful of FLOPs per byte, so the figure of merit is GB/s of KV read.
 */
import type { BandwidthProbe, ResultRow } from './results.js';
import type { DecodeCase, DecoderId, HarnessBackend, KVStorageName } from './suite-schema.js';

/** Bytes one stored element takes: float32 4, float16 2, int8 1 (its scales are counted apart). */
export function storageBytesPerElement(storage: KVStorageName): number {
  return storage === 'float32' ? 4 : storage === 'float16' ? 2 : 1;
}

/** Keys a query at the end of a sequence of `length` positions sees: all, or its own and `window` before it. */
export function visibleSpan(length: number, window: number | undefined): number {
  return window === undefined ? length : Math.min(length, window + 1);
}

export interface KvBytesInput {
  readonly lengths: readonly number[];
  readonly window?: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly storage: KVStorageName;
}

/**
 * Bytes of keys and values one new token per sequence must read: for each sequence its visible
 * span × Hkv × (Dk + Dv) elements of the storage's size, plus under int8 the float32 scale of each
 * stored key row and value row (one per position and kv head each). Query heads sharing a kv head
 * (GQA) read it once: the bytes are those of the cache, not of Hq heads.
 */
export function kvReadBytes(input: KvBytesInput): number {
  const element = storageBytesPerElement(input.storage);
  const scales = input.storage === 'int8' ? 2 * 4 : 0;
  const perPosition = input.kvHeads * ((input.headDim + input.valueDim) * element + scales);
  let positions = 0;
  for (const length of input.lengths) positions += visibleSpan(length, input.window);
  return positions * perPosition;
}

/** Query-key pairs of the step (Hq per visible key of every sequence): the FLOP model's count. */
export function decodePairs(decode: Pick<DecodeCase, 'lengths' | 'window'>, qHeads: number): number {
  let positions = 0;
  for (const length of decode.lengths) positions += visibleSpan(length, decode.window);
  return qHeads * positions;
}

/** A decode group's row: which cache, which storage, one call or one per sequence. */
export interface DecodeImplementation {
  readonly decoder: DecoderId;
  readonly storage: KVStorageName;
  readonly calls: 'one' | 'per-sequence';
  /** The label without the backend: 'paged:float16', 'paged-each:float32', 'kv-cache:float32'. */
  readonly baseLabel: string;
}

export function decodeBaseLabel(
  decoder: DecoderId,
  storage: KVStorageName,
  calls: 'one' | 'per-sequence',
): string {
  return `${decoder === 'paged' && calls === 'per-sequence' ? 'paged-each' : decoder}:${storage}`;
}

/** Every implementation a decode case times, in the order the rows are written. */
export function decodeImplementations(decode: DecodeCase): DecodeImplementation[] {
  const list: DecodeImplementation[] = [];
  for (const decoder of decode.spec.decoders) {
    for (const storage of decode.spec.storage) {
      list.push({ decoder, storage, calls: 'one', baseLabel: decodeBaseLabel(decoder, storage, 'one') });
      if (decoder === 'paged' && decode.spec.perSequence && decode.lengths.length > 1) {
        const calls = 'per-sequence';
        list.push({ decoder, storage, calls, baseLabel: decodeBaseLabel(decoder, storage, calls) });
      }
    }
  }
  return list;
}

/** The row label: the base label, with '@backend' when the run measures several backends. */
export function decodeLabel(
  baseLabel: string,
  backend: HarnessBackend,
  backends: readonly HarnessBackend[],
): string {
  return backends.length > 1 ? `${baseLabel}@${backend}` : baseLabel;
}

/**
 * The machine's streaming bandwidth at a thread count: the best probe of the run over its
 * backends (the fastest streaming kernel is what the hardware gives), or null when none ran.
 */
export function probeBandwidth(
  probes: readonly BandwidthProbe[] | undefined,
  threads: number,
): number | null {
  let best: number | null = null;
  for (const probe of probes ?? []) {
    if (probe.threads !== threads || probe.status !== 'ok' || probe.gbPerSecond === null) continue;
    if (best === null || probe.gbPerSecond > best) best = probe.gbPerSecond;
  }
  return best;
}

/** A decode row with its probe fraction taken over `probes` (the run's probes, once all are in). */
export function withProbeFraction(row: ResultRow, probes: readonly BandwidthProbe[] | undefined): ResultRow {
  if (!row.decode) return row;
  const probe = probeBandwidth(probes, row.threads);
  const rate = row.decode.gbPerSecond;
  return {
    ...row,
    decode: { ...row.decode, probeFraction: rate === null || probe === null ? null : rate / probe },
  };
}

/** GB/s (10⁹ bytes per second) of `bytes` read in `ms` milliseconds. */
export function gbPerSecond(bytes: number, ms: number): number | null {
  return ms > 0 ? bytes / (ms * 1e6) : null;
}

/** The decode fields of a timed row. */
export function decodeRowFields(
  decode: DecodeCase,
  implementation: Pick<DecodeImplementation, 'storage' | 'calls'>,
  shape: { kvHeads: number; headDim: number; valueDim: number },
  medianMs: number | null,
  threads: number,
  probes: readonly BandwidthProbe[] | undefined,
) {
  const kvBytes = kvReadBytes({
    lengths: decode.lengths,
    ...(decode.window !== undefined ? { window: decode.window } : {}),
    kvHeads: shape.kvHeads,
    headDim: shape.headDim,
    valueDim: shape.valueDim,
    storage: implementation.storage,
  });
  const rate = medianMs === null ? null : gbPerSecond(kvBytes, medianMs);
  const probe = probeBandwidth(probes, threads);
  return {
    storage: implementation.storage,
    lengths: [...decode.lengths],
    window: decode.window ?? null,
    calls: implementation.calls,
    kvBytes,
    tokensPerSecond: medianMs === null || medianMs <= 0 ? null : (decode.lengths.length * 1000) / medianMs,
    gbPerSecond: rate,
    probeFraction: rate === null || probe === null ? null : rate / probe,
  };
}
