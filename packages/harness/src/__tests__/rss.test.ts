import { describe, expect, it } from 'vitest';
import { callPeak } from '../rss.js';

const MiB = 2 ** 20;

describe('a call’s peak from RSS readings', () => {
  it('uses the process peak when the call raised it', () => {
    const peak = callPeak({ rss: 100 * MiB, maxRss: 104 * MiB }, { rss: 130 * MiB, maxRss: 150 * MiB });
    expect(peak).toEqual({
      baselineBytes: 100 * MiB,
      peakBytes: 50 * MiB,
      floorBytes: 4 * MiB,
      method: 'maxrss',
    });
  });

  it('falls back to the RSS after the call (a lower bound) when an earlier transient peaked higher', () => {
    const peak = callPeak({ rss: 100 * MiB, maxRss: 140 * MiB }, { rss: 112 * MiB, maxRss: 140 * MiB });
    expect(peak).toEqual({
      baselineBytes: 100 * MiB,
      peakBytes: 12 * MiB,
      floorBytes: 40 * MiB,
      method: 'rss-after',
    });
  });

  it('never reports a negative peak', () => {
    expect(
      callPeak({ rss: 100 * MiB, maxRss: 120 * MiB }, { rss: 90 * MiB, maxRss: 120 * MiB }).peakBytes,
    ).toBe(0);
  });
});
