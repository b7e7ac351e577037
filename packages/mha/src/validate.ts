/**
 * The layer's boundary: zod schemas (compiled once, here) for the structure of x, the weights and
 * the options, then the cross-argument shape rules, each failure an AttentionInputError that names
 * the argument, the expected and the received value, and the fix. Nothing after this validates.
 */
import {
  AttentionInputError,
  type AttentionOptions,
  type AttentionVariant,
  parseOptions,
  type Tensor,
  tensorSchema,
  z,
} from '@attnkit/core';
import { type BackendChoice, type EngineOptions, engineOptionsSchema } from '@attnkit/kernels';

const variantSchema = z.custom<AttentionVariant>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AttentionVariant).name === 'string' &&
    typeof (value as AttentionVariant).forward === 'function' &&
    typeof (value as AttentionVariant).notSupportedReasons === 'function',
  {
    error:
      'an AttentionVariant (an object with name, forward and notSupportedReasons), e.g. flash from @attnkit/flash',
  },
);

const weightsSchema = z.strictObject({
  wq: tensorSchema,
  wk: tensorSchema,
  wv: tensorSchema,
  wo: tensorSchema,
  bq: tensorSchema.optional(),
  bk: tensorSchema.optional(),
  bv: tensorSchema.optional(),
  bo: tensorSchema.optional(),
});

/** The layer's own options; anything for the variant goes in variantOptions. */
const layerOptionsSchema = z.strictObject({
  heads: z.number().int().positive(),
  kvHeads: z.number().int().positive().optional(),
  variant: variantSchema.optional(),
  causal: z.boolean().optional(),
  context: tensorSchema.optional(),
  variantOptions: z.record(z.string(), z.unknown()).optional(),
});

/** Weights of one multi-head attention layer, stored [in, out] so that y = x·W + b. */
export interface MultiHeadWeights {
  /** [dModel, heads·headDim] */
  readonly wq: Tensor;
  /** [dModel, kvHeads·headDim] */
  readonly wk: Tensor;
  /** [dModel, kvHeads·valueDim] */
  readonly wv: Tensor;
  /** [heads·valueDim, dModel] */
  readonly wo: Tensor;
  /** [heads·headDim] */
  readonly bq?: Tensor | undefined;
  /** [kvHeads·headDim] */
  readonly bk?: Tensor | undefined;
  /** [kvHeads·valueDim] */
  readonly bv?: Tensor | undefined;
  /** [dModel] */
  readonly bo?: Tensor | undefined;
}

/** The layer's shape, shared by the full pass and the decoder (what the weights and heads imply). */
export interface LayerShape {
  readonly dModel: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
}

/**
 * Options the layer forwards to a variant: its own minus `out` (the layer owns that buffer), plus
 * the engine options every variant accepts (backend, threads).
 */
export type VariantOptionsOf<O extends AttentionOptions> = Omit<O, 'out'> & EngineOptions;

/**
 * Parses `value` with `schema`; zod's issue becomes AttentionInputError naming `argument.<path>`.
 * Core's parseOptions does exactly that; this names it for what it is used for here.
 */
function parseArgument<T>(schema: z.ZodType<T>, value: unknown, argument: string): T {
  return parseOptions(schema, value, argument);
}

function shapeText(t: Tensor): string {
  return `shape [${t.shape.join(', ')}]`;
}

/** Structure of one tensor argument: zod parse, then rank and data length. */
export function checkTensorArgument(value: unknown, argument: string, rank: number, layout: string): Tensor {
  const t = parseArgument(tensorSchema, value, argument);
  if (t.shape.length !== rank) {
    throw new AttentionInputError(argument, `a rank-${rank} tensor ${layout}`, shapeText(t));
  }
  let count = 1;
  for (const d of t.shape) count *= d;
  if (t.data.length !== count) {
    throw new AttentionInputError(
      `${argument}.data`,
      `${count} elements (the product of ${shapeText(t)})`,
      `${t.data.length} elements`,
      'data must hold exactly the elements its shape describes, row-major.',
    );
  }
  return t;
}

