/**
 * '@attnkit/bench-utils': the timing helpers the packages' own tinybench scripts share. A private
 * workspace package, never published, so no shipped entry point carries a benchmark dependency; the
 * harness keeps its own timing (timing.ts) and cannot host these, since it depends on the variants
 * whose scripts use them. Timings on a shared machine are noisy: compare as ratios inside one run,
 * which is what pairedTimes is for.
 */
import { Bench } from 'tinybench';

/** Wall and CPU time of one benchmarked call. */
export interface CallTiming {
  /** Mean and fastest wall milliseconds per call. On a loaded machine the fastest is the less noisy. */
  readonly mean: number;
  readonly min: number;
  /** Fastest call in CPU milliseconds of this process (user + system): what time slicing by other
   *  processes cannot inflate. Meaningful for one-thread calls only (workers' CPU adds up). */
  readonly cpuMin: number;
}

/** Milliseconds per call of `fn` (tinybench, warm-up on unless warmupIterations is 0), wall and CPU. */
export async function timeCall(
  name: string,
  fn: () => void,
  iterations: number,
  warmupIterations = 1,
): Promise<CallTiming> {
  const bench = new Bench({
    name,
    iterations,
    time: 0,
    warmup: warmupIterations > 0,
    warmupIterations,
    warmupTime: 0,
  });
  let cpuMin = Number.POSITIVE_INFINITY;
  bench.add(name, () => {
    const start = process.cpuUsage();
    fn();
    const used = process.cpuUsage(start);
    cpuMin = Math.min(cpuMin, (used.user + used.system) / 1000);
  });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') {
    throw new Error(`${name}: ${result.state === 'errored' ? String(result.error) : result.state}`);
  }
  return { mean: result.latency.mean, min: result.latency.min, cpuMin };
}

/** Mean milliseconds per call of `fn` (tinybench, warm-up on unless warmupIterations is 0). */
export async function meanMs(
  name: string,
  fn: () => void,
  iterations: number,
  warmupIterations = 1,
): Promise<number> {
  return (await timeCall(name, fn, iterations, warmupIterations)).mean;
}

/**
 * A bench script's command line: `--backend=wasm|js` and the section names to run (none: all).
 */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)): {
  backend: 'wasm' | 'js' | undefined;
  wanted: (section: string) => boolean;
} {
  const backend = argv.find((a) => a.startsWith('--backend='))?.slice('--backend='.length);
  if (backend !== undefined && backend !== 'wasm' && backend !== 'js') {
    throw new Error(`--backend: expected wasm or js, received ${JSON.stringify(backend)}`);
  }
  const sections = argv.filter((a) => !a.startsWith('--'));
  return { backend, wanted: (section) => sections.length === 0 || sections.includes(section) };
}

/**
 * Times `a` and `b` in alternating rounds (a then b, then b then a, …) so that load drifting on a
 * shared machine hits both alike; returns the median time of each and the median per-round ratio a / b.
 */
export async function pairedTimes(
  a: () => void,
  b: () => void,
  rounds: number,
): Promise<{ aMs: number; bMs: number; ratio: number }> {
  a();
  b(); // warm-up
  const aTimes: number[] = [];
  const bTimes: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const first = round % 2 === 0;
    const x = await meanMs(first ? 'a' : 'b', first ? a : b, 1, 0);
    const y = await meanMs(first ? 'b' : 'a', first ? b : a, 1, 0);
    const [aMs, bMs] = first ? [x, y] : [y, x];
    aTimes.push(aMs);
    bTimes.push(bMs);
    ratios.push(aMs / bMs);
  }
  return { aMs: median(aTimes), bMs: median(bTimes), ratio: median(ratios) };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One aligned result line: label, then value. */
export function benchLine(label: string, value: string): void {
  console.log(`${label.padEnd(60)} ${value}`);
}
