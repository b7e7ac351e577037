/**
 * The command line of attnkit-bench (kept apart from cli.ts, which runs on import): node's
 * parseArgs splits the words, zod schemas check the values. Every mistake is a UsageError whose
 * message says what was wrong and what is accepted, on one line; the CLI prints it and exits 2.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { z } from 'zod';
import type { ChartFormat } from './charts.js';
import { PEER_IDS, PEER_PREFIXES } from './registry.js';
import { HARNESS_BACKENDS, type HarnessBackend } from './suite.js';

export const HELP = `attnkit-bench — accuracy, time and memory of attention variants against sequence length

Usage
  attnkit-bench [run] [options]           run a suite (default: the quick suite, about 2 minutes)
  attnkit-bench render --results <file>   re-draw charts, report and table from a results file
  attnkit-bench compare <old.json> <new.json>
                                          ratios of median times, row by row
  attnkit-bench docs --results <file> [--docs <dir>]
                                          rewrite the <!-- results:... --> sections of the docs
                                          notes and their charts from a results file (a marker's
                                          results=NAME reads NAME.json next to it)
  attnkit-bench weights [--out <dir>]     attention-weights heatmaps (full, causal, window, linear)
  attnkit-bench suites                    list the named suites: what each measures, how long it takes

Run options
  --suite <name|path>   a named suite (attnkit-bench suites) or a suite JSON file (path)
  --quick               the quick suite (the default when no --suite is given)
  --variants <list>     comma-separated labels or ids, e.g. flash,linear (dense is always kept)
  --threads <list>      thread counts, e.g. 1,2 (default: the suite's)
  --backends <list>     kernels backends for every variant row, e.g. wasm,native (default: the
                        suite's; wasm and native side by side, native skipped where it did not load)
  --peers <list>        only these peers, e.g. ort-node:mha,tfjs-wasm (default: the suite's)
  --no-peers            skip onnxruntime-node, onnxruntime-web and tfjs-wasm
  --out <dir>           output directory (default: benchmarks/results/runs/<suite>-<time> in the
                        repository, ./attnkit-bench-runs/<suite>-<time> elsewhere)
  --charts <list>       svg (default), svg,png, png, or none
  --compare <old.json>  after the run, print time ratios against an earlier results file
  --help                this text

Outputs (printed at the end): results.json (written after every case, atomically),
report.md, charts/*.svg|png, and a table on stdout. Progress goes to stderr.`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export const COMMANDS = ['run', 'render', 'compare', 'docs', 'weights', 'suites'] as const;
export type Command = (typeof COMMANDS)[number];

/** A usage message on one line, whatever the error carried (zod and suite errors list issues on lines). */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join('; ')
    .replace(/:;/g, ':');
}

/** Lenient split (empty items dropped), for callers that build lists themselves. */
export function parseList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** The items of a comma-separated option value, empty ones kept (so '1,,2' can be refused). */
function items(value: string): string[] {
  return value.split(',').map((item) => item.trim());
}

const THREADS_EXPECTED = 'integers 1..64 separated by commas, e.g. 1,2';
const CHARTS_EXPECTED = 'svg, png, svg,png or none';
const PEERS_EXPECTED = `peer ids (${PEER_IDS.join(', ')}) or runtimes (${PEER_PREFIXES.join(', ')}), separated by commas`;

function isThreadCount(item: string): boolean {
  return /^\d+$/.test(item) && Number(item) >= 1 && Number(item) <= 64;
}

const BACKENDS_EXPECTED = `backends (${HARNESS_BACKENDS.join(', ')}) separated by commas, each once, e.g. wasm,native`;

export const backendsArgSchema = z
  .string()
  .refine((value) => {
    const list = items(value);
    return (
      list.every((item) => (HARNESS_BACKENDS as readonly string[]).includes(item)) &&
      new Set(list).size === list.length
    );
  }, BACKENDS_EXPECTED)
  .transform((value) => items(value) as HarnessBackend[]);

export const threadsSchema = z
  .string()
  .refine((value) => items(value).every(isThreadCount), THREADS_EXPECTED)
  .transform((value) => items(value).map(Number));

export const chartsSchema = z
  .string()
  .refine(
    (value) => value === 'none' || items(value).every((item) => item === 'svg' || item === 'png'),
    CHARTS_EXPECTED,
  )
  .transform((value): ChartFormat[] => (value === 'none' ? [] : (items(value) as ChartFormat[])));

const namesSchema = (expected: string) =>
  z
    .string()
    .refine((value) => items(value).every((item) => item.length > 0), expected)
    .transform(items);

const peerNames: readonly string[] = [...PEER_IDS, ...PEER_PREFIXES];

export const peersSchema = z
  .string()
  .refine((value) => items(value).every((item) => peerNames.includes(item)), PEERS_EXPECTED)
  .transform(items);

const path = z.string().min(1, 'a path');

