/**
 * Boundary validation shared by every variant (docs/design.md, Options and Errors): zod schemas (built once, here at
 * module scope) for the structure, then the cross-argument rules a schema cannot see (B, D, Lk and
 * head counts agreeing, kvLengths range, out/lse sizes, aliasing). Every failure is an
 * AttentionInputError naming the argument, the expected and the received value, and the fix.
 * Time O(B) plus O(1) per argument: data contents are never scanned.
 */
import { type ZodType, z } from 'zod';
import { AttentionInputError, describeValue } from './errors.js';
import { type AttentionMask, isAttentionMask } from './mask-values.js';
import { isScoreMod, type ScoreMod } from './score-mods.js';
import { numel } from './tensor.js';
import type { AttentionCall, AttentionOptions, AttentionProblem, ProblemScoreMod, Tensor } from './types.js';
import { cachedGeneralMask, checkMaskFits, foldMask } from './visibility.js';

/** 1 / sqrt(headDim): the softmax temperature of "Attention Is All You Need". */
export function defaultScale(headDim: number): number {
  return 1 / Math.sqrt(headDim);
}

function isWindowBound(x: unknown): boolean {
  return x === Number.POSITIVE_INFINITY || (Number.isInteger(x) && (x as number) >= 0);
}

function isWindow(x: unknown): boolean {
  return Array.isArray(x) && x.length === 2 && isWindowBound(x[0]) && isWindowBound(x[1]);
}

/** A number array or any non-bigint typed array (kvLengths may be Int32Array, Uint8Array, …). */
function isArrayLikeOfNumbers(x: unknown): boolean {
  if (Array.isArray(x)) return x.every((item) => typeof item === 'number');
  return (
    ArrayBuffer.isView(x) &&
    !(x instanceof DataView) &&
    !(x instanceof BigInt64Array) &&
    !(x instanceof BigUint64Array)
  );
}

function isTensorLike(x: unknown): boolean {
  return (
    typeof x === 'object' &&
    x !== null &&
    (x as Tensor).data instanceof Float32Array &&
    Array.isArray((x as Tensor).shape)
  );
}

/**
 * The options every variant accepts (docs/design.md, Options), as a zod shape: a variant builds its
 * own strict schema from it with `z.strictObject({ ...attentionOptionsShape, ...its own })`.
 */
export const attentionOptionsShape = {
  scale: z
    .number({ error: 'a finite, non-zero number' })
    .refine((x) => x !== 0, { error: 'a finite, non-zero number' })
    .optional(),
  causal: z.boolean({ error: 'true or false' }).optional(),
  window: z
    .custom<readonly [number, number]>(isWindow, {
      error: 'a [left, right] pair of non-negative integers or Infinity',
    })
    .optional(),
  kvLengths: z
    .custom<ArrayLike<number>>(isArrayLikeOfNumbers, {
      error: 'an array or typed array of integers (one per batch entry)',
    })
    .optional(),
  mask: z
    .custom<AttentionMask>(isAttentionMask, {
      error:
        'a mask value (documentMask, prefixLMMask, globalTokensMask, blockSparseMask, predicateMask, windowMask, kvLengthMask, andMasks, orMasks or notMask)',
    })
    .optional(),
  scoreMod: z
    .custom<ScoreMod | readonly ScoreMod[]>(
      (x) => isScoreMod(x) || (Array.isArray(x) && x.every(isScoreMod)),
      {
        error: 'a score modifier (alibi, softcap, scoreFunction) or an array of them',
      },
    )
    .optional(),
  bias: z
    .custom<Tensor>(isTensorLike, { error: 'a tensor { data: Float32Array, shape } [B|1, Hq|1, Lq, Lk]' })
    .optional(),
  sinks: z
    .custom<ArrayLike<number>>(isArrayLikeOfNumbers, {
      error: 'an array or typed array of finite numbers (one per query head)',
    })
    .optional(),
  out: z.custom<Tensor>(isTensorLike, { error: 'a tensor { data: Float32Array, shape }' }).optional(),
  lse: z.instanceof(Float32Array, { error: 'a Float32Array of length B·Hq·Lq' }).optional(),
};

/** The common options alone, strict: an unknown key is an error naming it. */
export const attentionOptionsSchema = z.strictObject(attentionOptionsShape);

