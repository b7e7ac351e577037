/** Synthetic results documents for the tests (schema-valid, with known numbers). */
import type { ResultRow, Results } from '../results.js';
import { RESULTS_SCHEMA_VERSION } from '../results.js';
import { parseSuite, type SuiteInput } from '../suite.js';

export const tinySuiteInput: SuiteInput = {
  name: 'tiny',
  description: 'test suite',
  variants: ['dense', 'flash'],
  threads: [1, 2],
  groups: [{ id: 'toy', title: 'Toy', source: 'tests', heads: 2, headDim: 8, lengths: [64, 128, 256] }],
};

export function makeRow(
  overrides: Partial<ResultRow> & Pick<ResultRow, 'label' | 'n' | 'threads'>,
): ResultRow {
  const caseId = overrides.caseId ?? `toy/N=${overrides.n}`;
  const shape = {
    batch: 1,
    qHeads: 2,
    kvHeads: 2,
    qLength: overrides.n,
    kvLength: overrides.n,
    headDim: 8,
    valueDim: 8,
  };
  const flops = 2 * 16 * 2 * overrides.n * overrides.n;
  return {
    id: `${caseId}|${overrides.label}|t${overrides.threads}`,
    caseId,
    group: 'toy',
    kind: 'attention',
    shape,
    mask: { causal: false },
    implementation: 'attnkit',
    variant: overrides.label,
    exact: true,
    status: 'ok',
    flops,
    pairs: 2 * overrides.n * overrides.n,
    ...overrides,
  };
}

/** A timed row whose median is `ms` (GFLOP/s consistent with it). */
export function timedRow(label: string, n: number, threads: number, ms: number, error = 1e-7): ResultRow {
  const row = makeRow({ label, n, threads });
  return {
    ...row,
    time: {
      medianMs: ms,
      madMs: ms / 20,
      meanMs: ms,
      minMs: ms * 0.9,
      maxMs: ms * 1.2,
      p75Ms: ms * 1.05,
      rmePercent: 1,
      samples: 10,
      gflops: row.flops / (ms * 1e-3) / 1e9,
    },
    accuracy: {
      reference: 'float64-oracle',
      rowsPerHead: 16,
      elements: 256,
      vsOracle: { maxAbs: error, maxRel: null, rms: error / 3, failing: 0, worstIndex: 3 },
      naiveFloat32: { maxAbs: 2e-7, maxRel: 1e-5, rms: 5e-8, failing: 0, worstIndex: 1 },
      rule: { name: '2x-naive-float32', bound: 4e-7, pass: error <= 4e-7 },
    },
    memory: {
      workspaceBytes: 1024 * n,
      estimatedBytes: 4096 * n,
      measured: { status: 'ok', peakBytes: 2048 * n, baselineBytes: 50e6, floorBytes: 0 },
    },
  };
}

export function makeResults(rows: ResultRow[], suiteInput: SuiteInput = tinySuiteInput): Results {
  const suite = parseSuite(suiteInput);
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    tool: 'attnkit-bench',
    runId: 'tiny-test',
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:01:00.000Z',
    complete: true,
    machine: {
      os: 'Linux',
      platform: 'linux',
      release: '6',
      arch: 'x64',
      cpuModel: 'test cpu',
      cores: 2,
      memoryBytes: 8e9,
      loadAverage: [0.5, 0.5, 0.5],
    },
    node: 'v20.0.0',
    packages: { '@attnkit/core': '0.1.0', 'onnxruntime-node': null },
    backend: 'js',
    git: { commit: 'abc123', dirty: false },
    options: {
      suite: suite.name,
      suitePath: null,
      quick: false,
      variants: ['dense', 'flash'],
      threads: [1, 2],
      peers: false,
      charts: ['svg'],
      argv: [],
    },
    suite,
    rows,
    wallTimeMs: 60_000,
  };
}
