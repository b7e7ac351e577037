/**
 * Benchmark suites: named shape tables (the package's suites/*.json) validated with zod, and their
 * expansion into concrete cases. A group is one shape family named after where it comes from
 * (GPT-2 small, Llama-style GQA, ...) swept over sequence lengths; a suite is a list of groups
 * plus the variants, threads, peers and budgets to run them with.
 *
 * No node:* here: the browser entry (browser.ts) parses and expands suites too. Reading the
 * package's named suites from disk is suite.ts's.
 */
import { z } from 'zod';

import { type FigureSpec, figureGroups, figureSchema, pairedFigure } from './figures.js';
import { type MaskSpec, maskSchema, maskShapeIssues, type Reach, usesMaskValues } from './mask-spec.js';
import { PEER_IDS, type PeerId, VARIANT_IDS, type VariantId } from './registry.js';

export { type FigureSpec, maskSchema, PEER_IDS, type PeerId, VARIANT_IDS, type VariantId };

const positiveInt = z.number().int().positive();

export type { MaskSpec, Reach };

/** A variant to run: a known id, or a labelled id with its own options (e.g. linear with FAVOR+). */
export const variantSpecSchema = z.union([
  z.enum(VARIANT_IDS),
  z
    .object({
      label: z.string().min(1),
      variant: z.enum(VARIANT_IDS),
      options: z.record(z.string(), z.unknown()).default({}),
    })
    .strict(),
]);
export type VariantSpecInput = z.input<typeof variantSpecSchema>;

export interface VariantSpec {
  /** The row label: the suite's label, with '@backend' when the run measures more than one backend. */
  readonly label: string;
  readonly variant: VariantId;
  readonly options: Record<string, unknown>;
  /** The kernels backend the rows of this spec run on (absent for naive: core's own loop). */
  readonly backend?: HarnessBackend;
  /** The suite's label before the backend was appended (what groups and --variants name). */
  readonly baseLabel?: string;
}

/** The kernels backends a suite can measure each variant on (docs/design.md, Backends). */
export const HARNESS_BACKENDS = ['wasm', 'native', 'js'] as const;
export type HarnessBackend = (typeof HARNESS_BACKENDS)[number];
export const backendsSchema = z
  .array(z.enum(HARNESS_BACKENDS))
  .min(1)
  .refine((list) => new Set(list).size === list.length, 'each backend once');

/**
 * One spec per (variant, backend): 'flash' becomes 'flash@wasm' and 'flash@native' with the
 * backend in its options, side by side in that order. A single backend keeps the plain label
 * (nothing to tell apart; docs and --compare keep matching). naive (core's loop, no engine) and
 * a spec whose options already pin a backend stay one spec.
 */
export function expandBackends(
  specs: readonly VariantSpec[],
  backends: readonly HarnessBackend[],
): VariantSpec[] {
  const expanded: VariantSpec[] = [];
  for (const spec of specs) {
    const pinned = spec.options.backend;
    if (spec.variant === 'naive') {
      expanded.push(spec);
    } else if (typeof pinned === 'string') {
      const backend = (HARNESS_BACKENDS as readonly string[]).includes(pinned)
        ? { backend: pinned as HarnessBackend }
        : {};
      expanded.push({ ...spec, ...backend, baseLabel: spec.label });
    } else {
      for (const backend of backends) {
        expanded.push({
          label: backends.length > 1 ? `${spec.label}@${backend}` : spec.label,
          baseLabel: spec.label,
          variant: spec.variant,
          options: { ...spec.options, backend },
          backend,
        });
      }
    }
  }
  return expanded;
}

const lengthsSchema = z.array(positiveInt).min(1);

/** How a decode row's cache stores keys and values (bytes per element: 4, 2, 1 plus a scale per row). */
export const KV_STORAGES = ['float32', 'float16', 'int8'] as const;
export type KVStorageName = (typeof KV_STORAGES)[number];
/** The caches a decode group times: causal's createPagedKVCache and createKVCache. */
export const DECODERS = ['paged', 'kv-cache'] as const;
export type DecoderId = (typeof DECODERS)[number];

/**
 * A decode group (kind 'decode'): one new token per sequence against a prefilled cache, timed as one
 * attend (decode-case.ts). The batch is `batch` sequences of N positions, or `sequences` of mixed lengths.
 */
