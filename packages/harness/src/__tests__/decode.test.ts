import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { measureBandwidth, probeInChild } from '../bandwidth.js';
import { decodeOracle, makeDecodeInputs } from '../decode-inputs.js';
import {
  decodeImplementations,
  kvReadBytes,
  probeBandwidth,
  visibleSpan,
  withProbeFraction,
} from '../decode-model.js';
import { renderSection, runInstruction } from '../docs.js';
import { computeFigures } from '../figures.js';
import { Progress } from '../progress.js';
import type { BandwidthProbe, ResultRow } from '../results.js';
import { runBenchmarks } from '../runner.js';
import { expandGroup, loadSuite, parseSuite, type SuiteInput } from '../suite.js';
import { makeResults, makeRow } from './fixtures.js';

const directory = mkdtempSync(join(tmpdir(), 'attnkit-decode-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const quiet = () => new Progress(0, { write: () => true }, false);

const llama = { heads: 32, kvHeads: 8, headDim: 128 };

function decodeSuite(groups: Record<string, unknown>[], extra: Partial<SuiteInput> = {}): SuiteInput {
  return {
    name: 'decode-test',
    description: 'decode groups, tiny',
    variants: ['dense'],
    threads: [1],
    backends: ['js'],
    peers: ['ort-node:gqa'],
    timing: { budgetMs: 5, minSamples: 3, maxSamples: 3, warmupSamples: 0, maxCallMs: 30_000 },
    memory: { enabled: false, budgetBytes: 2 ** 31, timeoutMs: 60_000 },
    bandwidthProbe: { bytes: 8 * 2 ** 20, repeats: 2, timeoutMs: 60_000 },
    groups: groups as SuiteInput['groups'],
    ...extra,
  };
}

describe('decode case kind', () => {
  it('expands a batch of mixed lengths into one case: batch = sequences, one query, Lk = the longest', () => {
    const suite = parseSuite(
      decodeSuite([
        {
          id: 'mixed',
          title: 'mixed',
          source: 'tests',
          kind: 'decode',
          ...llama,
          lengths: [300],
          decode: { sequences: [17, 300, 64], window: 40, perSequence: true, storage: ['float32', 'int8'] },
        },
      ]),
    );
    const [benchCase, ...rest] = expandGroup(suite.groups[0]!);
    expect(rest).toEqual([]);
    expect(benchCase!.id).toBe('mixed/N=300');
    expect(benchCase!.kind).toBe('decode');
    expect(benchCase!.shape).toEqual({
      batch: 3,
      qHeads: 32,
      kvHeads: 8,
      qLength: 1,
      kvLength: 300,
      headDim: 128,
      valueDim: 128,
    });
    expect(benchCase!.mask).toEqual({ causal: true, window: [40, 0] });
    expect(benchCase!.decode?.lengths).toEqual([17, 300, 64]);
    expect(decodeImplementations(benchCase!.decode!).map((i) => i.baseLabel)).toEqual([
      'paged:float32',
      'paged-each:float32',
      'paged:int8',
      'paged-each:int8',
    ]);
  });

  it('gives every sequence N positions with batch, and refuses what a decode group cannot mean', () => {
    const base = { id: 'd', title: 'd', source: 'tests', kind: 'decode', heads: 4, kvHeads: 2, headDim: 8 };
    const cases = expandGroup(parseSuite(decodeSuite([{ ...base, batch: 2, lengths: [8, 16] }])).groups[0]!);
    expect(cases.map((c) => c.decode?.lengths)).toEqual([
      [8, 8],
      [16, 16],
    ]);
    const refused = (group: Record<string, unknown>) => () =>
      parseSuite(decodeSuite([{ ...base, ...group }]));
    expect(refused({ lengths: [8], queryLength: 1 })).toThrow(
      /queryLength: decode groups attend one new token/,
    );
    expect(refused({ lengths: [8], mask: { causal: true } })).toThrow(/mask: decode groups are causal/);
    expect(refused({ lengths: [8, 16], decode: { sequences: [4, 16] } })).toThrow(
      /lengths: with decode.sequences the group's lengths must be \[16\]/,
    );
    expect(() =>
      parseSuite(
        decodeSuite([{ id: 'a', title: 'a', source: 't', heads: 2, headDim: 8, lengths: [8], decode: {} }]),
      ),
    ).toThrow(/decode: decode is for kind "decode" groups only/);
  });

  it('ships a decode suite that parses, with the issue figures over its own groups', () => {
    const { suite } = loadSuite('decode');
    expect(suite.groups.every((group) => group.kind === 'decode')).toBe(true);
    expect(suite.figures?.map((figure) => figure.id)).toEqual([
      'decode-32k-bandwidth',
      'decode-32k-threads',
      'decode-32k-float16',
      'decode-32k-int8',
      'decode-batch8-bytes',
      'decode-vs-ort-8k',
      'decode-vs-ort-32k',
    ]);
    const full = expandGroup(suite.groups.find((group) => group.id === 'decode-full')!);
    expect(full.map((c) => c.n)).toEqual([1024, 2048, 4096, 8192, 16384, 32768]);
  });
});

describe('KV bytes model', () => {
  const shape = { kvHeads: 8, headDim: 128, valueDim: 128 };
  it('is visible positions × Hkv × (Dk + Dv) × the element size, plus two float32 scales per position and head under int8', () => {
    expect(kvReadBytes({ ...shape, lengths: [32768], storage: 'float32' })).toBe(32768 * 8 * 256 * 4);
    expect(kvReadBytes({ ...shape, lengths: [32768], storage: 'float16' })).toBe(32768 * 8 * 256 * 2);
    expect(kvReadBytes({ ...shape, lengths: [32768], storage: 'int8' })).toBe(32768 * 8 * (256 + 8));
    // 268 435 456 bytes = 256 MiB for one 32K float32 sequence of Llama 3 8B's attention
    expect(kvReadBytes({ ...shape, lengths: [32768], storage: 'float32' })).toBe(256 * 2 ** 20);
  });

  it('counts a window as its own position plus window before it, and sums a batch', () => {
    expect(visibleSpan(32768, 4096)).toBe(4097);
    expect(visibleSpan(1024, 4096)).toBe(1024);
    expect(kvReadBytes({ ...shape, lengths: [1024, 32768], window: 4096, storage: 'float32' })).toBe(
      (1024 + 4097) * 8 * 256 * 4,
    );
    expect(kvReadBytes({ ...shape, lengths: [100, 200, 300], storage: 'float16' })).toBe(600 * 8 * 256 * 2);
  });

  it('takes the best probe of the run at the thread count, over backends', () => {
    const probe = (backend: 'wasm' | 'native', threads: number, gb: number | null): BandwidthProbe => ({
      threads,
      backend,
      status: gb === null ? 'skipped' : 'ok',
      bytes: 1,
      gbPerSecond: gb,
      samples: gb === null ? [] : [gb],
    });
    const probes = [probe('wasm', 1, 20), probe('native', 1, 25), probe('native', 2, null)];
    expect(probeBandwidth(probes, 1)).toBe(25);
    expect(probeBandwidth(probes, 2)).toBeNull();
    expect(probeBandwidth(undefined, 1)).toBeNull();
  });
});

describe('the float64 step oracle', () => {
  it('is the softmax-weighted mean of the visible values (one key: its value exactly)', () => {
    const shape = { batch: 2, qHeads: 4, kvHeads: 2, qLength: 1, kvLength: 9, headDim: 8, valueDim: 8 };
    const inputs = makeDecodeInputs(shape, [1, 9], 4, 7);
    const out = decodeOracle(shape, inputs, [1, 9], undefined);
    // sequence 0 holds one position: every query head of kv head g returns that value row
    for (let h = 0; h < 4; h++) {
      const g = Math.floor(h / 2);
      const value = inputs.chunks[0]![0]!.v.data.subarray(g * 8, g * 8 + 8);
      for (let d = 0; d < 8; d++) expect(out[h * 8 + d]).toBe(value[d]);
    }
    // window 0 on sequence 1: only its last position (chunk 2, the one position of it)
    const windowed = decodeOracle(shape, inputs, [1, 9], 0);
    const last = inputs.chunks[1]![2]!.v.data;
    for (let d = 0; d < 8; d++) expect(windowed[(4 + 3) * 8 + d]).toBe(last[8 + d]);
  });
});

describe('streaming bandwidth probe', () => {
  it('streams a buffer on 1 and 2 threads and returns a positive GB/s per thread count', () => {
    const probes = measureBandwidth('wasm', [1, 2], { bytes: 16 * 2 ** 20, repeats: 2 });
    expect(probes.map((p) => p.threads)).toEqual([1, 2]);
    for (const probe of probes) {
      expect(probe.status, probe.reason).toBe('ok');
      expect(probe.bytes).toBe(16 * 2 ** 20);
      expect(probe.samples).toHaveLength(2);
      expect(probe.gbPerSecond).toBe(Math.max(...probe.samples));
      expect(probe.gbPerSecond!).toBeGreaterThan(0);
    }
  });

  it("runs in a child process too (the runner's way), and an unavailable backend is a skipped probe", async () => {
    const [probe] = await probeInChild(
      { backends: ['js'], threads: [1], options: { bytes: 2 ** 22, repeats: 1 } },
      60_000,
    );
    expect(probe?.status, probe?.reason).toBe('ok');
    expect(probe!.gbPerSecond!).toBeGreaterThan(0);
  });
});

function decodeRow(
  label: string,
  group: string,
  n: number,
  threads: number,
  ms: number,
  kvBytes: number,
  backend?: 'wasm' | 'native',
): ResultRow {
  const row = makeRow({ label, n, threads, caseId: `${group}/N=${n}` });
  return {
    ...row,
    group,
    kind: 'decode',
    ...(backend ? { backend } : {}),
    time: {
      medianMs: ms,
      madMs: ms / 50,
      meanMs: ms,
      minMs: ms * 0.98,
      maxMs: ms * 1.1,
      p75Ms: ms,
      rmePercent: 1,
      samples: 10,
      gflops: 1,
    },
    decode: {
      storage: 'float32',
      lengths: [n],
      window: null,
      calls: 'one',
      kvBytes,
      tokensPerSecond: 1000 / ms,
      gbPerSecond: kvBytes / (ms * 1e6),
      probeFraction: null,
    },
  };
}

describe('the probe taken twice', () => {
  const probe = (threads: number, gb: number | null, taken: 'before' | 'after'): BandwidthProbe => ({
    threads,
    backend: 'native',
    status: gb === null ? 'skipped' : 'ok',
    bytes: 1,
    gbPerSecond: gb,
    samples: gb === null ? [] : [gb],
    taken,
  });

  it("a row's probe fraction is over the best probe at its thread count, before or after the cases", () => {
    const row = decodeRow('paged:float32@native', 'decode-full', 32768, 1, 20, 256 * 2 ** 20, 'native');
    const rate = row.decode!.gbPerSecond!;
    const probes = [
      probe(1, 25, 'before'),
      probe(2, 30, 'before'),
      probe(1, 40, 'after'),
      probe(1, null, 'after'),
    ];
    expect(withProbeFraction(row, probes).decode!.probeFraction).toBeCloseTo(rate / 40, 12);
    expect(withProbeFraction(row, probes.slice(0, 2)).decode!.probeFraction).toBeCloseTo(rate / 25, 12);
    // no probe at the row's thread count: null, never a stale fraction
    expect(withProbeFraction({ ...row, threads: 3 }, probes).decode!.probeFraction).toBeNull();
    const timeless = { ...row, decode: { ...row.decode!, gbPerSecond: null } };
    expect(withProbeFraction(timeless, probes).decode!.probeFraction).toBeNull();
  });

  it('the report says when each probe was taken', () => {
    const results = {
      ...makeResults([], loadSuite('decode').suite),
      bandwidth: [probe(1, 25, 'before'), probe(1, 40, 'after')],
    };
    expect(
      renderSection('bandwidth', { suite: 'decode' }, { results, resultsLabel: 'decode.json', charts: [] }),
    ).toBe(
      [
        '- native t=1 (before the decode cases): 25.0 GB/s (best of 1; 1 B streamed)',
        '- native t=1 (after the decode cases): 40.0 GB/s (best of 1; 1 B streamed)',
      ].join('\n'),
    );
  });
});

describe('decode figures on a fabricated run', () => {
  const suite = loadSuite('decode').suite;
  const mib256 = 256 * 2 ** 20;
  const rows: ResultRow[] = [
    decodeRow('paged:float32@native', 'decode-full', 32768, 1, 20, mib256, 'native'),
    decodeRow('paged:float32@native', 'decode-full', 32768, 2, 11, mib256, 'native'),
    decodeRow('paged:float16@native', 'decode-full', 32768, 1, 10, mib256 / 2, 'native'),
    {
      ...makeRow({ label: 'paged:int8@native', n: 32768, threads: 1, caseId: 'decode-full/N=32768' }),
      group: 'decode-full',
      kind: 'decode',
      backend: 'native',
      status: 'skipped',
      reason: 'createPagedKVCache refused: storage',
    },
    decodeRow('ort-node:gqa', 'decode-full', 32768, 1, 40, mib256),
    decodeRow('paged:float32@native', 'decode-batch8', 32768, 1, 50, 2 * mib256, 'native'),
  ];
  const results = {
    ...makeResults(rows, suite),
    bandwidth: [
      {
        threads: 1,
        backend: 'native' as const,
        status: 'ok' as const,
        bytes: 1,
        gbPerSecond: 20,
        samples: [20],
      },
    ],
  };
  const values = computeFigures(results);
  const of = (id: string, threads?: number) =>
    values.filter((value) => value.figure.id === id && (threads === undefined || value.threads === threads));

  it("probe fraction: the row's GB/s over the best probe at its thread count", () => {
    const [value, ...rest] = of('decode-32k-bandwidth');
    expect(rest).toEqual([]);
    // 268 435 456 bytes in 20 ms = 13.42 GB/s, over 20 GB/s
    expect(value!.ratio).toBeCloseTo(mib256 / 20e6 / 20, 12);
    expect(value!.status).toBe('met');
  });

  it('threads: the 2-thread row against the 1-thread row of the same label', () => {
    const [value] = of('decode-32k-threads');
    expect(value!.threads).toBe(2);
    expect(value!.ratio).toBeCloseTo(11 / 20, 12);
    expect(value!.status).toBe('met'); // 1.82× ≥ 1.7×
    expect(value!.detail).toBe('1.82× faster ≥ 1.7×');
  });

  it('storage: float16 over float32 met at 2×, int8 missing with the skip reason', () => {
    expect(of('decode-32k-float16', 1)[0]!.status).toBe('met');
    const [int8] = of('decode-32k-int8');
    expect(int8!.status).toBe('missing');
    expect(int8!.detail).toContain('createPagedKVCache refused: storage');
  });

  it("batch: the batch median over its KV bytes at the 32K row's GB/s", () => {
    const [value] = of('decode-batch8-bytes');
    // 512 MiB at 13.42 GB/s = 40 ms expected; 50 ms measured: 1.25 > 1.15
    expect(value!.baselineMs).toBeCloseTo(40, 9);
    expect(value!.ratio).toBeCloseTo(1.25, 9);
    expect(value!.status).toBe('not met');
  });

  it('docs sections: the figures, a decode group and the probe for decode results; the command to run for others', () => {
    const context = { results, resultsLabel: 'decode.json', charts: [] };
    const figures = renderSection('figures', { suite: 'decode' }, context);
    expect(figures).toContain('decode-batch8-bytes');
    expect(figures).toContain('1.82× faster ≥ 1.7×');
    const table = renderSection('decode', { group: 'decode-full', suite: 'decode' }, context);
    expect(table.split('\n')[0]).toMatch(
      /\| case +\| implementation +\| thr \| per token \| tok\/s \| KV GB\/s \| % probe \|/,
    );
    expect(table).toMatch(/\| +13\.4 \|/); // 256 MiB in 20 ms
    expect(renderSection('bandwidth', { suite: 'decode' }, context)).toBe(
      '- native t=1: 20.0 GB/s (best of 1; 1 B streamed)',
    );
    const other = { ...context, results: { ...results, options: { ...results.options, suite: 'docs' } } };
    for (const name of ['figures', 'decode', 'bandwidth']) {
      expect(renderSection(name, { group: 'decode-full', suite: 'decode' }, other)).toBe(
        runInstruction('decode'),
      );
    }
  });

  it('peer: a backend-less peer row is the baseline of every backend; 8K is missing from this run', () => {
    const [value] = of('decode-vs-ort-32k');
    expect(value!.ratio).toBeCloseTo(0.5, 12);
    expect(value!.status).toBe('met');
    expect(of('decode-vs-ort-8k')[0]!.status).toBe('missing');
  });
});

describe('decode through runBenchmarks (js backend, tiny shapes)', () => {
  it('times attend on the paged and contiguous caches, with the bytes model, the probe and the oracle', async () => {
    const suite = parseSuite(
      decodeSuite(
        [
          {
            id: 'one',
            title: 'one',
            source: 'tests',
            kind: 'decode',
            heads: 4,
            kvHeads: 2,
            headDim: 16,
            lengths: [40],
            peers: false,
            decode: { decoders: ['paged', 'kv-cache'], storage: ['float32', 'float16'], prefillChunk: 16 },
          },
          {
            id: 'mixed',
            title: 'mixed',
            source: 'tests',
            kind: 'decode',
            heads: 4,
            kvHeads: 2,
            headDim: 16,
            lengths: [70],
            peers: false,
            decode: { sequences: [5, 70, 33], window: 20, perSequence: true, prefillChunk: 16 },
          },
        ],
        { threads: [1, 2] },
      ),
    );
    const { results } = await runBenchmarks({
      suite,
      suitePath: null,
      quick: false,
      peers: false,
      outDir: join(directory, 'smoke'),
      charts: [],
      argv: [],
      progress: quiet(),
    });
    // the probe before the decode cases and again after them; rows are over the best of both
    expect(results.bandwidth?.map((p) => [p.backend, p.threads, p.status, p.taken])).toEqual([
      ['js', 1, 'ok', 'before'],
      ['js', 2, 'ok', 'before'],
      ['js', 1, 'ok', 'after'],
      ['js', 2, 'ok', 'after'],
    ]);
    const row = (id: string) => results.rows.find((r) => r.id === id);
    // rows in thread order, a skipped thread count (js refuses threads) after the timed one before it
    const order = results.rows.map((r) => r.id);
    expect(order.indexOf('one/N=40|paged:float32|t1')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('one/N=40|paged:float32|t2')).toBe(order.indexOf('one/N=40|paged:float32|t1') + 1);
    const paged = row('one/N=40|paged:float32|t1')!;
    expect(paged.status, paged.reason).toBe('ok');
    expect(paged.decode!.kvBytes).toBe(40 * 2 * 32 * 4);
    expect(paged.decode!.gbPerSecond).toBeCloseTo(paged.decode!.kvBytes / (paged.time!.medianMs * 1e6), 9);
    expect(paged.decode!.tokensPerSecond).toBeCloseTo(1000 / paged.time!.medianMs, 9);
    const probe = probeBandwidth(results.bandwidth, 1)!;
    expect(paged.decode!.probeFraction).toBeCloseTo(paged.decode!.gbPerSecond! / probe, 9);
    expect(paged.accuracy!.vsOracle.maxAbs!).toBeLessThan(1e-5);
    expect(row('one/N=40|kv-cache:float32|t1')!.accuracy!.vsOracle.maxAbs!).toBeLessThan(1e-5);
    // float16 and threads: ok where the cache takes them, else a row naming the refused option
    for (const id of ['one/N=40|paged:float16|t1', 'one/N=40|paged:float32|t2']) {
      const r = row(id)!;
      if (r.status === 'skipped') expect(r.reason).toMatch(/storage|threads/);
      else expect(r.accuracy!.vsOracle.maxAbs!).toBeLessThan(1e-2);
    }
    const batch = row('mixed/N=70|paged:float32|t1')!;
    const each = row('mixed/N=70|paged-each:float32|t1')!;
    expect(batch.decode!.kvBytes).toBe((5 + 21 + 21) * 2 * 32 * 4);
    expect(batch.decode!.calls).toBe('one');
    expect(each.decode!.calls).toBe('per-sequence');
    expect(batch.accuracy!.vsOracle.maxAbs!).toBeLessThan(1e-5);
    expect(each.accuracy!.vsOracle.maxAbs!).toBeLessThan(1e-5);
  });

  it('runs the GroupQueryAttention peer with a past KV on a small shape, checked by the same oracle', async () => {
    const suite = parseSuite(
      decodeSuite([
        {
          id: 'peer',
          title: 'peer',
          source: 'tests',
          kind: 'decode',
          heads: 4,
          kvHeads: 2,
          headDim: 16,
          lengths: [48],
          decode: { sequences: [9, 48], window: 16, prefillChunk: 16 },
        },
      ]),
    );
    const { results } = await runBenchmarks({
      suite,
      suitePath: null,
      quick: false,
      peers: true,
      outDir: join(directory, 'peer'),
      charts: [],
      argv: [],
      progress: quiet(),
    });
    const peer = results.rows.find((r) => r.label === 'ort-node:gqa')!;
    if (peer.status === 'skipped') {
      expect(peer.reason).toMatch(/peer not installed/);
      return;
    }
    expect(peer.accuracy!.vsOracle.maxAbs!).toBeLessThan(1e-5);
    expect(peer.decode!.kvBytes).toBe((9 + 17) * 2 * 32 * 4);
  });
});
