/**
 * The docs machinery of docs/masks.md: sections filled from another results file (`results=NAME`),
 * what a missing or broken file prints, the mask pictures (core's maskToString, their SVG), the
 * figures, per-mask costs and the FLOP model's visible-pair count.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttentionMask,
  andMasks,
  blockSparseMask,
  causalMask,
  documentMask,
  globalTokensMask,
  kvLengthMask,
  maskToString,
  notMask,
  orMasks,
  predicateMask,
  prefixLMMask,
  problemForShape,
  visiblePairs,
  windowMask,
} from '@attnkit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { type DocsContext, referencedResults, rewriteDocs, rewriteMarkdown } from '../docs.js';
import { blockSparseLayout } from '../mask-spec.js';
import type { ResultRow } from '../results.js';
import type { SuiteInput } from '../suite.js';
import { makeResults, timedRow } from './fixtures.js';

const group = (id: string, mask: Record<string, unknown> = {}) => ({
  id,
  title: `Title ${id}`,
  source: 'tests',
  heads: 2,
  headDim: 8,
  lengths: [64],
  mask,
});

const masksSuite: SuiteInput = {
  name: 'masks-test',
  description: 'masks note test',
  variants: ['dense', 'flash'],
  threads: [1],
  groups: [group('plain'), group('sparse', { blockSparse: { density: 0.125, block: 8, seed: 1 } })],
  figures: [
    {
      id: 'block-sparse',
      claim: 'a 1/8 layout in at most 1.5/8 of full',
      group: 'sparse',
      baseline: 'plain',
      n: 64,
      label: 'flash',
      target: { atMost: 0.1875 },
    },
  ],
};

/** flash on `groupId` at N = 64 taking `ms`, charged `pairs` of the 2·64·64 (fixtures: B = 1, Hq = 2). */
function row(
  groupId: string,
  ms: number,
  pairs = 2 * 64 * 64,
  mask: ResultRow['mask'] = { causal: false },
): ResultRow {
  const base = timedRow('flash', 64, 1, ms);
  const caseId = `${groupId}/N=64`;
  const flops = 2 * 16 * pairs;
  return {
    ...base,
    id: `${caseId}|flash|t1`,
    caseId,
    group: groupId,
    pairs,
    flops,
    mask,
    time: { ...base.time!, gflops: flops / (ms * 1e-3) / 1e9 },
  };
}

// plain 8 ms, the 1/8 layout 1 ms: ratio 0.125 <= 0.1875
const masksResults = makeResults(
  [
    row('plain', 8),
    row('sparse', 1, (2 * 64 * 64) / 8, {
      causal: false,
      blockSparse: { density: 0.125, block: 8, seed: 1 },
    }),
  ],
  masksSuite,
);
const mainResults = makeResults([timedRow('dense', 64, 1, 1)]);

const squash = (text: string) => text.replace(/ {2,}/g, ' ');

function context(others?: DocsContext['others']): DocsContext {
  return {
    results: mainResults,
    resultsLabel: 'benchmarks/results/docs.json',
    charts: [],
    ...(others ? { others } : {}),
  };
}

const withMasks = context(
  new Map([
    [
      'masks',
      { results: masksResults, resultsLabel: 'benchmarks/results/masks.json', charts: [] } as DocsContext,
    ],
  ]),
);

/** The fenced text block of a rewritten section. */
function fenced(text: string): string {
  const match = /```text\n([\s\S]*?)\n```/.exec(text);
  if (!match) throw new Error(`no text block in:\n${text}`);
  return match[1]!;
}

const section = (marker: string, ctx: DocsContext = context()) =>
  rewriteMarkdown(`<!-- results:${marker} -->\n<!-- /results -->`, ctx);