export const decodeSpecSchema = z
  .object({
    /** Lengths of the batch's sequences (mixed); the group's only N must be their maximum. */
    sequences: z.array(positiveInt).min(1).optional(),
    /** The caches' window policy: the new token sees its own and the `window` positions before it. */
    window: positiveInt.optional(),
    /** Storage formats, each its own row; a format the cache refuses is a skipped row saying why. */
    storage: z.array(z.enum(KV_STORAGES)).min(1).default(['float32']),
    decoders: z.array(z.enum(DECODERS)).min(1).default(['paged']),
    /** Also time the batch as one attend per sequence (label 'paged-each:<storage>'). */
    perSequence: z.boolean().default(false),
    /** The paged cache's positions per page (default: its own). */
    pageSize: positiveInt.optional(),
    /** Positions per prefill append (untimed). */
    prefillChunk: positiveInt.default(2048),
  })
  .strict();
export type DecodeSpec = z.infer<typeof decodeSpecSchema>;

const powerOfTwo = positiveInt.refine((n) => (n & (n - 1)) === 0, 'must be a power of two');

export const groupSchema = z
  .object({
    /** Slug used in case ids, chart file names and docs markers. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
    title: z.string().min(1),
    /** Where the shape comes from (model card, paper), so a reader can check it. */
    source: z.string().min(1),
    kind: z.enum(['attention', 'mha', 'decode']).default('attention'),
    batch: positiveInt.default(1),
    heads: positiveInt,
    kvHeads: positiveInt.optional(),
    headDim: positiveInt,
    valueDim: positiveInt.optional(),
    /** mha groups: model width (default heads · headDim). */
    dModel: positiveInt.optional(),
    mask: maskSchema.default({ causal: false }),
    /** Explicit sequence lengths N (Lq = Lk = N unless queryLength is set). */
    lengths: lengthsSchema.optional(),
    /** Powers of two from..to inclusive. */
    pow2: z.object({ from: powerOfTwo, to: powerOfTwo }).strict().optional(),
    /** Fixed-total-tokens sweep: batch = fixedTotalTokens / N for every N (must divide). */
    fixedTotalTokens: positiveInt.optional(),
    /** Decoding-style cases: a fixed number of queries against N keys. */
    queryLength: positiveInt.optional(),
    /** Restrict this group to some variant labels (default: the suite's list). */
    variants: z.array(z.string()).optional(),
    /**
     * false: dense is not timed in this group (by default it always is, as every case's baseline):
     * for N where one dense call takes many seconds and the group's figures need other rows.
     */
    denseBaseline: z.boolean().default(true),
    /** false: no peers; true: every peer of the run; a list: only those of the run's peers (e.g. the one a figure needs). */
    peers: z.union([z.boolean(), z.array(z.enum(PEER_IDS)).min(1)]).default(true),
    /** Run the peers only at these N (default: every N of the group). */
    peerLengths: z.array(positiveInt).min(1).optional(),
    memory: z.boolean().default(true),
    /** kind 'decode': the caches, storage formats and batch (decode-case.ts). */
    decode: decodeSpecSchema.optional(),
  })
  .strict()
  .superRefine((group, ctx) => {
    decodeGroupIssues(group, (message, path) => ctx.addIssue({ code: 'custom', message, path: [path] }));
    if ((group.lengths === undefined) === (group.pow2 === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of lengths or pow2', path: ['lengths'] });
    }
    if (group.pow2 && group.pow2.from > group.pow2.to) {
      ctx.addIssue({ code: 'custom', message: 'pow2.from must be <= pow2.to', path: ['pow2'] });
    }
    const kvHeads = group.kvHeads ?? group.heads;
    if (group.heads % kvHeads !== 0) {
      ctx.addIssue({
        code: 'custom',
        message: `heads (${group.heads}) must be a multiple of kvHeads (${kvHeads})`,
        path: ['kvHeads'],
      });
    }
    if (group.fixedTotalTokens !== undefined) {
      for (const n of sequenceLengths(group)) {
        if (group.fixedTotalTokens % n !== 0) {
          ctx.addIssue({
            code: 'custom',
            message: `fixedTotalTokens ${group.fixedTotalTokens} is not a multiple of N=${n}`,
            path: ['fixedTotalTokens'],
          });
        }
      }
    }
    if (group.kind === 'mha' && group.queryLength !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'mha groups are self-attention: no queryLength',
        path: ['queryLength'],
      });
    }
    if (group.kind === 'mha' && usesMaskValues(group.mask)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'mha groups take causal and window only (the layer case passes no mask values or score modifiers)',
        path: ['mask'],
      });
    }
    if (group.denseBaseline === false && group.variants === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'denseBaseline: false needs the variants this group runs instead',
        path: ['denseBaseline'],
      });
    }
    const issues = new Set<string>();
    for (const benchCase of expandGroup(group)) {
      for (const issue of maskShapeIssues(group.mask, benchCase.shape)) issues.add(issue);
    }
    for (const message of issues) ctx.addIssue({ code: 'custom', message, path: ['mask'] });
  });
