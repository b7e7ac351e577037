import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild } from '../child.js';
import { peerPrecheck } from '../peers/peers.js';
import { Progress } from '../progress.js';
import { PEERS, VARIANT_IDS, VARIANTS } from '../registry.js';
import { parseResults } from '../results.js';
import { runBenchmarks, selectVariants } from '../runner.js';
import { parseSuite } from '../suite.js';

const directory = mkdtempSync(join(tmpdir(), 'attnkit-skipped-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const quiet = () => new Progress(0, { write: () => true }, false);

describe('the registry', () => {
  it('holds, for every id a suite may name, an AttentionVariant of that name', () => {
    expect(VARIANT_IDS).toEqual(['naive', 'dense', 'causal', 'sliding-window', 'linear', 'flash']);
    for (const id of VARIANT_IDS) {
      const { variant } = VARIANTS[id];
      expect(variant.name, id).toBe(id);
      expect(typeof variant.exact, id).toBe('boolean');
      for (const method of ['notSupportedReasons', 'forward', 'workspaceBytes'] as const)
        expect(typeof variant[method], `${id}.${method}`).toBe('function');
    }
  });

  it('lists linear with its own float64 oracle and the peers by id', () => {
    expect(typeof VARIANTS.linear.ownOracle).toBe('function');
    expect(Object.keys(PEERS)).toEqual([
      'ort-node:mha',
      'ort-node:gqa',
      'ort-node:matmul',
      'ort-web:mha',
      'ort-web:matmul',
      'tfjs-wasm',
    ]);
  });

  it('dense is always kept as the baseline', () => {
    const suite = parseSuite({
      name: 's',
      description: 'd',
      variants: ['flash', 'linear'],
      groups: [{ id: 'g', title: 'G', source: 's', heads: 1, headDim: 4, lengths: [8] }],
    });
    const { specs, notes } = selectVariants(suite, ['flash', 'nope']);
    expect(specs.map((spec) => spec.label)).toEqual(['dense', 'flash']);
    expect(notes.join('\n')).toContain('nope');
    expect(notes.join('\n')).toContain('dense added');
  });
});

describe('peers that are missing or cannot run become reasons', () => {
  const shape = { batch: 1, qHeads: 2, kvHeads: 2, qLength: 8, kvLength: 8, headDim: 4, valueDim: 4 };
  it('names the optional package that is not installed', () => {
    const reason = peerPrecheck(
      'ort-node:mha',
      shape,
      { causal: false },
      2 ** 30,
      (name) => name !== 'onnxruntime-node',
    );
    expect(reason).toBe('peer not installed: onnxruntime-node (optional dependency)');
  });

  it('says which cases a graph does not express', () => {
    expect(peerPrecheck('ort-web:mha', shape, { causal: true }, 2 ** 30, () => true)).toMatch(
      /unmasked cases/,
    );
    expect(
      peerPrecheck('tfjs-wasm', { ...shape, kvHeads: 1 }, { causal: false }, 2 ** 30, () => true),
    ).toMatch(/GQA/);
    expect(peerPrecheck('tfjs-wasm', shape, { causal: false }, 2 ** 30, () => true)).toBeNull();
  });

  it('gives causal and windowed cases a fused onnxruntime-node peer, and says which it cannot take', () => {
    const d8 = { ...shape, headDim: 8, valueDim: 8 };
    const yes = () => true;
    // Causal MultiHeadAttention (unidirectional); no window, no Lq ≠ Lk.
    expect(peerPrecheck('ort-node:mha', shape, { causal: true }, 2 ** 30, yes)).toBeNull();
    expect(peerPrecheck('ort-node:mha', shape, { causal: true, window: [2, 0] }, 2 ** 30, yes)).toBe(
      'not supported: MultiHeadAttention has no window; GroupQueryAttention covers causal windows',
    );
    expect(peerPrecheck('ort-node:mha', { ...shape, qLength: 4 }, { causal: true }, 2 ** 30, yes)).toMatch(
      /only for Lq = Lk/,
    );
    // GroupQueryAttention: causal, causal windows and GQA heads; never unmasked, D % 8 = 0.
    expect(peerPrecheck('ort-node:gqa', d8, { causal: true }, 2 ** 30, yes)).toBeNull();
    expect(peerPrecheck('ort-node:gqa', d8, { causal: true, window: [3, 0] }, 2 ** 30, yes)).toBeNull();
    expect(peerPrecheck('ort-node:gqa', { ...d8, kvHeads: 1 }, { causal: true }, 2 ** 30, yes)).toBeNull();
    expect(peerPrecheck('ort-node:gqa', d8, { causal: false }, 2 ** 30, yes)).toBe(
      'not supported: GroupQueryAttention is always causal; this case is not',
    );
    expect(peerPrecheck('ort-node:gqa', shape, { causal: true }, 2 ** 30, yes)).toBe(
      "not supported: onnxruntime's CPU GroupQueryAttention needs D % 8 = 0 (D = 4)",
    );
  });

  it('refuses a case over the memory budget before starting it', () => {
    expect(peerPrecheck('ort-node:matmul', shape, { causal: false }, 100, () => true)).toMatch(
      /exceeds the memory budget/,
    );
  });
});

describe('child processes that crash or hang become reasons', () => {
  it('reports a crash with the error line', async () => {
    const script = join(directory, 'crash.mjs');
    writeFileSync(script, "process.on('message', () => { throw new Error('boom in child'); });\n");
    const outcome = await runChild(script, {}, 10_000);
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.reason).toMatch(
      /child process crashed \(exited with code 1\): .*boom in child/,
    );
  });

  it('kills a child that exceeds its timeout', async () => {
    const script = join(directory, 'hang.mjs');
    writeFileSync(script, "process.on('message', () => { setInterval(() => {}, 1000); });\n");
    const outcome = await runChild(script, {}, 300);
    expect(outcome).toEqual({ ok: false, reason: 'timed out after 0.3 s (child killed)' });
  });

  it('reports a missing child script', async () => {
    const outcome = await runChild(join(directory, 'missing.js'), {}, 1000);
    expect(!outcome.ok && outcome.reason).toMatch(/is missing/);
  });
});

describe('a small run keeps every row', () => {
  it('records each (implementation, threads) as ok or skipped with a reason, on disk as it goes', async () => {
    const suite = parseSuite({
      name: 'unit',
      description: 'unit-test run',
      variants: ['naive', 'dense', 'flash', 'causal'],
      threads: [1, 2],
      backends: ['wasm'],
      peers: [],
      timing: { budgetMs: 5, minSamples: 2, maxSamples: 3, warmupSamples: 1, maxCallMs: 10_000 },
      accuracy: { rowsPerHead: 4 },
      memory: { enabled: true, budgetBytes: 64 * 2 ** 20, timeoutMs: 60_000 },
      groups: [
        { id: 'tiny', title: 'Tiny', source: 'tests', heads: 2, headDim: 8, lengths: [16] },
        {
          id: 'huge',
          title: 'Huge',
          source: 'tests',
          heads: 1,
          headDim: 8,
          lengths: [1 << 18],
          memory: false,
        },
      ],
    });
    const outDir = join(directory, 'run');
    const { results, resultsPath } = await runBenchmarks({
      suite,
      suitePath: null,
      quick: false,
      peers: false,
      outDir,
      charts: [],
      argv: [],
      progress: quiet(),
    });
    expect(parseResults(JSON.parse(readFileSync(resultsPath, 'utf8')))).toEqual(results);
    expect(results.complete).toBe(true);
    // 2 cases × 4 implementations × 2 thread counts: nothing dropped.
    expect(results.rows).toHaveLength(16);
    for (const row of results.rows) {
      if (row.status === 'skipped') expect(row.reason, row.id).toBeTruthy();
    }
    const naive2 = results.rows.find((row) => row.id === 'tiny/N=16|naive|t2');
    expect(naive2).toMatchObject({
      status: 'skipped',
      reason: 'not supported: naive is a single-threaded reference loop',
    });
    const naive1 = results.rows.find((row) => row.id === 'tiny/N=16|naive|t1');
    expect(naive1?.status).toBe('ok');
    expect(naive1?.accuracy?.rule).toEqual({ name: 'reference' });
    expect(naive1?.memory?.measured?.status).toBe('ok');
    // N = 2^18: two copies of q, k, v and out alone (64 MiB) exceed the 64 MiB budget, so nothing
    // runs: the harness's budget check, or the variant's own refusal (dense's score budget, causal's mask).
    const huge = results.rows.filter((r) => r.group === 'huge');
    for (const row of huge) expect(row.status, row.id).toBe('skipped');
    expect(huge.find((row) => row.id.endsWith('|flash|t1'))?.reason).toMatch(
      /exceeds the memory budget 64\.0 MiB/,
    );
    expect(huge.find((row) => row.id.endsWith('|naive|t1'))?.reason).toMatch(
      /exceeds the memory budget 64\.0 MiB/,
    );
  });
});
