import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  expandGroup,
  formatSuiteList,
  listSuites,
  loadSuite,
  maskOptions,
  parseSuite,
  SuiteError,
  type SuiteInput,
  seedFromId,
  sequenceLengths,
  suitesDirectory,
} from '../suite.js';
import { tinySuiteInput } from './fixtures.js';

function withGroup(group: Record<string, unknown>): SuiteInput {
  return { ...tinySuiteInput, groups: [group as SuiteInput['groups'][number]] };
}

const baseGroup = { id: 'g', title: 'G', source: 'tests', heads: 4, headDim: 16, lengths: [64] };

describe('suite schema', () => {
  it('accepts a minimal suite and fills the defaults', () => {
    const suite = parseSuite(tinySuiteInput);
    expect(suite.threads).toEqual([1, 2]);
    expect(suite.timing.minSamples).toBe(3);
    expect(suite.memory.enabled).toBe(true);
    expect(suite.groups[0]?.mask).toEqual({ causal: false });
    expect(suite.groups[0]?.kind).toBe('attention');
  });

  it('validates every named suite the package ships (suites/, next to dist/)', () => {
    const directory = suitesDirectory();
    expect(directory).toBe(fileURLToPath(new URL('../../suites/', import.meta.url)));
    const files = readdirSync(directory).filter((file) => file.endsWith('.json'));
    expect(files).toContain('quick.json');
    for (const file of files) {
      const { suite } = loadSuite(join(directory, file));
      expect(suite.name, file).toBe(file.replace(/\.json$/, ''));
      for (const group of suite.groups)
        expect(expandGroup(group).length, `${file} ${group.id}`).toBeGreaterThan(0);
    }
  });

  it.each([
    [{ ...baseGroup, lengths: undefined }, 'lengths', 'give exactly one of lengths or pow2'],
    [{ ...baseGroup, pow2: { from: 64, to: 128 } }, 'lengths', 'give exactly one of lengths or pow2'],
    [{ ...baseGroup, lengths: undefined, pow2: { from: 96, to: 128 } }, 'pow2.from', 'power of two'],
    [{ ...baseGroup, kvHeads: 3 }, 'kvHeads', 'multiple of kvHeads'],
    [
      { ...baseGroup, lengths: [64, 96], fixedTotalTokens: 128 },
      'fixedTotalTokens',
      'not a multiple of N=96',
    ],
    [{ ...baseGroup, id: 'Bad Id' }, 'id', 'lowercase'],
    [{ ...baseGroup, mask: { causal: true, window: [-1, 0] } }, 'mask.window', ''],
    [{ ...baseGroup, unknownKey: 1 }, '', 'unknownKey'],
  ])('rejects a malformed group (%#) naming the path', (group, path, message) => {
    const attempt = () => parseSuite(withGroup(group), 'test.json');
    expect(attempt).toThrow(SuiteError);
    expect(attempt).toThrow(`groups.0${path ? `.${path}` : ''}`);
    if (message) expect(attempt).toThrow(message);
  });

  it('rejects duplicate variant labels and group ids', () => {
    expect(() => parseSuite({ ...tinySuiteInput, variants: ['dense', 'dense'] })).toThrow(
      'duplicate variant label dense',
    );
    expect(() => parseSuite({ ...tinySuiteInput, groups: [baseGroup, baseGroup] })).toThrow(
      'duplicate group id g',
    );
  });

  it('rejects an unknown variant or peer id', () => {
    expect(() => parseSuite({ ...tinySuiteInput, variants: ['fast'] as never })).toThrow('variants.0');
    expect(() => parseSuite({ ...tinySuiteInput, peers: ['torch'] as never })).toThrow('peers.0');
  });

  it('lists every shipped suite by name with its description and expected duration', () => {
    const names = readdirSync(suitesDirectory())
      .filter((file) => file.endsWith('.json'))
      .map((file) => file.replace(/\.json$/, ''))
      .sort();
    const suites = listSuites();
    expect(suites.map((suite) => suite.name)).toEqual(names);
    for (const suite of suites) {
      expect(suite.description, suite.name).toBe(loadSuite(suite.name).suite.description);
      expect(suite.duration, suite.name).toMatch(/^about \d+(\.\d+)? (s|min) \((measured|estimate)/);
    }
  });

  it('formats the list as name, duration, then the description wrapped under it', () => {
    const text = formatSuiteList(
      [
        { name: 'a', description: 'one two three four five six', duration: 'about 1 min (measured: 60 s)' },
        { name: 'longer', description: 'short', duration: null },
      ],
      22,
    );
    expect(text).toBe(
      [
        'a       about 1 min (measured: 60 s)',
        '        one two three',
        '        four five six',
        '',
        'longer  duration not stated',
        '        short',
        '',
        'run one with: attnkit-bench --suite <name>',
      ].join('\n'),
    );
  });

  it('names the known suites when one is missing', () => {
    expect(() => loadSuite('no-such-suite')).toThrow(/Known suites: .*quick/);
  });
});

describe('expanding groups into cases', () => {
  it('sweeps powers of two inclusively', () => {
    expect(sequenceLengths({ pow2: { from: 256, to: 4096 } })).toEqual([256, 512, 1024, 2048, 4096]);
  });

  it('derives batch from a fixed token count and names cases by B and N', () => {
    const suite = parseSuite(
      withGroup({ ...baseGroup, lengths: undefined, pow2: { from: 64, to: 256 }, fixedTotalTokens: 1024 }),
    );
    const cases = expandGroup(suite.groups[0]!);
    expect(cases.map((c) => [c.id, c.shape.batch, c.shape.qLength])).toEqual([
      ['g/B=16,N=64', 16, 64],
      ['g/B=8,N=128', 8, 128],
      ['g/B=4,N=256', 4, 256],
    ]);
    // B · N is the fixed total for every case.
    for (const c of cases) expect(c.shape.batch * c.n).toBe(1024);
  });

  it('keeps GQA, value dim and decoding query length', () => {
    const suite = parseSuite(withGroup({ ...baseGroup, heads: 8, kvHeads: 2, valueDim: 32, queryLength: 1 }));
    const [only] = expandGroup(suite.groups[0]!);
    expect(only?.shape).toEqual({
      batch: 1,
      qHeads: 8,
      kvHeads: 2,
      qLength: 1,
      kvLength: 64,
      headDim: 16,
      valueDim: 32,
    });
  });

  it('gives every case a stable seed derived from its id', () => {
    const suite = parseSuite(tinySuiteInput);
    const [a, b] = expandGroup(suite.groups[0]!);
    expect(a?.seed).toBe(seedFromId('toy/N=64'));
    expect(a?.seed).not.toBe(b?.seed);
    expect(seedFromId('toy/N=64')).toBe(seedFromId('toy/N=64'));
  });

  it('maps "inf" window sides to Infinity', () => {
    const shape = { qHeads: 2, qLength: 64, kvLength: 64 };
    expect(maskOptions({ causal: true, window: [128, 'inf'] }, shape)).toEqual({
      causal: true,
      window: [128, Number.POSITIVE_INFINITY],
    });
    expect(maskOptions({ causal: false }, shape)).toEqual({});
  });
});
