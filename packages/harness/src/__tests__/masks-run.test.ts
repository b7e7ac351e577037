import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { computeFigures } from '../figures.js';
import { attendedPairs } from '../flops.js';
import { Progress } from '../progress.js';
import { specsForGroup } from '../run-context.js';
import { runBenchmarks } from '../runner.js';
import { expandGroup, parseSuite, type SuiteInput } from '../suite.js';

const directory = mkdtempSync(join(tmpdir(), 'attnkit-masks-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const quiet = () => new Progress(0, { write: () => true }, false);

const group = (id: string, mask: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id,
  title: id,
  source: 'tests',
  heads: 2,
  headDim: 16,
  lengths: [128],
  mask,
  peers: false,
  memory: false,
  ...extra,
});

const suiteInput: SuiteInput = {
  name: 'masks-run',
  description: 'the mask-value groups end to end, tiny',
  variants: ['dense', 'flash', 'causal', 'linear'],
  threads: [1],
  backends: ['js'],
  timing: { budgetMs: 5, minSamples: 3, maxSamples: 3, warmupSamples: 0, maxCallMs: 30_000 },
  accuracy: { rowsPerHead: 24 },
  groups: [
    group('causal', { causal: true }, { variants: ['flash'] }),
    group('predicate', { predicate: 'causal' }, { variants: ['flash', 'causal'] }),
    group(
      'documents',
      { causal: true, documents: { equal: 4 } },
      { variants: ['flash'], denseBaseline: false },
    ),
    group('block-sparse', { blockSparse: { density: 0.25, block: 16, seed: 2 } }, { variants: ['flash'] }),
    group('modifiers', { causal: true, alibi: true, softcap: 4, sinks: 1 }, { variants: ['flash'] }),
  ],
  figures: [
    {
      id: 'predicate-causal',
      claim: 'predicate within 1.25× of causal',
      group: 'predicate',
      baseline: 'causal',
      n: 128,
      label: 'flash',
      target: { atMost: 1e9 },
    },
  ],
};

describe('a masks suite, end to end (tiny, js backend)', () => {
  it('checks every row against the oracle with its mask values, times the first call of a predicate, computes the figures', async () => {
    const suite = parseSuite(suiteInput);
    const { results } = await runBenchmarks({
      suite,
      suitePath: null,
      quick: false,
      peers: false,
      outDir: join(directory, 'run'),
      charts: [],
      argv: [],
      progress: quiet(),
    });
    const byId = new Map(results.rows.map((row) => [row.id, row]));
    // the exact rows pass the 2× rule against core's oracle on the slice: with a mask the oracle did
    // not get (or got unsliced), the masked rows would be far off
    for (const id of [
      'causal/N=128|flash|t1',
      'predicate/N=128|dense|t1',
      'predicate/N=128|flash|t1',
      'documents/N=128|flash|t1',
      'block-sparse/N=128|dense|t1',
      'block-sparse/N=128|flash|t1',
      'modifiers/N=128|dense|t1',
      'modifiers/N=128|flash|t1',
    ]) {
      const row = byId.get(id);
      expect(row?.status, `${id}: ${row?.reason}`).toBe('ok');
      expect(row?.accuracy?.rule, id).toMatchObject({ name: '2x-naive-float32', pass: true });
      expect(row?.accuracy?.vsOracle.maxAbs ?? 1, id).toBeLessThan(1e-5);
    }
    // the causal variant refuses a non-causal call: skipped with its reason, as any refusal
    expect(byId.get('predicate/N=128|causal|t1')).toMatchObject({
      status: 'skipped',
      reason: expect.stringContaining(
        'not supported: causal: the causal variant computes causal attention only',
      ),
    });
    // denseBaseline: false leaves dense out of that group
    expect(results.rows.filter((row) => row.group === 'documents').map((row) => row.label)).toEqual([
      'flash',
    ]);
    // the FLOP model counts visible pairs: 4 causal documents of 32, a quarter of the blocks
    const [documents] = expandGroup(suite.groups[2]!);
    expect(byId.get('documents/N=128|flash|t1')?.pairs).toBe(2 * 4 * ((32 * 33) / 2));
    expect(byId.get('documents/N=128|flash|t1')?.pairs).toBe(
      attendedPairs(documents!.shape, documents!.mask),
    );
    expect(byId.get('block-sparse/N=128|flash|t1')?.pairs).toBe((2 * 128 * 128) / 4);
    // only predicate rows carry the first call incl. mask compilation
    for (const id of ['predicate/N=128|dense|t1', 'predicate/N=128|flash|t1']) {
      const cold = byId.get(id)?.firstCall;
      expect(cold?.ms, id).toBeGreaterThan(0);
      expect(cold?.compileMs, id).toBeGreaterThan(0);
    }
    expect(results.rows.filter((row) => row.firstCall !== undefined)).toHaveLength(2);
    const [figure] = computeFigures(results);
    const measured = byId.get('predicate/N=128|flash|t1')?.time?.medianMs ?? Number.NaN;
    const baseline = byId.get('causal/N=128|flash|t1')?.time?.medianMs ?? Number.NaN;
    expect(figure).toMatchObject({ label: 'flash', threads: 1, status: 'met' });
    expect(figure?.ratio).toBe(measured / baseline);
  });

  it('keeps dense in a group unless it says denseBaseline: false (which needs its own variants)', () => {
    const suite = parseSuite(suiteInput);
    const specs = ['dense', 'flash'].map((label) => ({
      label,
      variant: label as 'dense' | 'flash',
      options: {},
    }));
    expect(specsForGroup({ specs }, suite.groups[0]!).map((spec) => spec.label)).toEqual(['dense', 'flash']);
    expect(specsForGroup({ specs }, suite.groups[2]!).map((spec) => spec.label)).toEqual(['flash']);
    expect(() =>
      parseSuite({ ...suiteInput, groups: [group('g', {}, { denseBaseline: false })] }, 'd.json'),
    ).toThrow('groups.0.denseBaseline: denseBaseline: false needs the variants this group runs instead');
  });
});
