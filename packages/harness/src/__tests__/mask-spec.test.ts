import {
  type AttentionMask,
  alibiSlopes,
  causalMask,
  isMaskCompiled,
  materializeMask,
  predicateMask,
  problemForShape,
  referenceAttention,
} from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { oracleSliceOptions } from '../accuracy.js';
import { lastRows, lastRowsTensor, makeInputs } from '../inputs.js';
import {
  blockSparseLayout,
  describeMask,
  documentOffsets,
  type MaskSpec,
  maskOptions,
  maskSchema,
  sliceMaskOptions,
} from '../mask-spec.js';
import { peerNotSupportedReasons } from '../peers/peers.js';
import { type CaseShape, parseSuite, SuiteError, type SuiteInput } from '../suite.js';
import { tinySuiteInput } from './fixtures.js';

const square = (n: number, heads = 2): CaseShape => ({
  batch: 1,
  qHeads: heads,
  kvHeads: heads,
  qLength: n,
  kvLength: n,
  headDim: 8,
  valueDim: 8,
});

const baseGroup = { id: 'g', title: 'G', source: 'tests', heads: 2, headDim: 8, lengths: [256] };

function withGroup(group: Record<string, unknown>): SuiteInput {
  return { ...tinySuiteInput, groups: [group as SuiteInput['groups'][number]] };
}

/** The mask option of a spec on a shape, as bytes [Lq, Lk] (head 0). */
function bytesOf(mask: AttentionMask | undefined, n: number): Uint8Array {
  if (!mask) throw new Error('no mask value');
  return materializeMask(mask, n, n);
}

describe('MaskSpec: the JSON of a group mask', () => {
  it('parses every new field, filling the block-sparse defaults', () => {
    const spec = maskSchema.parse({
      causal: true,
      documents: { equal: 8 },
      prefixLM: 16,
      blockSparse: { density: 0.125 },
      predicate: 'causal',
      alibi: true,
      softcap: 30,
      sinks: -1,
    });
    expect(spec.blockSparse).toEqual({ density: 0.125, block: 64, seed: 0 });
    expect(maskSchema.parse({ documents: [0, 100, 256] }).documents).toEqual([0, 100, 256]);
  });

  it.each([
    [{ documents: [0] }, 'mask.documents'],
    [{ documents: [1, 256] }, 'offsets start at 0'],
    [{ documents: [0, 200, 100, 256] }, 'offsets are non-decreasing (offsets[2] = 100 < 200)'],
    [{ documents: { equal: 0 } }, 'mask.documents'],
    [{ documents: { equal: 3 } }, '3 equal documents do not divide N = 256'],
    [{ documents: [0, 128] }, 'document offsets end at 128, not at N = 256'],
    [{ prefixLM: -1 }, 'mask.prefixLM'],
    [{ blockSparse: { density: 0 } }, 'mask.blockSparse.density'],
    [{ blockSparse: { density: 1.5 } }, 'mask.blockSparse.density'],
    [{ blockSparse: { density: 0.5, stride: 2 } }, 'stride'],
    [
      { blockSparse: { density: 0.125, block: 64 } },
      'blockSparse density 0.125 gives 2 of 4×4 blocks at N = 256, fewer than the 4 diagonal blocks',
    ],
    [{ predicate: 'window' }, 'mask.predicate'],
    [{ softcap: 0 }, 'mask.softcap'],
    [{ alibi: 'yes' }, 'mask.alibi'],
    [{ sinks: 'inf' }, 'mask.sinks'],
    [{ bias: 1 }, 'bias'],
  ])('rejects a bad mask (%#), naming it', (mask, message) => {
    const attempt = () => parseSuite(withGroup({ ...baseGroup, mask }), 'test.json');
    expect(attempt).toThrow(SuiteError);
    expect(attempt).toThrow('groups.0.mask');
    expect(attempt).toThrow(message);
  });

  it('refuses documents and block-sparse on decoding shapes, and mask values in mha groups', () => {
    expect(() =>
      parseSuite(withGroup({ ...baseGroup, queryLength: 1, mask: { documents: { equal: 2 } } })),
    ).toThrow('documents pack queries and keys alike: Lq = Lk (here 1 and 256)');
    expect(() =>
      parseSuite(
        withGroup({ ...baseGroup, queryLength: 64, mask: { blockSparse: { density: 0.5, block: 16 } } }),
      ),
    ).toThrow('blockSparse draws a square layout');
    expect(() => parseSuite(withGroup({ ...baseGroup, kind: 'mha', mask: { alibi: true } }))).toThrow(
      'mha groups take causal and window only',
    );
  });

  it('keeps the peers to causal and window: their graphs express no mask value or score modifier', () => {
    const reason =
      "the peers' graphs express the causal and window masks only, not causal + ALiBi (mask values and score modifiers)";
    expect(peerNotSupportedReasons('ort-node:matmul', square(64), { causal: true, alibi: true })).toEqual([
      reason,
    ]);
    expect(peerNotSupportedReasons('ort-node:matmul', square(64), { causal: true })).toEqual([]);
  });

  it('describes each field in words', () => {
    expect(
      describeMask({
        causal: true,
        documents: { equal: 8 },
        blockSparse: { density: 0.125, block: 64, seed: 1 },
        alibi: true,
        softcap: 30,
        sinks: 0,
      }),
    ).toBe(
      'causal + 8 equal documents + block-sparse 1/8 (64×64 blocks, seed 1) + ALiBi + softcap 30 + sinks 0',
    );
    expect(describeMask({ causal: false, documents: [0, 16384], predicate: 'causal', prefixLM: 4 })).toBe(
      'documents [0, 16384] + prefix-LM 4 + predicate (= causal)',
    );
    expect(describeMask({ causal: false })).toBe('full');
  });
});

