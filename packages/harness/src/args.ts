/** Command-line parsing helpers of attnkit-bench (kept apart from cli.ts, which runs on import). */
import type { ChartFormat } from './charts.js';

export const HELP = `attnkit-bench — accuracy, time and memory of attention variants against sequence length

Usage
  attnkit-bench [run] [options]           run a suite (default: the quick suite, about 2 minutes)
  attnkit-bench render --results <file>   re-draw charts, report and table from a results file
  attnkit-bench compare <old.json> <new.json>
                                          ratios of median times, row by row
  attnkit-bench docs --results <file> [--docs <dir>]
                                          rewrite the <!-- results:... --> sections of the docs
                                          notes and their charts from a results file
  attnkit-bench weights [--out <dir>]     attention-weights heatmaps (full, causal, window, linear)
  attnkit-bench suites                    list the named suites

Run options
  --suite <name|path>   a suite from benchmarks/suites (name) or a suite JSON file (path)
  --quick               the quick suite (the default when no --suite is given)
  --variants <list>     comma-separated labels or ids, e.g. flash,linear (dense is always kept)
  --threads <list>      thread counts, e.g. 1,2 (default: the suite's)
  --peers <list>        only these peers, e.g. ort-node:mha,tfjs-wasm (default: the suite's)
  --no-peers            skip onnxruntime-node, onnxruntime-web and tfjs-wasm
  --out <dir>           output directory (default: benchmarks/results/runs/<suite>-<time>)
  --charts <list>       svg,png (default), svg, png, or none
  --compare <old.json>  after the run, print time ratios against an earlier results file
  --help                this text

Outputs (printed at the end): results.json (written after every case, atomically),
report.md, charts/*.svg|png, and a table on stdout. Progress goes to stderr.`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export function parseThreads(value: string | undefined): number[] | undefined {
  const list = parseList(value);
  if (!list) return undefined;
  const threads = list.map(Number);
  if (threads.length === 0 || threads.some((t) => !Number.isInteger(t) || t < 1 || t > 64)) {
    throw new UsageError(`--threads: expected integers 1..64 separated by commas, received '${value}'`);
  }
  return threads;
}

export function parseCharts(value: string | undefined): ChartFormat[] {
  if (value === undefined) return ['svg', 'png'];
  if (value === 'none') return [];
  const list = parseList(value) ?? [];
  for (const item of list) {
    if (item !== 'svg' && item !== 'png')
      throw new UsageError(`--charts: expected svg, png or none, received '${item}'`);
  }
  return list as ChartFormat[];
}