export const runArgsSchema = z
  .object({
    suite: z.string().min(1, 'a suite name or a path to a suite .json file').optional(),
    quick: z.boolean(),
    variants: namesSchema('variant labels or ids separated by commas, e.g. flash,linear').optional(),
    threads: threadsSchema.optional(),
    backends: backendsArgSchema.optional(),
    peers: peersSchema.optional(),
    'no-peers': z.boolean(),
    out: path.optional(),
    charts: chartsSchema.optional(),
    compare: path.optional(),
  })
  .strict()
  .superRefine((args, ctx) => {
    if (args.quick && args.suite !== undefined)
      ctx.addIssue({ code: 'custom', message: 'give --suite or --quick, not both' });
    if (args['no-peers'] && args.peers !== undefined)
      ctx.addIssue({ code: 'custom', message: 'give --peers or --no-peers, not both' });
  });
export type RunArgs = z.infer<typeof runArgsSchema>;

export const renderArgsSchema = z
  .object({ results: path, out: path.optional(), charts: chartsSchema.optional() })
  .strict();
export const docsArgsSchema = z
  .object({ results: path, docs: path.optional(), charts: chartsSchema.optional() })
  .strict();
export const weightsArgsSchema = z.object({ out: path.optional(), charts: chartsSchema.optional() }).strict();

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

const OPTIONS = {
  run: {
    suite: { type: 'string' },
    quick: { type: 'boolean', default: false },
    variants: { type: 'string' },
    threads: { type: 'string' },
    backends: { type: 'string' },
    peers: { type: 'string' },
    'no-peers': { type: 'boolean', default: false },
    out: { type: 'string' },
    charts: { type: 'string' },
    compare: { type: 'string' },
  },
  render: { results: { type: 'string' }, out: { type: 'string' }, charts: { type: 'string' } },
  compare: {},
  docs: { results: { type: 'string' }, docs: { type: 'string' }, charts: { type: 'string' } },
  weights: { out: { type: 'string' }, charts: { type: 'string' } },
  suites: {},
} as const satisfies Record<Command, OptionsConfig>;

/** How many positionals each command takes (and what they are called in messages). */
const POSITIONALS: Record<Command, readonly string[]> = {
  run: [],
  render: [],
  compare: ['<old.json>', '<new.json>'],
  docs: [],
  weights: [],
  suites: [],
};

function describeOptions(command: Command): string {
  const names = Object.keys(OPTIONS[command]).map((name) => `--${name}`);
  return names.length > 0 ? names.join(', ') : 'no options';
}

/** Splits a command's words with node's parseArgs; its errors become one-line UsageErrors. */
export function tokenize(
  command: Command,
  argv: readonly string[],
): { values: Record<string, unknown>; positionals: string[] } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    const config: ParseArgsConfig = {
      args: [...argv],
      options: OPTIONS[command],
      allowPositionals: true,
      strict: true,
    };
    parsed = parseArgs(config);
  } catch (error) {
    const err = error as Error & { code?: string };
    const option = /'(-[^' ]+)/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
      throw new UsageError(`${command}: unknown option '${option}'; accepted: ${describeOptions(command)}`);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
      throw new UsageError(`${command}: ${option ?? 'an option'} needs a value (${oneLine(err.message)})`);
    throw new UsageError(`${command}: ${oneLine(err.message)}`);
  }
  const expected = POSITIONALS[command];
  if (parsed.positionals.length !== expected.length) {
    const extra = parsed.positionals.slice(expected.length).map((word) => `'${word}'`);
    throw new UsageError(
      expected.length === 0
        ? `${command}: unexpected argument ${extra.join(' ')}; ${command} takes only options (${describeOptions(command)})`
        : `${command}: expected exactly ${expected.length} arguments ${expected.join(' ')}, received ${parsed.positionals.length}${extra.length > 0 ? ` (extra: ${extra.join(' ')})` : ''}`,
    );
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** Checks parsed values against a command's schema; the first issue becomes the UsageError. */
export function checkArgs<S extends z.ZodType>(
  command: Command,
  schema: S,
  values: Record<string, unknown>,
): z.output<S> {
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = issue?.path[0];
  if (name === undefined) throw new UsageError(`${command}: ${issue?.message ?? 'invalid arguments'}`);
  const received = values[String(name)];
  throw new UsageError(
    received === undefined
      ? `${command}: --${String(name)} <${issue?.message === 'a path' ? 'file' : 'value'}> is required`
      : `--${String(name)}: expected ${issue?.message}, received '${String(received)}'`,
  );
}

function parseOption<S extends z.ZodType>(schema: S, name: string, value: string): z.output<S> {
  const checked = checkArgs('run', z.object({ [name]: schema }), { [name]: value }) as Record<
    string,
    unknown
  >;
  return checked[name] as z.output<S>;
}

export function parseThreads(value: string | undefined): number[] | undefined {
  return value === undefined ? undefined : parseOption(threadsSchema, 'threads', value);
}

export function parseCharts(value: string | undefined): ChartFormat[] {
  // SVG only by default: PNGs are for whoever asks (--charts svg,png), never generated into git.
  return value === undefined ? ['svg'] : parseOption(chartsSchema, 'charts', value);
}
