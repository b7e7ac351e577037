import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Progress } from '../progress.js';
import { runBenchmarks } from '../runner.js';
import { parseSuite } from '../suite.js';

const directory = mkdtempSync(join(tmpdir(), 'attnkit-never-aborts-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const quiet = () => new Progress(0, { write: () => true }, false);

/**
 * An ordinary case, then one whose q alone has 2^45 elements (128 TiB: no machine allocates it),
 * then another ordinary case. Node 20 and 22 refuse the length itself; Node 24's V8 accepts
 * typed arrays that long and fails the allocation instead.
 */
function suiteWithBadCase(budgetBytes: number) {
  const ordinary = { source: 'tests', heads: 2, headDim: 8, lengths: [16] };
  return parseSuite({
    name: 'bad-case',
    description: 'a case that cannot be allocated between two that can',
    variants: ['naive', 'dense'],
    threads: [1],
    // One backend: the rows keep plain labels (the backend axis has its own test in skipped.test.ts).
    backends: ['wasm'],
    peers: [],
    timing: { budgetMs: 5, minSamples: 2, maxSamples: 3, warmupSamples: 1, maxCallMs: 10_000 },
    accuracy: { rowsPerHead: 4 },
    memory: { enabled: false, budgetBytes, timeoutMs: 60_000 },
    groups: [
      { id: 'before', title: 'Before', ...ordinary },
      { id: 'huge', title: 'Huge', source: 'tests', heads: 2 ** 12, headDim: 2 ** 16, lengths: [2 ** 17] },
      { id: 'after', title: 'After', ...ordinary },
    ],
  });
}

async function run(budgetBytes: number, name: string) {
  return runBenchmarks({
    suite: suiteWithBadCase(budgetBytes),
    suitePath: null,
    quick: false,
    peers: false,
    outDir: join(directory, name),
    charts: [],
    argv: [],
    progress: quiet(),
  });
}

describe('a case that cannot run does not abort the run', () => {
  it('records an input allocation failure as skipped rows and measures the cases around it', async () => {
    // A budget far above the case: nothing refuses it before allocation, so allocation itself fails.
    const { results } = await run(2 ** 52, 'allocation');
    expect(results.complete).toBe(true);
    expect(results.rows.map((row) => `${row.id} ${row.status}`)).toEqual([
      'before/N=16|naive|t1 ok',
      'before/N=16|dense|t1 ok',
      'huge/N=131072|naive|t1 skipped',
      'huge/N=131072|dense|t1 skipped',
      'after/N=16|naive|t1 ok',
      'after/N=16|dense|t1 ok',
    ]);
    for (const row of results.rows.filter((r) => r.group === 'huge')) {
      expect([
        'allocating inputs failed: RangeError: Invalid typed array length: 35184372088832',
        'allocating inputs failed: RangeError: Array buffer allocation failed',
      ]).toContain(row.reason);
    }
  });

  it('refuses a case over the memory budget before allocating its inputs', async () => {
    const { results } = await run(2 ** 31, 'budget');
    const huge = results.rows.filter((row) => row.group === 'huge');
    expect(huge).toHaveLength(2);
    for (const row of huge) {
      expect(row.status).toBe('skipped');
      // q, k, v and out are 2^45 + 2·2^45 + 2^45 floats = 512 TiB; twice that with the arena copies.
      expect(row.reason).toBe(
        'estimated at least 1024 TiB (q, k, v, out and their arena copies) exceeds the memory budget 2.0 GiB',
      );
      expect(row.memory).toEqual({ workspaceBytes: null, estimatedBytes: 2 * 4 * 4 * 2 ** 45 });
    }
    expect(results.rows.filter((row) => row.status === 'ok')).toHaveLength(4);
  });
});