export type GroupSpec = z.infer<typeof groupSchema>;

export const suiteSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    description: z.string().min(1),
    /**
     * Expected wall time of a full run on the reference machine (2 cores), for `attnkit-bench
     * suites`: a person picks a suite by what it measures and how long it takes.
     */
    duration: z.string().min(1).optional(),
    variants: z
      .array(variantSpecSchema)
      .min(1)
      .default([...VARIANT_IDS]),
    threads: z.array(z.number().int().min(1).max(64)).min(1).default([1, 2]),
    /**
     * Each variant row at each of these backends ('flash@wasm', 'flash@native'); a backend that
     * did not load here gives skipped rows with the reason.
     */
    backends: backendsSchema.default(['wasm', 'native']),
    peers: z.array(z.enum(PEER_IDS)).default([...PEER_IDS]),
    timing: z
      .object({
        /** Time budget per (case, implementation, threads) measurement, split into samples. */
        budgetMs: z.number().positive().default(400),
        minSamples: positiveInt.default(3),
        maxSamples: positiveInt.default(50),
        warmupSamples: z.number().int().nonnegative().default(1),
        /**
         * A case whose single call is predicted (from the same implementation's GFLOP/s on the
         * previous, smaller case) to take longer than this is skipped, saying so.
         */
        maxCallMs: z.number().positive().default(30_000),
      })
      .strict()
      .default({ budgetMs: 400, minSamples: 3, maxSamples: 50, warmupSamples: 1, maxCallMs: 30_000 }),
    accuracy: z
      .object({
        /** The last R query rows of every head are checked against the float64 oracle (see accuracy.ts). */
        rowsPerHead: positiveInt.default(64),
      })
      .strict()
      .default({ rowsPerHead: 64 }),
    memory: z
      .object({
        enabled: z.boolean().default(true),
        /** Cases whose estimated footprint (inputs, output, workspaceBytes) exceeds this are skipped. */
        budgetBytes: positiveInt.default(2 ** 31),
        timeoutMs: positiveInt.default(120_000),
      })
      .strict()
      .default({ enabled: true, budgetBytes: 2 ** 31, timeoutMs: 120_000 }),
    /** Peer child processes give up after this long (model build, load, warm-up and timing). */
    peerTimeoutMs: positiveInt.default(120_000),
    /**
     * Suites with decode groups: the streaming-read probe (bandwidth.ts) measured before the first
     * decode case, per backend and thread count; `bytes` must exceed every cache of the suite.
     */
    bandwidthProbe: z
      .object({
        bytes: positiveInt.default(512 * 2 ** 20),
        repeats: positiveInt.default(8),
        timeoutMs: positiveInt.default(300_000),
      })
      .strict()
      .optional(),
    /**
     * One core's FMA-throughput ceiling per backend and CPU path (ceiling-probe.ts: kernels'
     * measureNativeCeiling and measureSimdCeiling), measured before the first case, so every row's
     * GFLOP/s has a ceiling next to it (the '% ceiling' column, docs/native.md).
     */
    ceilingProbe: z
      .object({
        /** Loop iterations per timed run (a few ms each). */
        iterations: positiveInt.default(1_000_000),
        repeats: positiveInt.default(40),
      })
      .strict()
      .optional(),
    groups: z.array(groupSchema).min(1),
    /**
     * Ratios of two of the run's rows with a target (figures.ts), computed into the report and the
     * terminal output of every run, render and compare.
     */
    figures: z.array(figureSchema).optional(),
  })
  .strict()
  .superRefine((suite, ctx) => {
    const labels = suite.variants.map((v) => normaliseVariantSpec(v).label);
    const seen = new Set<string>();
    for (const label of labels) {
      if (seen.has(label))
        ctx.addIssue({ code: 'custom', message: `duplicate variant label ${label}`, path: ['variants'] });
      seen.add(label);
    }
    const groupIds = new Set<string>();
    suite.groups.forEach((group, index) => {
      if (Array.isArray(group.peers)) {
        for (const peer of group.peers) {
          if (!suite.peers.includes(peer))
            ctx.addIssue({
              code: 'custom',
              message: `peer ${peer} is not among the suite's peers (${suite.peers.join(', ') || 'none'})`,
              path: ['groups', index, 'peers'],
            });
        }
      }
      if (groupIds.has(group.id)) {
        ctx.addIssue({
          code: 'custom',
          message: `duplicate group id ${group.id}`,
          path: ['groups', index, 'id'],
        });
      }
      groupIds.add(group.id);
    });
    const knownLabels = new Set(labels);
    for (const label of labels) for (const backend of suite.backends) knownLabels.add(`${label}@${backend}`);
    const figureIds = new Set<string>();
    (suite.figures ?? []).forEach((figure, index) => {
      const issue = (message: string, key: string) =>
        ctx.addIssue({ code: 'custom', message, path: ['figures', index, key] });
      if (figureIds.has(figure.id)) issue(`duplicate figure id ${figure.id}`, 'id');
      figureIds.add(figure.id);
      const reads = figureGroups(figure);
      const batch = 'kind' in figure && figure.kind === 'batch-bandwidth';
      for (const key of ['group', 'baseline'] as const) {
        const id = reads[key];
        if (id === null) continue;
        const group = suite.groups.find((candidate) => candidate.id === id);
        if (!group) issue(`no group ${id} in this suite`, key);
        // a batch figure's group is read at its own N; its baseline at n
        else if (!(batch && key === 'group') && !sequenceLengths(group).includes(reads.n)) {
          issue(`group ${group.id} has no N = ${reads.n}`, 'n');
        }
      }
      // Decode rows are labelled by the run, not the suite's variants: only ratio and peak-memory
      // figures over attention rows name suite labels (a variant's, with or without '@backend', or a
      // peer's).
      const paired = pairedFigure(figure);
      const decodeFigure = suite.groups.some((group) => group.id === figure.group && group.kind === 'decode');
      if (paired && !decodeFigure) {
        for (const key of ['label', 'baselineLabel'] as const) {
          const label = paired[key];
          if (label !== undefined && !knownLabels.has(label) && !(suite.peers as string[]).includes(label))
            issue(`no variant or peer labelled ${label} in this suite`, key);
        }
      }
      if (paired) {
        for (const key of ['backend', 'baselineBackend'] as const) {
          const backend = paired[key];
          if (backend !== undefined && !suite.backends.includes(backend))
            issue(
              `backend ${backend} is not among this suite's backends (${suite.backends.join(', ')})`,
              key,
            );
        }
      }
    });
  });
