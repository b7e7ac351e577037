/**
 * The results file: one JSON document per run, labelled with machine, versions, commit and
 * options, holding one row per (case, implementation, threads). Rows never disappear: a case
 * that could not run is a row with status 'skipped' and its reason.
 *
 * JSON has no Infinity or NaN; numbers that can be non-finite (relative errors, a NaN output)
 * are stored as null and read back as null.
 */
import { z } from 'zod';
import { HARNESS_BACKENDS, KV_STORAGES, maskSchema, PEER_IDS, suiteSchema } from './suite-schema.js';

export const RESULTS_SCHEMA_VERSION = 1;

/** A number, or null where the measured value was not finite. */
const measured = z.number().nullable();

export const errorSummarySchema = z
  .object({
    maxAbs: measured,
    maxRel: measured,
    rms: measured,
    /** Elements outside atol + rtol·|ref| (NaN counts) under the tolerance used, when one applied. */
    failing: z.number().int().nonnegative().optional(),
    worstIndex: z.number().int().optional(),
  })
  .strict();
export type ErrorSummary = z.infer<typeof errorSummarySchema>;

export const accuracySchema = z
  .object({
    /**
     * What the output was compared with: core's float64 oracle (attention rows), or, for the
     * multi-head layer, the same layer running on dense.
     */
    reference: z.enum(['float64-oracle', 'dense-layer']),
    /** Query rows checked per head (the last ones: they see the most keys under a causal mask). */
    rowsPerHead: z.number().int().positive(),
    elements: z.number().int().nonnegative(),
    /** vs the reference above (for attention rows: core's float64 referenceAttention, softmax attention). */
    vsOracle: errorSummarySchema,
    /** The plain float32 dense path (core's naiveFloat32Attention) vs the same oracle. */
    naiveFloat32: errorSummarySchema.optional(),
    /**
     * exact variants: max abs error <= 2 × naive float32's + slack ('2x-naive-float32');
     * approximate ones: no pass/fail, the distance is the metric ('approximate');
     * 'reference' for the naive row itself; 'report-only' for layer comparisons.
     */
    rule: z.discriminatedUnion('name', [
      z.object({ name: z.literal('2x-naive-float32'), bound: z.number(), pass: z.boolean() }).strict(),
      z.object({ name: z.literal('approximate') }).strict(),
      z.object({ name: z.literal('reference') }).strict(),
      z.object({ name: z.literal('report-only') }).strict(),
    ]),
    /** Approximate variants that export their own float64 oracle: fidelity to it. */
    vsOwnOracle: errorSummarySchema.optional(),
  })
  .strict();
export type Accuracy = z.infer<typeof accuracySchema>;

export const timingSchema = z
  .object({
    medianMs: z.number(),
    /** Median absolute deviation of the samples (unscaled). */
    madMs: z.number(),
    meanMs: z.number(),
    minMs: z.number(),
    maxMs: z.number(),
    p75Ms: z.number(),
    /** Relative margin of error of the mean, percent (tinybench's rme). */
    rmePercent: measured,
    samples: z.number().int().positive(),
    /** FLOPs (the model of flops.ts) / median time. */
    gflops: z.number(),
  })
  .strict();
export type Timing = z.infer<typeof timingSchema>;

export const measuredMemorySchema = z.discriminatedUnion('status', [
  z
    .object({
      status: z.literal('ok'),
      /** Peak RSS during the call minus the RSS just before it (after imports and inputs), bytes. */
      peakBytes: z.number(),
      baselineBytes: z.number(),
      /** The process's peak RSS before the call, above the baseline: the floor of what can be seen. */
      floorBytes: z.number(),
      /**
       * 'maxrss': the call raised the process's peak (peak RSS − baseline); 'rss-after': it did not,
       * so the RSS right after the call − baseline is given, a lower bound (see rss.ts).
       */
      method: z.enum(['maxrss', 'rss-after']).optional(),
    })
    .strict(),
  z.object({ status: z.literal('skipped'), reason: z.string() }).strict(),
]);

export const memorySchema = z
  .object({
    /** The variant's analytic workspaceBytes (null when it could not say). */
    workspaceBytes: z.number().nullable(),
    /** Inputs + output + workspace: what the budget check compares against. */
    estimatedBytes: z.number(),
    measured: measuredMemorySchema.optional(),
  })
  .strict();
