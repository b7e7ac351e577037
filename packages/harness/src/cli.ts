#!/usr/bin/env node
/**
 * attnkit-bench: accuracy, time and memory of the attnkit variants (and peers) against sequence
 * length, with results JSON, a markdown report and charts. Run with no arguments for the quick
 * default; see `attnkit-bench --help`. A bad invocation prints one line (what was wrong, what is
 * accepted) and exits 2, before anything runs.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  COMMANDS,
  type Command,
  checkArgs,
  docsArgsSchema,
  HELP,
  oneLine,
  parseCharts,
  type RunArgs,
  renderArgsSchema,
  runArgsSchema,
  tokenize,
  UsageError,
  weightsArgsSchema,
} from './args.js';
import { type ChartFormat, writeCharts } from './charts.js';
import { compareResults, formatComparison } from './compare.js';
import { rewriteDocs } from './docs.js';
import { Progress } from './progress.js';
import { markdownReport, terminalFigures, terminalTable } from './report.js';
import { type Results, resultsSchema } from './results.js';
import { defaultRunId, peerMatches, runBenchmarks } from './runner.js';
import {
  formatSuiteList,
  listSuites,
  loadSuite,
  normaliseVariantSpec,
  type Suite,
  SuiteError,
  suitesDirectory,
} from './suite.js';
import { writeAttentionWeightsFigure } from './weights-figure.js';

/** A results file, or a UsageError naming the file and its first problem. */
function readResultsFile(path: string): Results {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `${path}: ${oneLine((error as Error).message)}; expected an attnkit-bench results.json`,
    );
  }
  const parsed = resultsSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const [first, ...others] = parsed.error.issues;
  const where = first?.path.join('.') || '(root)';
  throw new UsageError(
    `${path} is not an attnkit-bench results file (${where}: ${first?.message}${others.length > 0 ? `; ${others.length} more issue(s)` : ''}); expected the results.json a run writes`,
  );
}

/** Creates the output directory now, so an unwritable one is a usage error and not a failure after the run. */
function writableDirectory(path: string, option: string): string {
  try {
    mkdirSync(path, { recursive: true });
    accessSync(path, constants.W_OK);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    throw new UsageError(
      `${option}: cannot write to ${path} (${err.code ?? oneLine(err.message)}); expected a directory that can be created and written`,
    );
  }
  return path;
}

/** --variants and --peers name what the suite has; anything else would silently run less. */
function checkAgainstSuite(args: RunArgs, suite: Suite): void {
  if (args.variants) {
    const specs = suite.variants.map(normaliseVariantSpec);
    const unknown = args.variants.filter(
      (name) => !specs.some((spec) => spec.label === name || spec.variant === name),
    );
    if (unknown.length > 0) {
      throw new UsageError(
        `--variants: ${unknown.map((name) => `'${name}'`).join(', ')} not in suite '${suite.name}'; accepted: ${specs.map((spec) => spec.label).join(', ')}`,
      );
    }
  }
  if (args.peers) {
    const unknown = args.peers.filter((name) => !suite.peers.some((peer) => peerMatches(peer, name)));
    if (unknown.length > 0) {
      throw new UsageError(
        `--peers: ${unknown.map((name) => `'${name}'`).join(', ')} not among the peers of suite '${suite.name}'; accepted: ${suite.peers.join(', ') || 'none (the suite runs no peers)'}`,
      );
    }
  }
}

/**
 * benchmarks/ of the attnkit repository when this harness runs from its workspace (dist/ inside
 * packages/harness), or null when installed from a tarball: then runs go to the working directory.
 */
function benchmarksDirectory(): string | null {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const benchmarks = join(root, 'benchmarks');
  return existsSync(join(root, 'pnpm-workspace.yaml')) && existsSync(benchmarks) ? benchmarks : null;
}

async function renderOutputs(results: Results, outDir: string, charts: readonly ChartFormat[]) {
  const chartDir = join(outDir, 'charts');
  const chartFiles = charts.length > 0 ? await writeCharts(results, chartDir, charts) : [];
  const reportPath = join(outDir, 'report.md');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(reportPath, markdownReport(results, chartFiles, outDir));
  return { chartFiles, chartDir, reportPath };
}

