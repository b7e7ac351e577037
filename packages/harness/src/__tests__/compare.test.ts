import { describe, expect, it } from 'vitest';
import { compareResults, formatComparison } from '../compare.js';
import { makeResults, makeRow, timedRow } from './fixtures.js';

describe('--compare', () => {
  const before = makeResults([
    timedRow('dense', 64, 1, 10),
    timedRow('flash', 64, 1, 4),
    timedRow('dense', 128, 1, 40),
  ]);
  const after = makeResults([
    timedRow('dense', 64, 1, 5),
    timedRow('flash', 64, 1, 8),
    makeRow({ label: 'dense', n: 128, threads: 1, status: 'skipped', reason: 'budget' }),
    timedRow('flash', 128, 1, 12),
  ]);

  it('matches rows by id and reports new/old time ratios', () => {
    const comparison = compareResults(before, after);
    const ratios = Object.fromEntries(comparison.rows.map((row) => [row.id, row.timeRatio]));
    expect(ratios).toEqual({ 'toy/N=64|dense|t1': 0.5, 'toy/N=64|flash|t1': 2 });
    // Same FLOPs on both sides: the GFLOP/s ratio is the inverse of the time ratio.
    expect(comparison.rows[0]?.gflopsRatio).toBeCloseTo(2, 12);
    expect(comparison.geometricMeanTimeRatio).toBeCloseTo(1, 12);
    expect(comparison.onlyOld).toEqual(['toy/N=128|dense|t1']);
    expect(comparison.onlyNew).toEqual(['toy/N=128|flash|t1']);
  });

  it('prints a table with the ratios', () => {
    const text = formatComparison(compareResults(before, after), 'old.json', 'new.json');
    expect(text).toContain('toy/N=64|flash|t1');
    expect(text).toContain('2.000');
    expect(text).toContain('only in old.json: 1 row');
    expect(text).toContain('only in new.json: 1 row');
  });

  it('says so when nothing matches', () => {
    expect(formatComparison(compareResults(before, makeResults([])), 'a', 'b')).toContain(
      'no measured rows in common',
    );
  });
});