describe('maskOptions: the core values of a spec on a shape', () => {
  it('packs equal documents at multiples of N / k, or takes the offsets given', () => {
    expect(documentOffsets({ equal: 8 }, 16384)).toEqual([
      0, 2048, 4096, 6144, 8192, 10240, 12288, 14336, 16384,
    ]);
    const { mask, causal } = maskOptions({ causal: true, documents: { equal: 4 } }, square(64));
    expect(causal).toBe(true);
    expect(mask).toMatchObject({
      kind: 'document',
      qOffsets: [0, 16, 32, 48, 64],
      kvOffsets: [0, 16, 32, 48, 64],
    });
    expect(maskOptions({ causal: false, documents: [0, 10, 64] }, square(64)).mask).toMatchObject({
      qOffsets: [0, 10, 64],
    });
  });

  it('draws a block-sparse layout of exactly round(density · blocks) blocks, diagonal included, the same every time', () => {
    const spec = { density: 0.125, block: 64, seed: 7 };
    const layout = blockSparseLayout(spec, 4096, 4096);
    expect(layout).toHaveLength(64);
    const visible = layout.flat().reduce((sum, cell) => sum + cell, 0);
    expect(visible).toBe(512); // 4096 blocks / 8
    for (let b = 0; b < 64; b++) expect(layout[b]?.[b], `diagonal ${b}`).toBe(1);
    expect(blockSparseLayout(spec, 4096, 4096)).toEqual(layout);
    expect(blockSparseLayout({ ...spec, seed: 8 }, 4096, 4096)).not.toEqual(layout);
    const { mask } = maskOptions({ causal: false, blockSparse: spec }, square(4096));
    expect(mask).toMatchObject({
      kind: 'blockSparse',
      layoutRows: 64,
      layoutCols: 64,
      blockQ: 64,
      blockK: 64,
    });
    expect(mask?.kind === 'blockSparse' && [...mask.layout]).toEqual(layout.flat());
  });

  it('gives a predicate equal to the causal mask (square and bottom-right on Lq < Lk)', () => {
    const { mask, causal } = maskOptions({ causal: false, predicate: 'causal' }, square(70));
    expect(causal).toBeUndefined();
    expect(mask).toMatchObject({ kind: 'predicate', sameForEveryHead: true, sameForEveryBatch: true });
    expect(bytesOf(mask, 70)).toEqual(materializeMask(causalMask(), 70, 70));
    const decode = maskOptions(
      { causal: false, predicate: 'causal' },
      { qHeads: 2, qLength: 5, kvLength: 70 },
    );
    expect(materializeMask(decode.mask!, 5, 70)).toEqual(materializeMask(causalMask(), 5, 70));
  });

  it("builds ALiBi with the paper's slopes, softcap after it, and one sink per head", () => {
    const options = maskOptions({ causal: false, alibi: true, softcap: 30, sinks: -2 }, square(16, 4));
    expect(options.scoreMod).toEqual([
      { kind: 'alibi', slopes: alibiSlopes(4) },
      { kind: 'softcap', cap: 30 },
    ]);
    expect(alibiSlopes(4)).toEqual([0.25, 0.0625, 0.015625, 0.00390625]);
    expect(options.sinks).toEqual([-2, -2, -2, -2]);
    expect(maskOptions({ causal: false, softcap: 50 }, square(16)).scoreMod).toEqual({
      kind: 'softcap',
      cap: 50,
    });
  });

  it('ANDs several mask terms, and leaves out what the spec does not name', () => {
    const { mask } = maskOptions({ causal: false, documents: { equal: 2 }, prefixLM: 4 }, square(32));
    expect(mask?.kind).toBe('and');
    expect(maskOptions({ causal: true, window: [8, 0] }, square(32))).toEqual({
      causal: true,
      window: [8, 0],
    });
  });

  it('returns fresh values on every call: a new mask is not compiled, the case value is once it is used', () => {
    const spec: MaskSpec = { causal: false, predicate: 'causal' };
    const shape = square(128);
    const caseOptions = maskOptions(spec, shape);
    const problem = problemForShape(shape, caseOptions);
    expect(isMaskCompiled(caseOptions.mask!, problem)).toBe(true);
    const fresh = maskOptions(spec, shape);
    expect(fresh.mask).not.toBe(caseOptions.mask);
    expect(isMaskCompiled(fresh.mask!, problem)).toBe(false);
  });
});

