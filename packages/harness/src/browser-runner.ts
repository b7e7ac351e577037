/**
 * The harness in a browser (or any JS runtime without child processes): the same row kinds,
 * accuracy checks and tinybench timing as `attnkit-bench` (run-plan.ts's case loop), rows kept
 * in memory instead of a file, and none of what needs a child process: no peers, no measured
 * peak memory (the rows keep the analytic workspace). The results are a results file
 * (`resultsSchema`) like the CLI's, so the same chart specs draw them.
 *
 * The host sets up the kernels' thread pool first (setWorkerFactory, the variants' work modules,
 * startThreads: the kernels README, browser apps) when the suite asks for more than one thread,
 * and runs this in a dedicated Worker: the calls block, and only a Worker may wait on the pool.
 */
import { backendUnavailableReason, defaultBackend, initKernels } from '@attnkit/kernels';
import { VARIANTS } from './registry.js';
import { RESULTS_SCHEMA_VERSION, type ResultRow, type Results, resultsSchema } from './results.js';
import { CallPredictor, type ProgressSink, type RowSink, type RunContext } from './run-context.js';
import { countSteps, defaultRunId, runCases, selectVariants } from './run-plan.js';
import {
  expandBackends,
  type HarnessBackend,
  type Suite,
  SuiteError,
  sequenceLengths,
} from './suite-schema.js';

/** The backends a browser has: native is the Node addon. */
export const BROWSER_BACKENDS = ['wasm', 'js'] as const satisfies readonly HarnessBackend[];

export interface BrowserSuiteOptions {
  /** 'smallest': each group at its smallest N only (minutes become seconds); 'all': every N. */
  readonly sizes: 'smallest' | 'all';
  /** Group ids to keep, in the suite's order (default: every group). */
  readonly groups?: readonly string[];
}

/**
 * The suite a browser run measures, stated in the suite itself (the results file carries it):
 * peers and measured memory off (both run in child processes), optionally only some groups and
 * each group's smallest N. The description says what was left out; the duration, measured for
 * the whole suite in Node, is dropped.
 */
export function browserSuite(suite: Suite, options: BrowserSuiteOptions): Suite {
  const known = suite.groups.map((group) => group.id);
  const unknown = (options.groups ?? []).filter((id) => !known.includes(id));
  if (unknown.length > 0) {
    throw new SuiteError(
      `groups: ${unknown.join(', ')} not in suite '${suite.name}'; its groups are ${known.join(', ')}`,
    );
  }
  const wanted = options.groups && options.groups.length > 0 ? options.groups : known;
  const groups = suite.groups
    .filter((group) => wanted.includes(group.id))
    .map((group) => {
      if (options.sizes === 'all') return group;
      const { pow2: _pow2, ...rest } = group;
      return { ...rest, lengths: [Math.min(...sequenceLengths(group))] };
    });
  const left: string[] = [];
  if (groups.length < suite.groups.length) left.push(`groups ${wanted.join(', ')} only`);
  if (options.sizes === 'smallest') left.push("each group's smallest N only");
  const { duration: _duration, ...rest } = suite;
  return {
    ...rest,
    description:
      `Run in a browser${left.length > 0 ? ` (${left.join('; ')})` : ''}, without peers or measured ` +
      `peak memory (both need child processes). The suite: ${suite.description}`,
    peers: [],
    memory: { ...suite.memory, enabled: false },
    groups,
  };
}

/** What a browser tells about its machine (navigator); every field optional, as browsers differ. */
export interface BrowserEnvironment {
  readonly userAgent?: string;
  readonly platform?: string;
  readonly hardwareConcurrency?: number;
  /** Chromium's navigator.deviceMemory, GiB (rounded by the browser). */
  readonly deviceMemory?: number;
}

/** The results file's machine fields from a browser's navigator: what it does not say is 'unknown' or null. */
export function browserMachine(environment: BrowserEnvironment): Results['machine'] {
  const cores = environment.hardwareConcurrency;
  const memory = environment.deviceMemory;
  return {
    os: 'browser',
    platform: environment.platform || 'unknown',
    release: environment.userAgent || 'unknown',
    arch: 'unknown',
    cpuModel: 'unknown',
    cores: cores !== undefined && Number.isInteger(cores) && cores > 0 ? cores : 1,
    memoryBytes: memory !== undefined && memory > 0 ? memory * 2 ** 30 : null,
    loadAverage: [],
  };
}