/** The structure of a Tensor: { data: Float32Array, shape: positive integer dims }. */
export const tensorSchema = z.object(
  {
    data: z.instanceof(Float32Array, { error: 'a Float32Array (convert with Float32Array.from)' }),
    shape: z.array(z.number().int().positive(), {
      error: 'an array of positive integer dimensions',
    }),
  },
  { error: 'a tensor { data: Float32Array, shape: number[] }' },
);

/** Turns a zod issue's path into the argument name: 'options' + ['window', 0] → 'options.window'. */
function argumentOf(base: string, path: readonly PropertyKey[]): string {
  let name = base;
  for (const key of path) {
    if (typeof key !== 'string') break; // an index names an element: the argument is its container
    name = name ? `${name}.${key}` : key;
  }
  return name;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || value === undefined) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

const ARTICLE: Record<string, string> = { int: 'an integer', object: 'an object', array: 'an array' };

/** What zod counts for a sized origin, and the noun phrase of the origin itself. */
const SIZED: Record<string, readonly [noun: string, unit: string]> = {
  array: ['an array', 'item'],
  set: ['a set', 'item'],
  string: ['a string', 'character'],
  file: ['a file', 'byte'],
};

const VALUE_NOUN: Record<string, string> = { number: 'a number', int: 'an integer', bigint: 'a bigint' };

/**
 * A too_small / too_big issue as English: "an integer <= 9007199254740991", "an array of at least 2
 * items", "a string of exactly 3 characters". zod's own origin names ('int', 'array') are not nouns.
 */
function boundPhrase(
  origin: string,
  bound: number | bigint,
  inclusive: boolean | undefined,
  exact: boolean | undefined,
  side: 'min' | 'max',
): string {
  const sized = SIZED[origin];
  if (sized) {
    const [noun, unit] = sized;
    // sizes are integers: a strict bound is the next integer inside it
    const count = Number(bound) + (inclusive !== false ? 0 : side === 'min' ? 1 : -1);
    const units = `${count} ${unit}${count === 1 ? '' : 's'}`;
    if (exact) return `${noun} of exactly ${units}`;
    return `${noun} of ${side === 'min' ? 'at least' : 'at most'} ${units}`;
  }
  if (origin === 'date') {
    const date = new Date(Number(bound)).toISOString();
    return `a date ${side === 'min' ? 'on or after' : 'on or before'} ${date}`;
  }
  const noun = VALUE_NOUN[origin] ?? `${/^[aeiou]/i.test(origin) ? 'an' : 'a'} ${origin}`;
  const operator = side === 'min' ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
  return `${noun} ${operator} ${String(bound)}`;
}

/** Phrases a zod issue as the `expected` part of an AttentionInputError. */
function expectedOf(issue: z.core.$ZodIssue): string {
  const defaultMessage = /^(Invalid|Too small|Too big|Unrecognized)/.test(issue.message);
  if (!defaultMessage) return issue.message; // a schema's own wording ("a finite, non-zero number")
  switch (issue.code) {
    case 'invalid_type':
      return ARTICLE[issue.expected] ?? `a ${issue.expected}`;
    case 'too_small':
      return boundPhrase(issue.origin, issue.minimum, issue.inclusive, issue.exact, 'min');
    case 'too_big':
      return boundPhrase(issue.origin, issue.maximum, issue.inclusive, issue.exact, 'max');
    case 'invalid_value':
      return `one of ${issue.values.map((x) => JSON.stringify(x)).join(', ')}`;
    case 'not_multiple_of':
      return `a multiple of ${String(issue.divisor)}`;
    case 'unrecognized_keys':
      return 'only options this function knows';
    default:
      return issue.message;
  }
}

function throwFirstIssue(error: z.ZodError, input: unknown, base: string): never {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    throw new AttentionInputError(
      argumentOf(base, [...issue.path, key]),
      'only options this function knows',
      `unknown option '${key}'`,
      'Remove it: an option that cannot be honoured is refused rather than ignored.',
    );
  }
  throw new AttentionInputError(
    argumentOf(base, issue.path),
    expectedOf(issue),
    describeValue(valueAt(input, issue.path)),
  );
}

function checkOptionsObject(options: unknown, argument: string): object {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new AttentionInputError(argument, 'an options object or undefined', describeValue(options));
  }
  return options;
}

/** Parses variant-specific options with a variant's own schema; zod issues → AttentionInputError naming `options.<path>`. */
export function parseOptions<T>(schema: ZodType<T>, options: unknown, argument = 'options'): T {
  const input = checkOptionsObject(options, argument);
  const result = schema.safeParse(input);
  if (!result.success) throwFirstIssue(result.error, input, argument);
  return result.data;
}