describe("sliceMaskOptions: the oracle's slice keeps each row's keys and scores", () => {
  const shape = square(96, 2);
  const inputs = makeInputs(shape, 11);
  const rows = 20; // 76 rows cut: not a multiple of any block or document
  it.each<[string, MaskSpec]>([
    ['causal', { causal: true }],
    ['documents', { causal: true, documents: [0, 30, 30, 70, 96] }],
    ['equal documents, window', { causal: true, window: [9, 0], documents: { equal: 3 } }],
    ['prefix-LM', { causal: false, prefixLM: 40 }],
    ['block-sparse', { causal: false, blockSparse: { density: 0.5, block: 16, seed: 3 } }],
    ['predicate = causal', { causal: false, predicate: 'causal' }],
    ['ALiBi, softcap, sinks, causal', { causal: true, alibi: true, softcap: 5, sinks: 0.5 }],
    [
      'documents + block-sparse + ALiBi',
      {
        causal: true,
        documents: { equal: 2 },
        blockSparse: { density: 0.5, block: 16, seed: 0 },
        alibi: true,
      },
    ],
  ])('%s: the last rows of the full oracle equal the oracle on the slice', (_name, spec) => {
    const full = referenceAttention(inputs.q, inputs.k, inputs.v, maskOptions(spec, shape)).out;
    const expected = lastRows(full, [1, 2, 96, 8], rows, 'float64');
    const slice = referenceAttention(
      lastRowsTensor(inputs.q, rows),
      inputs.k,
      inputs.v,
      sliceMaskOptions(spec, shape, rows),
    ).out;
    expect(slice).toEqual(expected);
    // accuracy.ts builds the oracle's options from the inputs' shape alone: the same slice.
    const viaInputs = oracleSliceOptions(inputs, spec, rows);
    expect(referenceAttention(lastRowsTensor(inputs.q, rows), inputs.k, inputs.v, viaInputs).out).toEqual(
      expected,
    );
  });

  it('would catch a slice that reads the block-sparse layout at the unshifted row index', () => {
    const spec: MaskSpec = { causal: false, blockSparse: { density: 0.5, block: 16, seed: 3 } };
    const full = referenceAttention(inputs.q, inputs.k, inputs.v, maskOptions(spec, shape)).out;
    const expected = lastRows(full, [1, 2, 96, 8], rows, 'float64');
    const layout = blockSparseLayout({ density: 0.5, block: 16, seed: 3 }, 96, 96);
    const unshifted = predicateMask((_b, _h, i, j) => layout[Math.floor(i / 16)]?.[Math.floor(j / 16)] === 1);
    const wrong = referenceAttention(lastRowsTensor(inputs.q, rows), inputs.k, inputs.v, {
      mask: unshifted,
    }).out;
    expect(wrong).not.toEqual(expected);
  });
});