/** Checks the weights against each other and against `heads`/`kvHeads` and returns the shape they imply. */
export function validateWeights(weightsValue: unknown, heads: number, kvHeads: number): LayerShape {
  parseArgument(weightsSchema, weightsValue, 'weights');
  const weights = weightsValue as MultiHeadWeights;
  const wq = checkTensorArgument(weights.wq, 'weights.wq', 2, '[dModel, heads·dk]');
  const wk = checkTensorArgument(weights.wk, 'weights.wk', 2, '[dModel, kvHeads·dk]');
  const wv = checkTensorArgument(weights.wv, 'weights.wv', 2, '[dModel, kvHeads·dv]');
  const wo = checkTensorArgument(weights.wo, 'weights.wo', 2, '[heads·dv, dModel]');
  const dModel = wq.shape[0]!;
  const qWidth = wq.shape[1]!;
  if (qWidth % heads !== 0) {
    throw new AttentionInputError(
      'weights.wq',
      `a column count that is a multiple of heads = ${heads} (heads·dk)`,
      `${qWidth} columns (${shapeText(wq)})`,
      'Check options.heads, or the weight matrix: wq is [dModel, heads·dk].',
    );
  }
  const headDim = qWidth / heads;
  for (const [name, w] of [
    ['weights.wk', wk],
    ['weights.wv', wv],
  ] as const) {
    if (w.shape[0] !== dModel) {
      throw new AttentionInputError(
        name,
        `${dModel} rows (dModel, the rows of weights.wq)`,
        `${w.shape[0]} rows (${shapeText(w)})`,
        'Every input projection is [dModel, out]: transpose a PyTorch [out, in] matrix.',
      );
    }
  }
  if (wk.shape[1] !== kvHeads * headDim) {
    throw new AttentionInputError(
      'weights.wk',
      `${kvHeads * headDim} columns (kvHeads·dk = ${kvHeads}·${headDim} = ${kvHeads * headDim})`,
      `${wk.shape[1]} columns (${shapeText(wk)})`,
      'wk is [dModel, kvHeads·dk] with dk = (columns of wq) / heads; check options.kvHeads.',
    );
  }
  const vWidth = wv.shape[1]!;
  if (vWidth % kvHeads !== 0) {
    throw new AttentionInputError(
      'weights.wv',
      `a column count that is a multiple of kvHeads = ${kvHeads} (kvHeads·dv)`,
      `${vWidth} columns (${shapeText(wv)})`,
      'wv is [dModel, kvHeads·dv]; check options.kvHeads.',
    );
  }
  const valueDim = vWidth / kvHeads;
  if (wo.shape[0] !== heads * valueDim || wo.shape[1] !== dModel) {
    throw new AttentionInputError(
      'weights.wo',
      `shape [heads·dv, dModel] = [${heads}·${valueDim}, ${dModel}] = [${heads * valueDim}, ${dModel}]`,
      shapeText(wo),
      'wo is [heads·dv, dModel] with dv = (columns of wv) / kvHeads.',
    );
  }
  const biasWidths: readonly (readonly [keyof MultiHeadWeights, number, string])[] = [
    ['bq', heads * headDim, 'heads·dk'],
    ['bk', kvHeads * headDim, 'kvHeads·dk'],
    ['bv', kvHeads * valueDim, 'kvHeads·dv'],
    ['bo', dModel, 'dModel'],
  ];
  for (const [name, width, formula] of biasWidths) {
    const bias = weights[name];
    if (bias === undefined) continue;
    const b = checkTensorArgument(bias, `weights.${name}`, 1, `[${formula}]`);
    if (b.shape[0] !== width) {
      throw new AttentionInputError(
        `weights.${name}`,
        `shape [${width}] (${formula}, the output width of its projection)`,
        shapeText(b),
      );
    }
  }
  return { dModel, heads, kvHeads, headDim, valueDim };
}

/** Everything multiHeadAttention needs, validated and normalised. */
export interface LayerCall {
  readonly shape: LayerShape;
  readonly batch: number;
  readonly length: number;
  /** [B, Lk, dModel] for cross-attention, null for self-attention. */
  readonly context: Tensor | null;
  readonly contextLength: number;
  readonly variant: AttentionVariant | null;
  /** The options handed to the variant: variantOptions with the layer's causal merged in. */
  readonly variantOptions: Record<string, unknown>;
  readonly backend: BackendChoice | undefined;
}

/**
 * `error` (another component's complaint) under the name the caller wrote, with its expected,
 * received and fix kept and the component credited: a variant's `options.window` is the layer
 * caller's `options.variantOptions.window`.
 */
export function renamedError(
  error: AttentionInputError,
  argument: string,
  raisedBy: string,
): AttentionInputError {
  const fix = error.fix ? `${error.fix} ` : '';
  return new AttentionInputError(argument, error.expected, error.received, `${fix}(Raised by ${raisedBy}.)`);
}