/** Throws AttentionInputError('options', …) listing the reasons when there are any. */
export function assertSupported(variantName: string, reasons: readonly string[]): void {
  if (reasons.length === 0) return;
  throw new AttentionInputError(
    'options',
    `a call the ${variantName} variant supports`,
    `one it does not: ${reasons.join('; ')}`,
    // dense is the fallback for every other variant, never for itself
    variantName === 'dense'
      ? 'Change the call as the reasons say.'
      : 'Change the options, or use a variant that supports them (dense supports every option).',
  );
}

const DIM_NAMES = { q: 'B, Hq, Lq, Dk', k: 'B, Hkv, Lk, Dk', v: 'B, Hkv, Lk, Dv' } as const;

function checkTensor(name: 'q' | 'k' | 'v', value: unknown): Tensor {
  return parseTensor(value, name, {
    rank: 4,
    dims: DIM_NAMES[name],
    rankFix: 'Reshape to BHSD; a single head or batch entry still needs its axis of size 1.',
  });
}

/**
 * The data passed without its shape (`q = new Float32Array(…)`): zod would see an object without a
 * `data` key and blame `q.data … received undefined`, which hides the mistake.
 */
function bareData(value: ArrayBufferView | unknown[], argument: string, dims: string | undefined): never {
  const received = Array.isArray(value) ? `an array ${describeValue(value)}` : `a ${describeValue(value)}`;
  const data = value instanceof Float32Array ? 'x' : 'Float32Array.from(x)';
  throw new AttentionInputError(
    argument,
    'a tensor { data: Float32Array, shape: number[] }',
    `${received} without a shape`,
    `Wrap it: { data: ${data}, shape: [${dims ?? '...'}] }.`,
  );
}

/**
 * Parses any tensor argument at a public boundary (attention inputs, KV-cache appends, layer
 * weights): structure by zod, then the rank (when given) and data.length === product of the shape.
 * Throws AttentionInputError naming `argument` (or `argument.data`).
 */
export function parseTensor(
  value: unknown,
  argument: string,
  expect: { rank?: number; dims?: string; rankFix?: string } = {},
): Tensor {
  if (ArrayBuffer.isView(value) || Array.isArray(value)) bareData(value, argument, expect.dims);
  const parsed = tensorSchema.safeParse(value);
  if (!parsed.success) throwFirstIssue(parsed.error, value, argument);
  const t = value as Tensor;
  if (expect.rank !== undefined && t.shape.length !== expect.rank) {
    throw new AttentionInputError(
      argument,
      `a rank-${expect.rank} tensor${expect.dims ? ` [${expect.dims}]` : ''}`,
      `rank ${t.shape.length} (shape [${t.shape.join(', ')}])`,
      expect.rankFix ?? 'Reshape it: an axis of size 1 still counts as an axis.',
    );
  }
  const expected = numel(t.shape);
  if (t.data.length !== expected) {
    throw new AttentionInputError(
      `${argument}.data`,
      `${expected} values for shape [${t.shape.join(', ')}]`,
      `${t.data.length} values`,
      'The data length must equal the product of the shape (row-major, contiguous).',
    );
  }
  return t;
}