async function commandRun(argv: string[]): Promise<void> {
  const args = checkArgs('run', runArgsSchema, tokenize('run', argv).values);
  const quick = args.suite === undefined;
  const { suite, path: suitePath } = loadSuite(args.suite ?? 'quick');
  checkAgainstSuite(args, suite);
  const charts = args.charts ?? parseCharts(undefined);
  const compareWith = args.compare ? readResultsFile(resolve(args.compare)) : null;
  const runId = defaultRunId(suite.name);
  const benchmarks = benchmarksDirectory();
  const outDir = writableDirectory(
    resolve(
      args.out ??
        (benchmarks
          ? join(benchmarks, 'results', 'runs', runId)
          : join(process.cwd(), 'attnkit-bench-runs', runId)),
    ),
    '--out',
  );
  const started = Date.now();
  const progress = new Progress(0);
  progress.note(`attnkit-bench: suite '${suite.name}'${quick ? ' (quick default)' : ''} → ${outDir}`);
  const { results, resultsPath } = await runBenchmarks({
    suite,
    suitePath,
    quick,
    ...(args.variants ? { variants: args.variants } : {}),
    ...(args.threads ? { threads: args.threads } : {}),
    ...(args.backends ? { backends: args.backends } : {}),
    peers: !args['no-peers'],
    ...(args.peers ? { peerFilter: args.peers } : {}),
    outDir,
    charts,
    argv,
    progress,
  });
  process.stderr.write('rendering report and charts...\n');
  const { chartFiles, chartDir, reportPath } = await renderOutputs(results, outDir, charts);
  process.stdout.write(`${terminalTable(results)}\n\n`);
  const figures = terminalFigures(results);
  if (figures) process.stdout.write(`${figures}\n\n`);
  if (compareWith)
    process.stdout.write(
      `${formatComparison(compareResults(compareWith, results), args.compare ?? 'old', 'this run')}\n\n`,
    );
  const failing = results.rows.filter(
    (row) => row.accuracy?.rule.name === '2x-naive-float32' && !row.accuracy.rule.pass,
  );
  if (failing.length > 0) {
    process.stdout.write(
      `WARNING: ${failing.length} row(s) break the 2× float32 accuracy rule: ${failing.map((row) => row.id).join(', ')}\n`,
    );
  }
  const ok = results.rows.filter((row) => row.status === 'ok').length;
  process.stdout.write(
    `${[
      `rows: ${ok} measured, ${results.rows.length - ok} skipped (reasons in the table and report)`,
      `results: ${resultsPath}`,
      `report:  ${reportPath}`,
      chartFiles.length > 0
        ? `charts:  ${chartDir} (${chartFiles.length} files)`
        : 'charts:  none (--charts none)',
      `wall time: ${((Date.now() - started) / 1000).toFixed(1)} s`,
    ].join('\n')}\n`,
  );
}

async function commandRender(argv: string[]): Promise<void> {
  const args = checkArgs('render', renderArgsSchema, tokenize('render', argv).values);
  const results = readResultsFile(resolve(args.results));
  const outDir = writableDirectory(resolve(args.out ?? dirname(resolve(args.results))), '--out');
  const { chartFiles, reportPath } = await renderOutputs(
    results,
    outDir,
    args.charts ?? parseCharts(undefined),
  );
  const figures = terminalFigures(results);
  process.stdout.write(
    `${terminalTable(results)}\n\n${figures ? `${figures}\n\n` : ''}report: ${reportPath}\ncharts: ${chartFiles.length} files in ${join(outDir, 'charts')}\n`,
  );
}

async function commandCompare(argv: string[]): Promise<void> {
  const [oldPath, newPath] = tokenize('compare', argv).positionals as [string, string];
  const newer = readResultsFile(resolve(newPath));
  const comparison = compareResults(readResultsFile(resolve(oldPath)), newer);
  process.stdout.write(`${formatComparison(comparison, oldPath, newPath)}\n`);
  const figures = terminalFigures(newer);
  if (figures) process.stdout.write(`\n${newPath}: ${figures}\n`);
}

async function commandDocs(argv: string[]): Promise<void> {
  const args = checkArgs('docs', docsArgsSchema, tokenize('docs', argv).values);
  const resultsPath = resolve(args.results);
  const results = readResultsFile(resultsPath);
  const benchmarks = benchmarksDirectory();
  const docsDir = writableDirectory(
    resolve(args.docs ?? (benchmarks ? join(dirname(benchmarks), 'docs') : 'docs')),
    '--docs',
  );
  const formats = args.charts ?? parseCharts(undefined);
  const chartDir = join(docsDir, 'charts');
  await writeAttentionWeightsFigure(chartDir, formats);
  const outcome = await rewriteDocs(results, resultsPath, docsDir, chartDir, formats);
  for (const line of outcome) process.stdout.write(`${line}\n`);
}

async function commandWeights(argv: string[]): Promise<void> {
  const args = checkArgs('weights', weightsArgsSchema, tokenize('weights', argv).values);
  const benchmarks = benchmarksDirectory();
  const outDir = writableDirectory(
    resolve(args.out ?? (benchmarks ? join(dirname(benchmarks), 'docs', 'charts') : '.')),
    '--out',
  );
  const files = await writeAttentionWeightsFigure(outDir, args.charts ?? parseCharts(undefined));
  process.stdout.write(`${files.join('\n')}\n`);
}

function commandSuites(argv: string[]): void {
  tokenize('suites', argv);
  const suites = listSuites();
  if (suites.length === 0) throw new SuiteError(`no suites found in ${suitesDirectory()}`);
  process.stdout.write(`${formatSuiteList(suites)}\n`);
}

const HANDLERS: Record<Command, (argv: string[]) => Promise<void> | void> = {
  run: commandRun,
  render: commandRender,
  compare: commandCompare,
  docs: commandDocs,
  weights: commandWeights,
  suites: commandSuites,
};

function isCommand(word: string | undefined): word is Command {
  return (COMMANDS as readonly string[]).includes(word ?? '');
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [first, ...rest] = argv;
  try {
    if (isCommand(first)) await HANDLERS[first](rest);
    else if (first === undefined || first.startsWith('-')) await commandRun(argv);
    else
      throw new UsageError(
        `unknown command '${first}'; accepted: ${COMMANDS.join(', ')}, or run options alone`,
      );
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof SuiteError) {
      process.stderr.write(`attnkit-bench: ${oneLine(error.message)} (see attnkit-bench --help)\n`);
      return 2;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`attnkit-bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
