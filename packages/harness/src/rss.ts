/**
 * Reading a call's peak memory from the process's RSS. getrusage's maxrss is the peak over the
 * whole life of the process and never goes down, so it only describes the call when the call
 * raised it. When it did not (an earlier transient — imports, input creation, a GC — peaked
 * higher), the RSS right after the call is used instead: arena growth, the output and the call's
 * garbage are all still resident then, so it is a lower bound of the call's peak, and says so.
 */
export type PeakMethod = 'maxrss' | 'rss-after';

export interface RssReading {
  /** Current resident set, bytes. */
  readonly rss: number;
  /** The process's peak resident set so far, bytes (maxRSS is in KiB). */
  readonly maxRss: number;
}

export function readRss(): RssReading {
  return { rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 };
}

export interface CallPeak {
  readonly baselineBytes: number;
  /** The call's peak above the baseline. */
  readonly peakBytes: number;
  /** How far the process's earlier peak already stood above the baseline. */
  readonly floorBytes: number;
  readonly method: PeakMethod;
}

/** The call's peak from readings taken just before and just after it. */
export function callPeak(before: RssReading, after: RssReading): CallPeak {
  const baselineBytes = before.rss;
  const floorBytes = Math.max(0, before.maxRss - baselineBytes);
  if (after.maxRss > before.maxRss) {
    return { baselineBytes, peakBytes: after.maxRss - baselineBytes, floorBytes, method: 'maxrss' };
  }
  return {
    baselineBytes,
    peakBytes: Math.max(0, after.rss - baselineBytes),
    floorBytes,
    method: 'rss-after',
  };
}