function overlaps(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

function mismatch(argument: string, expected: string, received: string, fix: string): never {
  throw new AttentionInputError(argument, expected, received, fix);
}

/**
 * Parses one attention call: `options` once with `schema` (a strict object built from
 * attentionOptionsShape; default: the common options alone), then q, k, v and the cross-argument
 * rules. Returns the plain problem (causal folded into the window: windowRight = min(right, 0)), the
 * parsed options and the output targets. Throws AttentionInputError naming the argument.
 * Decisions (docs/design.md, Options): every dimension >= 1; scale any finite non-zero number
 * (negative is valid maths, 0 is almost always a bug); out and lse must not share memory with q, k,
 * v or each other.
 */
export function parseAttentionCall<O extends AttentionOptions = AttentionOptions>(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: unknown,
  schema: ZodType<O> = attentionOptionsSchema as unknown as ZodType<O>,
): AttentionCall<O> {
  const opts = parseOptions(schema, options);
  checkTensor('q', q);
  checkTensor('k', k);
  checkTensor('v', v);
  const [kBatch, kvHeads, kvLength, headDim] = k.shape as [number, number, number, number];
  const [vBatch, vHeads, vLength, valueDim] = v.shape as [number, number, number, number];
  const keys = { kBatch, kvHeads, kvLength, headDim, vBatch, vHeads, vLength, valueDim };
  return finishCall(q, keys, [k.data, v.data], opts);
}

/** Keys and values a call attends that the caller never holds (a KV cache's storage): their dims alone. */
export interface CachedKeyValues {
  readonly batch: number;
  readonly kvHeads: number;
  /** Positions the call attends (Lk). */
  readonly kvLength: number;
  readonly headDim: number;
  readonly valueDim: number;
}

/**
 * parseAttentionCall for a KV cache: the keys and values are the cache's own, valid by
 * construction and out of the caller's reach, so only their dims take part. Lets a cache check an
 * attend over positions it has not stored yet (a step checks before it appends), with the same
 * errors, in the same order, as parseAttentionCall over tensors of those dims.
 */
export function parseCachedAttentionCall<O extends AttentionOptions = AttentionOptions>(
  q: Tensor,
  cached: CachedKeyValues,
  options: unknown,
  schema: ZodType<O> = attentionOptionsSchema as unknown as ZodType<O>,
): AttentionCall<O> {
  const opts = parseOptions(schema, options);
  checkTensor('q', q);
  const { batch, kvHeads, kvLength, headDim, valueDim } = cached;
  const keys = {
    kBatch: batch,
    kvHeads,
    kvLength,
    headDim,
    vBatch: batch,
    vHeads: kvHeads,
    vLength: kvLength,
    valueDim,
  };
  return finishCall(q, keys, [], opts);
}

interface KeyValueDims {
  readonly kBatch: number;
  readonly kvHeads: number;
  readonly kvLength: number;
  /** k's last dimension (Dk as k has it). */
  readonly headDim: number;
  readonly vBatch: number;
  readonly vHeads: number;
  readonly vLength: number;
  readonly valueDim: number;
}

/** The cross-argument rules, once q is a tensor and the options are parsed. */
function finishCall<O extends AttentionOptions>(
  q: Tensor,
  keys: KeyValueDims,
  keyValueData: readonly Float32Array[],
  opts: O,
): AttentionCall<O> {
  const [batch, qHeads, qLength, headDim] = q.shape as [number, number, number, number];
  const { kBatch, kvHeads, kvLength, vBatch, vHeads, vLength, valueDim } = keys;
  const kHeadDim = keys.headDim;

  if (kBatch !== batch) {
    mismatch('k', `batch ${batch} (as q)`, `batch ${kBatch}`, `k has batch ${kBatch} but q has ${batch}.`);
  }
  if (vBatch !== batch) {
    mismatch('v', `batch ${batch} (as q)`, `batch ${vBatch}`, `v has batch ${vBatch} but q has ${batch}.`);
  }
  if (kHeadDim !== headDim) {
    mismatch(
      'k',
      `head dim ${headDim} (as q)`,
      `head dim ${kHeadDim}`,
      `k has head dim ${kHeadDim} but q has ${headDim}: scores are q·k, so Dk must agree.`,
    );
  }
  if (vHeads !== kvHeads) {
    mismatch(
      'v',
      `${kvHeads} heads (as k)`,
      `${vHeads} heads`,
      `v has ${vHeads} heads but k has ${kvHeads}.`,
    );
  }
  if (vLength !== kvLength) {
    mismatch(
      'v',
      `${kvLength} keys (as k)`,
      `${vLength}`,
      `v has length ${vLength} but k has ${kvLength}: one value row per key.`,
    );
  }
  if (qHeads % kvHeads !== 0) {
    mismatch(
      'k',
      `a head count that divides ${qHeads} (q's heads)`,
      `${kvHeads} heads`,
      `k has ${kvHeads} heads but q has ${qHeads}: Hq must be a multiple of Hkv.`,
    );
  }

  const scale = opts.scale ?? defaultScale(headDim);
  const causal = opts.causal ?? false;
  const windowLeft = opts.window ? opts.window[0] : Number.POSITIVE_INFINITY;
  const requestedRight = opts.window ? opts.window[1] : Number.POSITIVE_INFINITY;
  const windowRight = causal ? Math.min(requestedRight, 0) : requestedRight;

  const validKeys: number[] = new Array(batch).fill(kvLength);
  // (the mask option's kvLengths terms may lower these further, below)
  const hasKvLengths = opts.kvLengths !== undefined;
  let padded = false;
  if (opts.kvLengths !== undefined) {
    const lengths = opts.kvLengths;
    if (lengths.length !== batch) {
      mismatch(
        'options.kvLengths',
        `${batch} entries (one per batch entry)`,
        `${lengths.length} entries`,
        'Give one valid-key count per batch entry.',
      );
    }
    for (let b = 0; b < batch; b++) {
      const n = lengths[b]!;
      if (!Number.isInteger(n) || n < 0 || n > kvLength) {
        mismatch(
          'options.kvLengths',
          `integers in [0, ${kvLength}] (Lk)`,
          `${describeValue(n)} at index ${b}`,
          'kvLengths[b] counts the valid (non-padding) keys of batch entry b.',
        );
      }
      validKeys[b] = n;
      if (n < kvLength) padded = true;
    }
  }

  const out = opts.out ?? null;
  if (out) {
    const shape = [batch, qHeads, qLength, valueDim];
    const same = out.shape.length === 4 && out.shape.every((dim, i) => dim === shape[i]);
    if (!same) {
      mismatch(
        'options.out',
        `a tensor of shape [${shape.join(', ')}] ([B, Hq, Lq, Dv])`,
        `shape [${out.shape.join(', ')}]`,
        'Allocate it with zeros([B, Hq, Lq, Dv]) or leave it out.',
      );
    }
    if (out.data.length !== numel(shape)) {
      mismatch(
        'options.out',
        `${numel(shape)} values`,
        `${out.data.length} values`,
        'The data length must equal the product of the shape.',
      );
    }
    for (const [name, data] of [
      ['q', q.data],
      ['k', keyValueData[0]],
      ['v', keyValueData[1]],
    ] as const) {
      if (data && overlaps(out.data, data)) {
        mismatch(
          'options.out',
          `memory separate from ${name}`,
          `a tensor sharing ${name}'s memory`,
          'Attention reads its inputs while writing out: pass a separate buffer.',
        );
      }
    }
  }
  const lse = opts.lse ?? null;
  if (lse) {
    const rows = batch * qHeads * qLength;
    if (lse.length !== rows) {
      mismatch(
        'options.lse',
        `a Float32Array of length ${rows} (B·Hq·Lq)`,
        `length ${lse.length}`,
        'Allocate it with new Float32Array(B * Hq * Lq).',
      );
    }
    for (const [name, data] of [
      ['q', q.data],
      ['k', keyValueData[0]],
      ['v', keyValueData[1]],
      ['options.out', out?.data],
    ] as const) {
      if (data && overlaps(lse, data)) {
        mismatch(
          'options.lse',
          `memory separate from ${name}`,
          `an array sharing ${name}'s memory`,
          'Pass a separate Float32Array.',
        );
      }
    }
  }

  const extras = maskAndScoreExtras(opts, { batch, qHeads, qLength, kvLength });
  let windowLeftAll = windowLeft;
  let windowRightAll = windowRight;
  if (extras.folded) {
    windowLeftAll = Math.min(windowLeft, extras.folded.windowLeft);
    windowRightAll = Math.min(windowRight, extras.folded.windowRight);
    const limits = extras.folded.kvLimits;
    if (limits) {
      for (let b = 0; b < batch; b++) {
        if (limits[b]! < validKeys[b]!) {
          validKeys[b] = limits[b]!;
          padded = true;
        }
      }
    }
  }
  const folded = extras.folded;
  const documents = folded?.documents
    ? { q: folded.documents.qOffsets, kv: folded.documents.kvOffsets }
    : null;
  const prefixLength = folded ? folded.prefixLength : -1;
  const rangeProblem: AttentionProblem = {
    batch,
    qHeads,
    kvHeads,
    groupSize: qHeads / kvHeads,
    qLength,
    kvLength,
    headDim,
    valueDim,
    scale,
    causal,
    windowLeft: windowLeftAll,
    windowRight: windowRightAll,
    validKeys,
    hasKvLengths,
    masked:
      windowLeftAll !== Number.POSITIVE_INFINITY ||
      windowRightAll !== Number.POSITIVE_INFINITY ||
      padded ||
      documents !== null ||
      prefixLength >= 0 ||
      (folded !== null && folded.general.length > 0),
    documents,
    prefixLength,
    generalMask: null,
    scoreMods: extras.scoreMods,
    bias: extras.bias,
    sinks: extras.sinks,
    hasScoreFunction: extras.scoreMods.some((mod) => mod.kind === 'scoreFunction'),
  };
  let problem = rangeProblem;
  if (folded && folded.general.length > 0) {
    const general: AttentionMask =
      folded.general.length === 1 ? folded.general[0]! : { kind: 'and', masks: folded.general };
    problem = { ...rangeProblem, generalMask: cachedGeneralMask(rangeProblem, opts.mask!, general) };
  }
  return { problem, options: opts, out, lse };
}

/** The dimensions of a call without its tensors. */
export interface AttentionShape {
  readonly batch: number;
  readonly qHeads: number;
  readonly kvHeads: number;
  readonly qLength: number;
  readonly kvLength: number;
  readonly headDim: number;
  readonly valueDim: number;
}

/**
 * The problem a call of this shape and these common options would have, without tensors (the FLOP
 * model, budgets and plans need no data). Same rules and errors as parseAttentionCall.
 */
export function problemForShape(shape: AttentionShape, options?: AttentionOptions): AttentionProblem {
  const opts = parseOptions(attentionOptionsSchema, options);
  const { batch, qHeads, kvHeads, qLength, kvLength, headDim, valueDim } = shape;
  const q: Tensor = { data: new Float32Array(0), shape: [batch, qHeads, qLength, headDim] };
  const keys = {
    kBatch: batch,
    kvHeads,
    kvLength,
    headDim,
    vBatch: batch,
    vHeads: kvHeads,
    vLength: kvLength,
    valueDim,
  };
  return finishCall(q, keys, [], opts as AttentionOptions).problem;
}

/** The problem of a call with the common options alone (the oracles' entry). */
export function validateAttentionInputs(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options?: AttentionOptions,
): AttentionProblem {
  return parseAttentionCall(q, k, v, options).problem;
}

/** The mask option's range part folded, the score modifiers, bias and sinks of a call, checked against its dims. */
function maskAndScoreExtras(
  opts: AttentionOptions,
  dims: { batch: number; qHeads: number; qLength: number; kvLength: number },
) {
  const { batch, qHeads, qLength, kvLength } = dims;
  let folded: ReturnType<typeof foldMask> | null = null;
  if (opts.mask !== undefined) {
    checkMaskFits(opts.mask, dims);
    folded = foldMask(opts.mask);
  }
  const mods: readonly ScoreMod[] =
    opts.scoreMod === undefined
      ? []
      : Array.isArray(opts.scoreMod)
        ? opts.scoreMod
        : [opts.scoreMod as ScoreMod];
  const scoreMods: ProblemScoreMod[] = mods.map((mod, index) => {
    if (mod.kind === 'alibi') {
      if (mod.slopes.length !== qHeads) {
        mismatch(
          'options.scoreMod',
          `ALiBi slopes for ${qHeads} query heads`,
          `${mod.slopes.length} slopes`,
          'alibi(alibiSlopes(Hq)) gives one slope per query head.',
        );
      }
      return mod;
    }
    if (mod.kind === 'softcap') return mod;
    return { kind: 'scoreFunction', index };
  });
  let bias: AttentionProblem['bias'] = null;
  if (opts.bias !== undefined) {
    const t = parseTensor(opts.bias, 'options.bias', { rank: 4, dims: 'B|1, Hq|1, Lq, Lk' });
    const [bb, bh, bq, bk] = t.shape as [number, number, number, number];
    if ((bb !== 1 && bb !== batch) || (bh !== 1 && bh !== qHeads) || bq !== qLength || bk !== kvLength) {
      mismatch(
        'options.bias',
        `a tensor of shape [${batch} or 1, ${qHeads} or 1, ${qLength}, ${kvLength}] ([B|1, Hq|1, Lq, Lk])`,
        `shape [${t.shape.join(', ')}]`,
        'A size-1 batch or head axis is shared by every batch entry or head.',
      );
    }
    const headStride = bh === 1 ? 0 : qLength * kvLength;
    bias = { batchStride: bb === 1 ? 0 : bh * qLength * kvLength, headStride };
  }
  let sinks: number[] | null = null;
  if (opts.sinks !== undefined) {
    const list = Array.from(opts.sinks, Number);
    if (list.length !== qHeads || !list.every(Number.isFinite)) {
      mismatch(
        'options.sinks',
        `${qHeads} finite numbers (one sink logit per query head)`,
        describeValue(opts.sinks),
        'A sink joins every row of its head as one extra logit with no value.',
      );
    }
    sinks = list;
  }
  return { folded, scoreMods, bias, sinks };
}
