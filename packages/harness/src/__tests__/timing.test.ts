/**
 * timeSyncInterleaved: the samples of calls timed side by side come in alternating rounds, each
 * call gets the planned count (rounded up to whole rounds), warm-up runs in the first round only,
 * and the statistics describe the union of the rounds' samples.
 */
import { describe, expect, it } from 'vitest';
import { INTERLEAVED_ROUNDS, plannedSamples, timeSyncInterleaved } from '../timing.js';

const PLAN = { budgetMs: 1000, minSamples: 12, maxSamples: 12, warmupSamples: 2 };

describe('timeSyncInterleaved', () => {
  it('takes each call’s samples in alternating rounds and summarises all of them', () => {
    const trace: string[] = [];
    let sink = 0;
    const work = (name: string, size: number) => () => {
      trace.push(name);
      for (let i = 0; i < size; i++) sink += Math.sqrt(i);
    };
    const timings = timeSyncInterleaved(
      [
        { fn: work('a', 2000), flops: 1e6 },
        { fn: work('b', 8000), flops: 2e6 },
      ],
      PLAN,
      0.01,
    );
    expect(sink).toBeGreaterThan(0);
    const samples = plannedSamples(PLAN, 0.01);
    const perRound = Math.ceil(samples / INTERLEAVED_ROUNDS);
    expect(timings).toHaveLength(2);
    for (const time of timings) {
      expect(time.samples).toBe(perRound * INTERLEAVED_ROUNDS);
      expect(time.minMs).toBeLessThanOrEqual(time.medianMs);
      expect(time.medianMs).toBeLessThanOrEqual(time.p75Ms);
      expect(time.p75Ms).toBeLessThanOrEqual(time.maxMs);
      expect(time.madMs).toBeGreaterThanOrEqual(0);
      expect(time.rmePercent).toBeNull();
    }
    expect(timings[1]!.gflops).toBeCloseTo(2e6 / (timings[1]!.medianMs * 1e6), 12);
    // the calls as they ran, consecutive calls of one function merged: timed one after the other,
    // a's calls would all come before b's (2 runs); in rounds whose order turns, every round boundary
    // where the next call to start is the same function merges, which leaves at least rounds + 1 runs
    const runs: string[] = [];
    for (const name of trace) if (runs.at(-1) !== name) runs.push(name);
    expect(runs[0]).toBe('a');
    expect(runs.length).toBeGreaterThanOrEqual(INTERLEAVED_ROUNDS + 1);
    const count = (name: string) => trace.filter((entry) => entry === name).length;
    // warm-up (2) once, then every round's samples (tinybench may add its own calibration calls)
    expect(count('a')).toBeGreaterThanOrEqual(2 + perRound * INTERLEAVED_ROUNDS);
    expect(count('b')).toBeGreaterThanOrEqual(2 + perRound * INTERLEAVED_ROUNDS);
  });
});