export type Suite = z.infer<typeof suiteSchema>;
export type SuiteInput = z.input<typeof suiteSchema>;

export class SuiteError extends Error {
  override name = 'SuiteError';
}

export function normaliseVariantSpec(spec: z.infer<typeof variantSpecSchema>): VariantSpec {
  if (typeof spec === 'string') return { label: spec, variant: spec, options: {} };
  return { label: spec.label, variant: spec.variant, options: spec.options };
}

/** Parses a suite object; zod issues become one readable SuiteError naming each path. */
export function parseSuite(input: unknown, origin = 'suite'): Suite {
  const parsed = suiteSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new SuiteError(`${origin} is not a valid suite:\n${lines.join('\n')}`);
}

export function sequenceLengths(group: Pick<GroupSpec, 'lengths' | 'pow2'>): number[] {
  if (group.lengths) return [...group.lengths];
  const lengths: number[] = [];
  if (group.pow2) for (let n = group.pow2.from; n <= group.pow2.to; n *= 2) lengths.push(n);
  return lengths;
}

/** One concrete attention problem of a group. */
export interface CaseShape {
  readonly batch: number;
  readonly qHeads: number;
  readonly kvHeads: number;
  readonly qLength: number;
  readonly kvLength: number;
  readonly headDim: number;
  readonly valueDim: number;
}