/** Parses heads/kvHeads and checks kvHeads divides heads (GQA; 1 = MQA). */
export function parseHeads(heads: number, kvHeadsOption: number | undefined): number {
  const kvHeads = kvHeadsOption ?? heads;
  if (heads % kvHeads !== 0) {
    throw new AttentionInputError(
      'options.kvHeads',
      `a divisor of heads = ${heads} (each kv head serves heads / kvHeads query heads)`,
      `${kvHeads}`,
      'Use kvHeads = heads (multi-head), a divisor (GQA) or 1 (MQA).',
    );
  }
  return kvHeads;
}

/**
 * Merges the layer's `causal` into the variant's options and refuses what the layer cannot pass on.
 * Exported for the decoder, which does the same with its own options.
 */
export function variantOptionsFor(
  causal: boolean | undefined,
  variantOptions: Record<string, unknown> | undefined,
): { options: Record<string, unknown>; backend: BackendChoice | undefined } {
  const options: Record<string, unknown> = { ...(variantOptions ?? {}) };
  if ('out' in options && options.out !== undefined) {
    throw new AttentionInputError(
      'options.variantOptions.out',
      'no out buffer (the layer allocates the per-head attention output itself)',
      'an out tensor',
      'Drop variantOptions.out; the layer returns a new [B, L, dModel] tensor.',
    );
  }
  if (causal !== undefined) {
    if (options.causal !== undefined && options.causal !== causal) {
      throw new AttentionInputError(
        'options.causal',
        `the same value as options.variantOptions.causal (${String(options.causal)})`,
        String(causal),
        'Give causal once, as options.causal.',
      );
    }
    options.causal = causal;
  }
  // Only the engine is read here; the variant's own strict schema refuses unknown keys when it runs.
  const { backend } = parseArgument(variantEngineSchema, options, 'options.variantOptions');
  return { options, backend };
}

const variantEngineSchema = z.looseObject(engineOptionsSchema.shape);

const LAYER_OPTION_KEYS: ReadonlySet<string> = new Set(Object.keys(layerOptionsSchema.shape));

export function validateLayerCall(xValue: unknown, weightsValue: unknown, optionsValue: unknown): LayerCall {
  const x = checkTensorArgument(xValue, 'x', 3, '[B, L, dModel]');
  if (typeof optionsValue === 'object' && optionsValue !== null) {
    // A variant's option (window, blockQ, featureMap...) at the top level: say where it belongs.
    const stray = Object.keys(optionsValue).find((key) => !LAYER_OPTION_KEYS.has(key));
    if (stray !== undefined) {
      throw new AttentionInputError(
        `options.${stray}`,
        `one of the layer's options (${[...LAYER_OPTION_KEYS].join(', ')})`,
        `unknown option '${stray}'`,
        `The variant's own options go in options.variantOptions, e.g. { variantOptions: { ${stray}: … } }.`,
      );
    }
  }
  const options = parseArgument(layerOptionsSchema, optionsValue, 'options');
  const kvHeads = parseHeads(options.heads, options.kvHeads);
  const shape = validateWeights(weightsValue, options.heads, kvHeads);
  const [batch, length, xWidth] = x.shape as [number, number, number];
  if (xWidth !== shape.dModel) {
    throw new AttentionInputError(
      'x',
      `last dimension dModel = ${shape.dModel} (the rows of weights.wq)`,
      `shape [${x.shape.join(', ')}]`,
      'x is [B, L, dModel].',
    );
  }
  let context: Tensor | null = null;
  if (options.context !== undefined) {
    context = checkTensorArgument(options.context, 'options.context', 3, '[B, Lk, dModel]');
    if (context.shape[0] !== batch || context.shape[2] !== shape.dModel) {
      throw new AttentionInputError(
        'options.context',
        `shape [B, Lk, dModel] = [${batch}, Lk, ${shape.dModel}] (batch of x, dModel of the weights)`,
        `shape [${context.shape.join(', ')}]`,
      );
    }
  }
  const { options: variantOptions, backend } = variantOptionsFor(options.causal, options.variantOptions);
  return {
    shape,
    batch,
    length,
    context,
    contextLength: context ? context.shape[1]! : length,
    variant: options.variant ?? null,
    variantOptions,
    backend,
  };
}
