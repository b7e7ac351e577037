/**
 * Timing with tinybench. The sample count adapts to the case: the validating call already
 * measured one call, so the plan asks for about `budgetMs` of samples, at least `minSamples`
 * and at most `maxSamples`; a large case gets few samples, a small one many, and the quick run
 * stays short. Warm-up is on (the validating call also warmed caches and JIT).
 */
import { Bench, medianAbsoluteDeviation, type Task } from 'tinybench';
import { gflopsPerSecond } from './flops.js';
import { finiteOrNull, type Timing } from './results.js';

export interface TimingPlan {
  readonly budgetMs: number;
  readonly minSamples: number;
  readonly maxSamples: number;
  readonly warmupSamples: number;
}

export function plannedSamples(plan: TimingPlan, firstCallMs: number): number {
  const fit = Math.floor(plan.budgetMs / Math.max(firstCallMs, 1e-3));
  return Math.max(plan.minSamples, Math.min(plan.maxSamples, fit));
}

function summarise(task: Task, flops: number): Timing {
  const result = task.result;
  if (result.state === 'errored') throw result.error;
  if (result.state !== 'completed' && result.state !== 'aborted-with-statistics') {
    throw new Error(`tinybench task ended in state '${result.state}'`);
  }
  const latency = result.latency;
  return {
    medianMs: latency.p50,
    madMs: latency.mad,
    meanMs: latency.mean,
    minMs: latency.min,
    maxMs: latency.max,
    p75Ms: latency.p75,
    rmePercent: finiteOrNull(latency.rme),
    samples: latency.samplesCount,
    gflops: gflopsPerSecond(flops, latency.p50),
  };
}

function benchFor(plan: TimingPlan, samples: number, warmup = true, retainSamples = false): Bench {
  // time: 0 → sequential mode runs exactly `iterations` samples (tinybench stops when both limits are met).
  return new Bench({
    iterations: samples,
    time: 0,
    warmup: warmup && plan.warmupSamples > 0,
    warmupIterations: plan.warmupSamples,
    warmupTime: 0,
    throws: true,
    retainSamples,
  });
}

/** Rounds of timeSyncInterleaved: each call's samples come from this many separate stretches of the run. */
export const INTERLEAVED_ROUNDS = 5;

/** Quantile q of sorted samples, interpolated between neighbours (tinybench's rule). */
function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const lower = sorted[low] ?? Number.NaN;
  return at === low ? lower : lower + (at - low) * ((sorted[low + 1] ?? lower) - lower);
}

/**
 * Times calls side by side, for figures that divide one by another (the same cache at 1 and 2
 * threads): the samples are taken in INTERLEAVED_ROUNDS rounds, each one tinybench run of every call
 * in turn (the order turned by one each round, warm-up in the first round only), so a machine whose
 * speed drifts during the run (a memory system shared with other guests, a boost clock) weighs on
 * each call alike and their ratio stays fair. Every call gets plannedSamples(plan, the slowest first
 * call) samples, rounded up to whole rounds; its statistics are over all its rounds' samples, with
 * tinybench's median, p75 and MAD rules (rmePercent is null: tinybench's confidence interval is per
 * run, and these samples come from several).
 */
export function timeSyncInterleaved(
  calls: readonly { readonly fn: () => unknown; readonly flops: number }[],
  plan: TimingPlan,
  firstCallMs: number,
): Timing[] {
  const samples = plannedSamples(plan, firstCallMs);
  const rounds = Math.min(INTERLEAVED_ROUNDS, samples);
  const perRound = Math.ceil(samples / rounds);
  const taken: number[][] = calls.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const bench = benchFor(plan, perRound, round === 0, true);
    for (let k = 0; k < calls.length; k++) {
      const index = (k + round) % calls.length;
      bench.add(String(index), calls[index]!.fn);
    }
    for (const task of bench.runSync()) {
      const result = task.result;
      if (result.state === 'errored') throw result.error;
      if (result.state !== 'completed' || !result.latency.samples) {
        throw new Error(`tinybench task ended in state '${result.state}' without its samples`);
      }
      taken[Number(task.name)]!.push(...result.latency.samples);
    }
  }
  return taken.map((values, index) => {
    const sorted = Float64Array.from(values).sort();
    const list = Array.from(sorted);
    const median = quantile(list, 0.5);
    return {
      medianMs: median,
      // sorted above, and never empty (at least one round of one sample)
      madMs: medianAbsoluteDeviation(list as unknown as Parameters<typeof medianAbsoluteDeviation>[0]),
      meanMs: list.reduce((sum, value) => sum + value, 0) / list.length,
      minMs: list[0] ?? Number.NaN,
      maxMs: list.at(-1) ?? Number.NaN,
      p75Ms: quantile(list, 0.75),
      rmePercent: null,
      samples: list.length,
      gflops: gflopsPerSecond(calls[index]!.flops, median),
    };
  });
}

/** Times a synchronous call. */
export function timeSync(fn: () => unknown, plan: TimingPlan, firstCallMs: number, flops: number): Timing {
  const bench = benchFor(plan, plannedSamples(plan, firstCallMs));
  bench.add('call', fn);
  const [task] = bench.runSync();
  if (!task) throw new Error('tinybench returned no task');
  return summarise(task, flops);
}

/** Times an asynchronous call (peers: onnxruntime's session.run is async). */
export async function timeAsync(
  fn: () => Promise<unknown>,
  plan: TimingPlan,
  firstCallMs: number,
  flops: number,
): Promise<Timing> {
  const bench = benchFor(plan, plannedSamples(plan, firstCallMs));
  bench.add('call', fn);
  const [task] = await bench.run();
  if (!task) throw new Error('tinybench returned no task');
  return summarise(task, flops);
}