/** What a decode case runs: its sequences' lengths and the group's decode spec. */
export interface DecodeCase {
  /** Positions of each sequence of the batch (the new token's included). */
  readonly lengths: readonly number[];
  readonly window?: number;
  readonly spec: DecodeSpec;
}

export interface BenchCase {
  /** `${group.id}/N=${n}` (plus batch for fixed-token sweeps): stable across runs, the compare key. */
  readonly id: string;
  readonly groupId: string;
  readonly kind: 'attention' | 'mha' | 'decode';
  /** The swept sequence length N (x axis of the charts). */
  readonly n: number;
  readonly shape: CaseShape;
  readonly mask: MaskSpec;
  /** mha only. */
  readonly dModel?: number;
  /** decode only. */
  readonly decode?: DecodeCase;
  /** Seeds q, k, v (or x and the weights) reproducibly in every process. */
  readonly seed: number;
}

/** FNV-1a: a stable 32-bit seed from a case id, so a case has the same inputs in every run and process. */
export function seedFromId(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function expandGroup(group: GroupSpec): BenchCase[] {
  if (group.kind === 'decode') return expandDecodeGroup(group);
  return sequenceLengths(group).map((n) => {
    const batch = group.fixedTotalTokens !== undefined ? group.fixedTotalTokens / n : group.batch;
    const id = group.fixedTotalTokens !== undefined ? `${group.id}/B=${batch},N=${n}` : `${group.id}/N=${n}`;
    const shape: CaseShape = {
      batch,
      qHeads: group.heads,
      kvHeads: group.kvHeads ?? group.heads,
      qLength: group.queryLength ?? n,
      kvLength: n,
      headDim: group.headDim,
      valueDim: group.valueDim ?? group.headDim,
    };
    const base = {
      id,
      groupId: group.id,
      kind: group.kind,
      n,
      shape,
      mask: group.mask,
      seed: seedFromId(id),
    };
    return group.kind === 'mha' ? { ...base, dModel: group.dModel ?? group.heads * group.headDim } : base;
  });
}

/** The decode mask: causal, with the cache's window as a causal window. */
export function decodeMask(window: number | undefined): MaskSpec {
  return window === undefined ? { causal: true } : { causal: true, window: [window, 0] };
}

function expandDecodeGroup(group: GroupSpec): BenchCase[] {
  const spec = group.decode ?? decodeSpecSchema.parse({});
  return sequenceLengths(group).map((n) => {
    const id = `${group.id}/N=${n}`;
    const lengths = spec.sequences ?? new Array<number>(group.batch).fill(n);
    const shape: CaseShape = {
      batch: lengths.length,
      qHeads: group.heads,
      kvHeads: group.kvHeads ?? group.heads,
      qLength: 1,
      kvLength: Math.max(...lengths),
      headDim: group.headDim,
      valueDim: group.valueDim ?? group.headDim,
    };
    return {
      id,
      groupId: group.id,
      kind: 'decode' as const,
      n,
      shape,
      mask: decodeMask(spec.window),
      seed: seedFromId(id),
      decode: { lengths, ...(spec.window !== undefined ? { window: spec.window } : {}), spec },
    };
  });
}

/** What a decode group may not say (and what only a decode group may say). */
function decodeGroupIssues(group: GroupSpec, issue: (message: string, path: string) => void): void {
  if (group.kind !== 'decode') {
    if (group.decode !== undefined) issue('decode is for kind "decode" groups only', 'decode');
    return;
  }
  if (group.queryLength !== undefined)
    issue('decode groups attend one new token: no queryLength', 'queryLength');
  if (group.fixedTotalTokens !== undefined)
    issue('decode groups take batch or decode.sequences', 'fixedTotalTokens');
  if (group.mask.causal || group.mask.window !== undefined || usesMaskValues(group.mask)) {
    issue('decode groups are causal by construction; a window is decode.window (the cache policy)', 'mask');
  }
  const sequences = group.decode?.sequences;
  if (sequences !== undefined) {
    const lengths = sequenceLengths(group);
    const longest = Math.max(...sequences);
    if (lengths.length !== 1 || lengths[0] !== longest) {
      issue(`with decode.sequences the group's lengths must be [${longest}] (their maximum)`, 'lengths');
    }
    if (group.batch !== 1) issue('give batch or decode.sequences, not both', 'batch');
  }
}
