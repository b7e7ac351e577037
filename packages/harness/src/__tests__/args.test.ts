import { describe, expect, it } from 'vitest';
import { parseCharts, parseList, parseThreads, UsageError } from '../args.js';
import { plannedSamples } from '../timing.js';

describe('command-line values', () => {
  it('parses thread lists and refuses nonsense', () => {
    expect(parseThreads('1,2')).toEqual([1, 2]);
    expect(parseThreads(undefined)).toBeUndefined();
    expect(() => parseThreads('0')).toThrow(UsageError);
    expect(() => parseThreads('two')).toThrow('--threads');
  });

  it('parses chart formats', () => {
    expect(parseCharts(undefined)).toEqual(['svg']); // PNG on demand only
    expect(parseCharts('svg,png')).toEqual(['svg', 'png']);
    expect(parseCharts('svg')).toEqual(['svg']);
    expect(parseCharts('none')).toEqual([]);
    expect(() => parseCharts('gif')).toThrow("received 'gif'");
  });

  it('splits lists and drops empty items', () => {
    expect(parseList('flash, linear,,')).toEqual(['flash', 'linear']);
  });
});

describe('sample planning', () => {
  const plan = { budgetMs: 400, minSamples: 3, maxSamples: 50, warmupSamples: 1 };
  it('fits the budget between the minimum and the maximum', () => {
    expect(plannedSamples(plan, 20)).toBe(20);
    expect(plannedSamples(plan, 1000)).toBe(3);
    expect(plannedSamples(plan, 0.001)).toBe(50);
    expect(plannedSamples(plan, 0)).toBe(50);
  });
});