export type Memory = z.infer<typeof memorySchema>;

export const shapeSchema = z
  .object({
    batch: z.number().int().positive(),
    qHeads: z.number().int().positive(),
    kvHeads: z.number().int().positive(),
    qLength: z.number().int().positive(),
    kvLength: z.number().int().positive(),
    headDim: z.number().int().positive(),
    valueDim: z.number().int().positive(),
  })
  .strict();

/**
 * A decode row (kind 'decode'): what its one timed attend read and how fast. Optional, so
 * schemaVersion stays 1.
 */
export const decodeRowSchema = z
  .object({
    /** The cache's storage format ('float32' for the peer, which holds float32 past keys and values). */
    storage: z.enum(KV_STORAGES),
    /** Positions of each sequence, the new token's included. */
    lengths: z.array(z.number().int().positive()),
    /** The cache's window policy (the new token sees window + 1 positions), null: every position. */
    window: z.number().int().positive().nullable(),
    /** 'one': one attend for the whole batch; 'per-sequence': one attend per sequence, timed together. */
    calls: z.enum(['one', 'per-sequence']),
    /** Bytes of keys and values (and int8 scales) the timed call must read (decode-model.ts). */
    kvBytes: z.number().nonnegative(),
    /** New tokens (one per sequence) per second at the median. */
    tokensPerSecond: z.number().nullable(),
    /** kvBytes / median, 10⁹ bytes per second. */
    gbPerSecond: z.number().nullable(),
    /** gbPerSecond over the run's streaming probe at the same thread count (null: no probe). */
    probeFraction: z.number().nullable(),
  })
  .strict();
export type DecodeRow = z.infer<typeof decodeRowSchema>;

/** One streaming-read measurement of the run (bandwidth.ts). */
export const bandwidthProbeSchema = z
  .object({
    threads: z.number().int().positive(),
    /** The kernels backend whose rowMax streamed the buffer. */
    backend: z.enum(HARNESS_BACKENDS),
    status: z.enum(['ok', 'skipped']),
    reason: z.string().optional(),
    bytes: z.number().int().positive(),
    /** Best of the repeats, 10⁹ bytes per second. */
    gbPerSecond: z.number().nullable(),
    /** Every repeat, GB/s (the spread). */
    samples: z.array(z.number()),
    /**
     * When the run measured it: before its first decode case or after its last (a machine's memory
     * bandwidth drifts over minutes; rows are measured against the best of both). Absent in files
     * written before the second probe existed: before.
     */
    taken: z.enum(['before', 'after']).optional(),
  })
  .strict();
export type BandwidthProbe = z.infer<typeof bandwidthProbeSchema>;

/**
 * One FMA-throughput ceiling of the run (ceiling-probe.ts): one core's best GFLOP/s on a native CPU
 * path (kernels' measureNativeCeiling) or on wasm's 128-bit SIMD (measureSimdCeiling).
 */
export const ceilingProbeSchema = z
  .object({
    backend: z.enum(HARNESS_BACKENDS),
    /** 'avx512', 'avx2', 'baseline' (native) or 'simd128' (wasm). */
    path: z.string(),
    /** The path this backend's rows ran on (native: the dispatched one; wasm: its only one). */
    selected: z.boolean(),
    status: z.enum(['ok', 'skipped']),
    reason: z.string().optional(),
    /** One core, best of the repeats, 10⁹ FLOP per second. */
    gflops: z.number().nullable(),
  })
  .strict();
export type CeilingProbe = z.infer<typeof ceilingProbeSchema>;