describe('results=NAME: a section filled from another results file', () => {
  it('reads the named file for that marker and the --results file for the others, idempotently', () => {
    const text = [
      'prose',
      '<!-- results:source-line results=masks -->',
      'stale',
      '<!-- /results -->',
      '<!-- results:source-line -->',
      '<!-- /results -->',
    ].join('\n');
    const once = rewriteMarkdown(text, withMasks);
    expect(once).toContain('Figures from `benchmarks/results/masks.json` (suite `masks-test`;');
    expect(once).toContain('Figures from `benchmarks/results/docs.json` (suite `tiny`;');
    expect(once).not.toContain('stale');
    expect(rewriteMarkdown(once, withMasks)).toBe(once);
    expect(referencedResults([text])).toEqual(['masks']);
  });

  it('prints the reason, not stale figures, when the file was not loaded or the name is not one', () => {
    const stale = '<!-- results:figures results=masks -->\n| stale | 1.0 |\n<!-- /results -->';
    const missing = context(new Map([['masks', { missing: '_No results yet: test._' }]]));
    expect(rewriteMarkdown(stale, missing)).toBe(
      '<!-- results:figures results=masks -->\n_No results yet: test._\n<!-- /results -->',
    );
    expect(rewriteMarkdown(stale, context())).toContain('_results=masks: not loaded');
    expect(section('figures results=../x')).toContain(
      '_results=../x: expected the name of a results file next to `benchmarks/results/docs.json`',
    );
  });
});

