/**
 * Timing with tinybench. The sample count adapts to the case: the validating call already
 * measured one call, so the plan asks for about `budgetMs` of samples, at least `minSamples`
 * and at most `maxSamples`; a large case gets few samples, a small one many, and the quick run
 * stays short. Warm-up is on (the validating call also warmed caches and JIT).
 */
import { Bench, type Task } from 'tinybench';
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

function benchFor(plan: TimingPlan, samples: number): Bench {
  // time: 0 → sequential mode runs exactly `iterations` samples (tinybench stops when both limits are met).
  return new Bench({
    iterations: samples,
    time: 0,
    warmup: plan.warmupSamples > 0,
    warmupIterations: plan.warmupSamples,
    warmupTime: 0,
    throws: true,
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