/** The run's rows in memory, in the order they were measured (ResultsWriter's upsert, no file). */
class ResultsCollector implements RowSink {
  constructor(
    readonly results: Results,
    private readonly onRow: ((row: ResultRow) => void) | undefined,
  ) {}

  upsert(row: ResultRow): void {
    const index = this.results.rows.findIndex((existing) => existing.id === row.id);
    if (index >= 0) this.results.rows[index] = row;
    else this.results.rows.push(row);
    this.onRow?.(row);
  }
}

const SILENT: ProgressSink = { start() {}, finish() {}, note() {}, addWork() {}, end() {} };

export interface BrowserRunOptions {
  /** Run as given: browserSuite(suite, …) for a reduced one. Its peers and measured memory are not run. */
  readonly suite: Suite;
  /** Default: wasm and js. 'native' gives skipped rows saying why (there is no addon in a browser). */
  readonly backends?: readonly HarnessBackend[];
  /** Default: the suite's. */
  readonly threads?: readonly number[];
  /** Labels or variant ids to keep (dense is always kept: it is the baseline). */
  readonly variants?: readonly string[];
  readonly progress?: ProgressSink;
  /** Called with every row as it is written (a skipped row too). */
  readonly onRow?: (row: ResultRow) => void;
  /** Recorded as options.argv: what asked for the run (e.g. the page's query string). */
  readonly argv?: readonly string[];
  /** Default: globalThis.navigator. */
  readonly environment?: BrowserEnvironment;
}

/** Runs a suite without child processes and returns its results file, validated by resultsSchema. */
export async function runInBrowser(options: BrowserRunOptions): Promise<Results> {
  const started = Date.now();
  const { suite } = options;
  const progress = options.progress ?? SILENT;
  // wasm compiles asynchronously in a browser: without this, the first wasm rows would be skipped.
  await initKernels();
  const selected = selectVariants(suite, options.variants);
  for (const note of selected.notes) progress.note(note);
  const backends = [...new Set(options.backends ?? BROWSER_BACKENDS)];
  for (const backend of backends) {
    const why = backendUnavailableReason(backend);
    if (why) progress.note(`backend ${backend}: unavailable here, its rows are skipped (${why})`);
  }
  const specs = expandBackends(selected.specs, backends);
  const threads = [...new Set(options.threads ?? suite.threads)].sort((a, b) => a - b);
  for (const spec of specs) progress.note(`variant ${spec.label}: ${VARIANTS[spec.variant].source}`);
  const environment =
    options.environment ?? (globalThis as { navigator?: BrowserEnvironment }).navigator ?? {};
  const results: Results = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    tool: 'attnkit-bench',
    runId: defaultRunId(suite.name, new Date(started)),
    startedAt: new Date(started).toISOString(),
    finishedAt: null,
    complete: false,
    machine: browserMachine(environment),
    node: 'none (browser)',
    // A bundle has no package.json to read versions from.
    packages: {},
    backend: defaultBackend(),
    git: { commit: null, dirty: null },
    options: {
      suite: suite.name,
      suitePath: null,
      quick: false,
      variants: specs.map((spec) => spec.label),
      threads,
      backends,
      peers: false,
      charts: ['svg'],
      argv: [...(options.argv ?? [])],
    },
    suite,
    rows: [],
    wallTimeMs: null,
  };
  const context: RunContext = {
    suite,
    specs,
    threads,
    peers: [],
    writer: new ResultsCollector(results, options.onRow),
    progress,
    predictor: new CallPredictor(),
    peerThreadLimits: new Map(),
  };
  progress.addWork(countSteps(context));
  await runCases(context);
  const finishedAt = Date.now();
  results.finishedAt = new Date(finishedAt).toISOString();
  results.wallTimeMs = finishedAt - started;
  results.complete = true;
  // The file leaves the harness here (a download): a row outside the schema is a harness bug, caught now.
  return resultsSchema.parse(results);
}
