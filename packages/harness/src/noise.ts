/**
 * When two medians of a run differ: only by more than their measured spread. Shared by the docs
 * sections (docs.ts) and the suite figures (figures.ts).
 */

/** Both medians of one N and their spreads (timingSpread). */
export interface TimedPair {
  readonly n: number;
  readonly baselineMs: number;
  readonly baselineSpreadMs: number;
  readonly variantMs: number;
  readonly variantSpreadMs: number;
}

/**
 * How far a median may sit from the true cost: the larger of its median absolute deviation and
 * its distance to the fastest sample. The MAD of the 3 samples a slow case gets says little
 * (dense at N = 4096: ± 2.4 ms around 1.203 s, fastest 1.197 s); the fastest sample bounds what
 * the call costs when nothing else runs.
 */
export function timingSpread(time: { medianMs: number; madMs: number; minMs: number }): number {
  return Math.max(time.madMs, time.medianMs - time.minMs);
}

export type Verdict = 'faster' | 'slower' | 'within noise';

/**
 * Whether the variant is faster or slower than the baseline at one N, or within noise: a
 * difference counts only when it exceeds the measured spread of both medians (the sum of their
 * timingSpread), so a 1.01× ratio on a shared machine is no claim.
 */
export function timingVerdict(pair: TimedPair): Verdict {
  const spread = pair.baselineSpreadMs + pair.variantSpreadMs;
  const difference = pair.baselineMs - pair.variantMs;
  if (difference > spread) return 'faster';
  if (-difference > spread) return 'slower';
  return 'within noise';
}