export const rowSchema = z
  .object({
    /** `${caseId}|${label}|t${threads}`: the key --compare matches on. */
    id: z.string(),
    caseId: z.string(),
    group: z.string(),
    kind: z.enum(['attention', 'mha', 'decode']),
    n: z.number().int().positive(),
    shape: shapeSchema,
    mask: maskSchema,
    dModel: z.number().int().positive().optional(),
    /** What the row measures: 'flash', 'linear:favor', 'ort-node:mha', ... */
    label: z.string(),
    implementation: z.enum(['attnkit', 'naive', 'peer']),
    /** attnkit variant id, or the peer id. */
    variant: z.string(),
    exact: z.boolean().nullable(),
    threads: z.number().int().positive(),
    /**
     * The kernels backend the row ran on; absent for naive and the peers (and in files written
     * before the backend axis: those measured the default backend, named in the file's backend).
     */
    backend: z.enum(HARNESS_BACKENDS).optional(),
    status: z.enum(['ok', 'skipped']),
    reason: z.string().optional(),
    flops: z.number().nonnegative(),
    pairs: z.number().nonnegative(),
    accuracy: accuracySchema.optional(),
    time: timingSchema.optional(),
    /**
     * Cases whose mask has a predicate: what its first use costs (the timed samples reuse a mask value
     * classified before them). Optional, so schemaVersion stays 1.
     */
    firstCall: z
      .object({
        /** One call with a fresh mask value: the predicate's tile classification, then the call. */
        ms: z.number(),
        /** The classification alone: core's problemForShape on another fresh mask value of the shape. */
        compileMs: z.number(),
      })
      .strict()
      .optional(),
    memory: memorySchema.optional(),
    /** kind 'decode' rows: bytes read, tokens/s, GB/s and the share of the streaming probe. */
    decode: decodeRowSchema.optional(),
    notes: z.array(z.string()).optional(),
  })
  .strict();
export type ResultRow = z.infer<typeof rowSchema>;

export const machineSchema = z
  .object({
    os: z.string(),
    platform: z.string(),
    release: z.string(),
    arch: z.string(),
    cpuModel: z.string(),
    cores: z.number().int().positive(),
    /** null where the environment does not say (a browser other than Chromium: browser-runner.ts). */
    memoryBytes: z.number().positive().nullable(),
    /** 1-minute load average when the run started (others share this machine). */
    loadAverage: z.array(z.number()),
  })
  .strict();
export type Machine = z.infer<typeof machineSchema>;

export const runOptionsSchema = z
  .object({
    suite: z.string(),
    suitePath: z.string().nullable(),
    quick: z.boolean(),
    variants: z.array(z.string()),
    threads: z.array(z.number().int().positive()),
    /** The backends each variant was measured on (absent in files written before the backend axis). */
    backends: z.array(z.enum(HARNESS_BACKENDS)).optional(),
    peers: z.boolean(),
    charts: z.array(z.enum(['svg', 'png'])),
    argv: z.array(z.string()),
  })
  .strict();

export const resultsSchema = z
  .object({
    schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
    tool: z.literal('attnkit-bench'),
    runId: z.string(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    /** false while running, or when the run was interrupted. */
    complete: z.boolean(),
    machine: machineSchema,
    node: z.string(),
    /** Versions of @attnkit/* and the peers that were found (null: not installed). */
    packages: z.record(z.string(), z.string().nullable()),
    /** Which kernels backend variants ran on by default. */
    backend: z.string().nullable(),
    git: z.object({ commit: z.string().nullable(), dirty: z.boolean().nullable() }).strict(),
    options: runOptionsSchema,
    suite: suiteSchema,
    rows: z.array(rowSchema),
    /**
     * Runs with decode groups: the streaming-read probe per backend and thread count, measured in
     * the same run before the decode cases (optional, so schemaVersion stays 1).
     */
    bandwidth: z.array(bandwidthProbeSchema).optional(),
    /**
     * Runs of suites with a ceilingProbe: one core's FMA-throughput ceiling per backend and CPU path,
     * measured before the first case (optional, so schemaVersion stays 1).
     */
    ceiling: z.array(ceilingProbeSchema).optional(),
    wallTimeMs: z.number().nullable(),
  })
  .strict();
export type Results = z.infer<typeof resultsSchema>;
export type ResultsInput = z.input<typeof resultsSchema>;

export class ResultsError extends Error {
  override name = 'ResultsError';
}

export function parseResults(json: unknown, origin = 'results'): Results {
  const parsed = resultsSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues
    .slice(0, 12)
    .map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new ResultsError(`${origin} is not an attnkit-bench results file:\n${lines.join('\n')}`);
}

/** Non-finite numbers → null so JSON.stringify keeps the meaning visible instead of turning it silently into null. */
export function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

export const KNOWN_PEERS: readonly string[] = PEER_IDS;