describe('attnkit-bench docs with results=NAME', () => {
  const root = mkdtempSync(join(tmpdir(), 'attnkit-docs-masks-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const docs = join(root, 'docs');
  const charts = join(docs, 'charts');
  const resultsDir = join(root, 'benchmarks', 'results');
  const mainPath = join(resultsDir, 'docs.json');
  mkdirSync(charts, { recursive: true });
  mkdirSync(resultsDir, { recursive: true });
  const note = [
    '# Masks',
    '<!-- results:figures results=masks -->',
    '| block-sparse | flash | 0.125 | old figure |',
    '<!-- /results -->',
    '<!-- results:mask-picture kind=causal n=4 results=masks -->',
    '<!-- /results -->',
    '',
  ].join('\n');

  it('says the file does not exist and how to make it, and rewrites the other sections', async () => {
    writeFileSync(join(docs, 'masks.md'), note);
    const log = await rewriteDocs(mainResults, mainPath, docs, charts, ['svg']);
    const text = readFileSync(join(docs, 'masks.md'), 'utf8');
    expect(text).toContain(
      '_No results yet: `benchmarks/results/masks.json` does not exist. To fill this section, run the `masks` suite on a quiet machine (`node packages/harness/dist/cli.js --suite masks --out benchmarks/results/runs/masks`), copy its results.json to `benchmarks/results/masks.json`, then rerun `node packages/harness/dist/cli.js docs --results benchmarks/results/docs.json`._',
    );
    expect(text).not.toContain('old figure');
    // a picture reads no results file: drawn whatever results= says
    expect(fenced(text)).toBe(maskToString(causalMask(), 4, 4));
    expect(log).toContain(
      'warning: results=masks: benchmarks/results/masks.json is missing or unreadable; its sections say so',
    );
  });

  it('says a broken file is not a results file', async () => {
    writeFileSync(join(resultsDir, 'masks.json'), '{"rows": []}');
    await rewriteDocs(mainResults, mainPath, docs, charts, ['svg']);
    expect(readFileSync(join(docs, 'masks.md'), 'utf8')).toContain(
      '_`benchmarks/results/masks.json` is not an attnkit-bench results file (',
    );
    writeFileSync(join(resultsDir, 'masks.json'), '{ not json');
    await rewriteDocs(mainResults, mainPath, docs, charts, ['svg']);
    expect(readFileSync(join(docs, 'masks.md'), 'utf8')).toContain(
      '_`benchmarks/results/masks.json` could not be read (',
    );
  });

  it('fills the sections from the file once it is there; a second run changes nothing', async () => {
    writeFileSync(join(resultsDir, 'masks.json'), JSON.stringify(masksResults));
    await rewriteDocs(mainResults, mainPath, docs, charts, ['svg']);
    const text = readFileSync(join(docs, 'masks.md'), 'utf8');
    expect(squash(text)).toContain(
      '| block-sparse | flash | 1 | 1.000 ms | 8.000 ms | 0.125 | ≤ 0.1875 | met (0.125 ≤ 0.1875) |',
    );
    const again = await rewriteDocs(mainResults, mainPath, docs, charts, ['svg']);
    expect(again).toContain(`unchanged ${join(docs, 'masks.md')}`);
    expect(readFileSync(join(docs, 'masks.md'), 'utf8')).toBe(text);
  });

  it('writes the SVG of a picture with svg=true, its area the visible pairs, and removes pictures no note embeds', async () => {
    writeFileSync(join(charts, 'mask-picture-window-n8.svg'), '<svg/>');
    writeFileSync(
      join(docs, 'pictures.md'),
      '<!-- results:mask-picture kind=documents-causal n=16 svg=true -->\n<!-- /results -->\n',
    );
    const log = await rewriteDocs(mainResults, mainPath, docs, charts, ['svg']);
    const file = 'mask-picture-documents-causal-n16.svg';
    expect(readdirSync(charts).filter((name) => name.startsWith('mask-picture-'))).toEqual([file]);
    expect(log).toContain(`removed ${join(charts, 'mask-picture-window-n8.svg')} (no note embeds it)`);
    const text = readFileSync(join(docs, 'pictures.md'), 'utf8');
    expect(text).toContain(`![documents-causal mask, 16 × 16](charts/${file})`);
    // 16 cells of 16 px: the dark rectangles cover exactly the 15 + 21 + 15 visible pairs
    const svg = readFileSync(join(charts, file), 'utf8');
    let area = 0;
    for (const m of svg.matchAll(/<rect x="\d+" y="\d+" width="(\d+)" height="(\d+)" fill="#1f4e79"\/>/g))
      area += Number(m[1]) * Number(m[2]);
    expect(area / 16 ** 2).toBe(51);
    expect(existsSync(join(charts, file))).toBe(true);
    rmSync(join(docs, 'pictures.md'));
  });
});

describe('mask-picture: core maskToString of the value the marker names', () => {
  const layout = blockSparseLayout({ density: 0.25, block: 4, seed: 1 }, 32, 32);
  const same = { sameForEveryHead: true, sameForEveryBatch: true };
  const cases: [string, AttentionMask, number][] = [
    ['kind=causal n=16', causalMask(), 16],
    ['kind=window n=16 left=2 right=2', windowMask(2, 2), 16],
    ['kind=kv-lengths n=16 length=12', kvLengthMask([12]), 16],
    ['kind=documents n=16', documentMask([0, 5, 11, 16]), 16],
    ['kind=documents-causal n=16', andMasks(documentMask([0, 5, 11, 16]), causalMask()), 16],
    ['kind=prefix-lm n=16 prefix=4', prefixLMMask(4), 16],
    ['kind=global-tokens n=16 tokens=0,7', globalTokensMask([0, 7]), 16],
    ['kind=global-window n=16', orMasks(windowMask(2, 2), globalTokensMask([0])), 16],
    ['kind=block-sparse n=32 block=4 density=0.25 seed=1', blockSparseMask(layout, 4), 32],
    [
      'kind=predicate n=16 name=dilated',
      predicateMask((_b, _h, i, j) => j <= i && (i - j) % 3 === 0, same),
      16,
    ],
    ['kind=not n=16 left=2', andMasks(causalMask(), notMask(windowMask(2, 0))), 16],
  ];

  it.each(cases)('%s', (args, value, n) => {
    const out = section(`mask-picture ${args}`);
    expect(fenced(out)).toBe(maskToString(value, n, n));
    // the count it states is the FLOP model's: core's visiblePairs of a one-head call with that mask
    const shape = { batch: 1, qHeads: 1, kvHeads: 1, qLength: n, kvLength: n, headDim: 1, valueDim: 1 };
    const pairs = visiblePairs(problemForShape(shape, { mask: value }));
    expect(out).toContain(`Lq = Lk = ${n}: ${pairs} of ${n * n} pairs visible`);
  });

  it('states closed-form counts: causal n(n+1)/2, a 1/8 layout 1/8', () => {
    expect(section('mask-picture kind=causal n=16')).toContain(
      '`causalMask()`, Lq = Lk = 16: 136 of 256 pairs visible (0.5313).',
    );
    expect(section('mask-picture kind=block-sparse n=128 block=8 density=0.125')).toContain(
      ': 2048 of 16384 pairs visible (0.1250 = 1/8).',
    );
  });

  it('prints what is wrong with a marker instead of a picture', () => {
    expect(section('mask-picture kind=circle')).toContain(
      '_mask-picture: kind=circle: expected one of causal, window, kv-lengths, documents,',
    );
    expect(section('mask-picture kind=documents n=16 offsets=0,5,12')).toContain(
      '_mask-picture: kind=documents n=16: ',
    );
    expect(section('mask-picture kind=causal n=16 left=2')).toContain(
      '_mask-picture: left=: kind=causal takes kind, n, svg._',
    );
    expect(section('mask-picture kind=causal n=500')).toContain('n=500: a picture is at most 128 wide');
  });
});

describe('figures, mask-costs and mask-pairs', () => {
  it('gives the figures of the named file, and says when its suite has none', () => {
    expect(squash(section('figures results=masks', withMasks))).toContain(
      '| block-sparse | flash | 1 | 1.000 ms | 8.000 ms | 0.125 | ≤ 0.1875 | met (0.125 ≤ 0.1875) |',
    );
    expect(section('figures')).toContain(
      '_The suite of `benchmarks/results/docs.json` (`tiny`) has no figures._',
    );
  });

  it("gives one row per case of an implementation with the FLOP model's visible fraction", () => {
    const out = squash(section('mask-costs results=masks implementation=flash threads=1', withMasks));
    // GFLOP = 2·(8+8)·2·64·64/8 / 1e9; GFLOP/s = that / 1 ms; spread = median − fastest = 0.1 ms
    expect(out).toContain(
      '| Title sparse | 64 | flash | block-sparse 1/8 (8×8 blocks, seed 1) | 0.1250 = 1/8 | 0.000 | 1.000 ms ± 0.100 ms | 0.03 | – |',
    );
    expect(out).toContain('| Title plain | 64 | flash | full | 1 | 0.000 | 8.000 ms ± 0.800 ms | 0.03 | – |');
    expect(section('mask-costs results=masks implementation=flash threads=2', withMasks)).toContain(
      '_No rows of `flash` at 2 thread(s) in this results file._',
    );
  });

  it('computes the visible pairs of every case of a named suite without a run', () => {
    const out = squash(section('mask-pairs suite=masks'));
    // 64 × 64 blocks of 64 at N = 4096, 512 visible: 512 · 64² · 8 heads pairs, exactly 1/8
    expect(out).toContain(
      `| Block-sparse 1/8 | 4096 | block-sparse 1/8 (64×64 blocks, seed 1) | ${(512 * 64 * 64 * 8).toLocaleString('en-US')} | 0.1250 = 1/8 | 4.295 |`,
    );
    // causal at N = 1024: 8 heads · 1024·1025/2
    expect(out).toContain(
      `| Causal | 1024 | causal | ${(8 * 512 * 1025).toLocaleString('en-US')} | 0.5005 | 1.075 |`,
    );
    expect(section('mask-pairs suite=nope')).toContain("_mask-pairs: suite 'nope' not found");
    expect(section('mask-pairs suite=../x')).toContain(
      '_mask-pairs: suite=../x: expected the name of one of the harness',
    );
  });
});
