#!/usr/bin/env node
/**
 * attnkit-bench: accuracy, time and memory of the attnkit variants (and peers) against sequence
 * length, with results JSON, a markdown report and charts. Run with no arguments for the quick
 * default; see `attnkit-bench --help`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HELP, parseCharts, parseList, parseThreads, UsageError } from './args.js';
import { type ChartFormat, writeCharts } from './charts.js';
import { compareResults, formatComparison } from './compare.js';
import { rewriteDocs } from './docs.js';
import { Progress } from './progress.js';
import { markdownReport, terminalTable } from './report.js';
import { parseResults, type Results } from './results.js';
import { defaultRunId, runBenchmarks } from './runner.js';
import { findSuitesDirectory, listSuiteNames, loadSuite, SuiteError } from './suite.js';
import { writeAttentionWeightsFigure } from './weights-figure.js';

function readResultsFile(path: string): Results {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${path}: ${(error as Error).message}`);
  }
  return parseResults(json, path);
}

/** benchmarks/ of the monorepo (next to suites/), or null outside it. */
function benchmarksDirectory(): string | null {
  const suites = findSuitesDirectory();
  return suites ? dirname(suites) : null;
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
  const { values } = parseArgs({
    args: argv,
    options: {
      suite: { type: 'string' },
      quick: { type: 'boolean', default: false },
      variants: { type: 'string' },
      threads: { type: 'string' },
      peers: { type: 'string' },
      'no-peers': { type: 'boolean', default: false },
      out: { type: 'string' },
      charts: { type: 'string' },
      compare: { type: 'string' },
    },
    allowPositionals: false,
  });
  if (values.quick && values.suite) throw new UsageError('give --suite or --quick, not both');
  const quick = values.suite === undefined;
  const { suite, path: suitePath } = loadSuite(values.suite ?? 'quick');
  const charts = parseCharts(values.charts);
  const threads = parseThreads(values.threads);
  const compareWith = values.compare ? readResultsFile(resolve(values.compare)) : null;
  const runId = defaultRunId(suite.name);
  const benchmarks = benchmarksDirectory();
  const outDir = resolve(
    values.out ??
      (benchmarks
        ? join(benchmarks, 'results', 'runs', runId)
        : join(process.cwd(), 'attnkit-bench-runs', runId)),
  );
  const started = Date.now();
  const progress = new Progress(0);
  progress.note(`attnkit-bench: suite '${suite.name}'${quick ? ' (quick default)' : ''} → ${outDir}`);
  const variants = parseList(values.variants);
  const peerFilter = parseList(values.peers);
  const { results, resultsPath } = await runBenchmarks({
    suite,
    suitePath,
    quick,
    ...(variants ? { variants } : {}),
    ...(threads ? { threads } : {}),
    peers: !values['no-peers'],
    ...(peerFilter ? { peerFilter } : {}),
    outDir,
    charts,
    argv,
    progress,
  });
  process.stderr.write('rendering report and charts...\n');
  const { chartFiles, chartDir, reportPath } = await renderOutputs(results, outDir, charts);
  process.stdout.write(`${terminalTable(results)}\n\n`);
  if (compareWith)
    process.stdout.write(
      `${formatComparison(compareResults(compareWith, results), values.compare ?? 'old', 'this run')}\n\n`,
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
  const { values } = parseArgs({
    args: argv,
    options: { results: { type: 'string' }, out: { type: 'string' }, charts: { type: 'string' } },
  });
  if (!values.results) throw new UsageError('render: --results <file> is required');
  const results = readResultsFile(resolve(values.results));
  const outDir = resolve(values.out ?? dirname(resolve(values.results)));
  const { chartFiles, reportPath } = await renderOutputs(results, outDir, parseCharts(values.charts));
  process.stdout.write(
    `${terminalTable(results)}\n\nreport: ${reportPath}\ncharts: ${chartFiles.length} files in ${join(outDir, 'charts')}\n`,
  );
}

async function commandCompare(argv: string[]): Promise<void> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  const [oldPath, newPath] = positionals;
  if (!oldPath || !newPath) throw new UsageError('compare: expected <old.json> <new.json>');
  const comparison = compareResults(readResultsFile(resolve(oldPath)), readResultsFile(resolve(newPath)));
  process.stdout.write(`${formatComparison(comparison, oldPath, newPath)}\n`);
}

async function commandDocs(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { results: { type: 'string' }, docs: { type: 'string' }, charts: { type: 'string' } },
  });
  if (!values.results) throw new UsageError('docs: --results <file> is required');
  const resultsPath = resolve(values.results);
  const results = readResultsFile(resultsPath);
  const benchmarks = benchmarksDirectory();
  const docsDir = resolve(values.docs ?? (benchmarks ? join(dirname(benchmarks), 'docs') : 'docs'));
  const formats = parseCharts(values.charts ?? 'svg,png');
  const chartDir = join(docsDir, 'charts');
  await writeAttentionWeightsFigure(chartDir, formats);
  const outcome = await rewriteDocs(results, resultsPath, docsDir, chartDir, formats);
  for (const line of outcome) process.stdout.write(`${line}\n`);
}

async function commandWeights(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: 'string' }, charts: { type: 'string' } },
  });
  const benchmarks = benchmarksDirectory();
  const outDir = resolve(values.out ?? (benchmarks ? join(dirname(benchmarks), 'docs', 'charts') : '.'));
  const files = await writeAttentionWeightsFigure(outDir, parseCharts(values.charts));
  process.stdout.write(`${files.join('\n')}\n`);
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [first, ...rest] = argv;
  try {
    switch (first) {
      case 'render':
        await commandRender(rest);
        break;
      case 'compare':
        await commandCompare(rest);
        break;
      case 'docs':
        await commandDocs(rest);
        break;
      case 'weights':
        await commandWeights(rest);
        break;
      case 'suites':
        process.stdout.write(`${listSuiteNames().join('\n')}\n`);
        break;
      case 'run':
        await commandRun(rest);
        break;
      default:
        await commandRun(argv);
    }
    return 0;
  } catch (error) {
    const err = error as Error & { code?: string };
    if (err instanceof UsageError || err instanceof SuiteError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`attnkit-bench: ${err.message}\nRun attnkit-bench --help for usage.\n`);
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
