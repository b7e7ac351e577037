/**
 * Packed documents (core's documentMask): each document is a sequence of its own, so linear
 * attention's sums restart at every document and causal is aligned bottom-right per document.
 * Held three ways: to the float64 quadratic form (which reads visibility from core's isVisibleIn),
 * bitwise to linear attention run on each document's slice alone, and, for the recurrent form, to
 * the chunked form over the whole packed stream fed in arbitrary pieces.
 */
import { andMasks, causalMask, documentMask, kvLengthMask, type Tensor, windowMask } from '@attnkit/core';
import { expectBitwiseEqual, expectRefusalChangesNothing, thrownInputError } from '@attnkit/core/testing';
import { startThreads, stopThreads } from '@attnkit/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLinearState,
  type FeatureMap,
  type LinearOptions,
  type LinearState,
  linear,
  linearAttention,
  referenceLinearAttention,
} from '../index.js';
import { concatSequence, expectClose, inputs, LINEAR_TOLERANCE, sliceSequence } from './helpers.js';

const MAPS: { featureMap: FeatureMap; features?: number; seed?: number }[] = [
  { featureMap: 'elu' },
  { featureMap: 'relu' },
  { featureMap: 'favor', features: 48, seed: 3 },
];
const BACKENDS = ['js', 'wasm'] as const;

// Lengths 0, 1, 3, 0, 20, 7, 9: empty documents (first and inside), a single token, one longer than
// the chunk of 8, and boundaries at 1, 4, 24, 31 that fall inside chunks of 8 counted from row 0.
const OFFSETS = [0, 0, 1, 4, 4, 24, 31, 40];
const CHUNK = 8;
// GQA (4 query heads on 2 kv heads), B = 2; batch entry 1 has 27 valid keys: document [24, 31) is
// cut at 27 and document [31, 40) has none.
const packed = inputs({ q: [2, 4, 40, 8], k: [2, 2, 40, 8], v: [2, 2, 40, 6] }, 21);
const KV_LENGTHS = [40, 27];

// Queries and keys packed differently: (q, kv) lengths (2, 6), (0, 3), (3, 0), (8, 5), (1, 21):
// queries at the end of longer documents, a document with no keys (zeros), rows before their
// document's first key (Lq > Lk inside a document), a single query over 21 keys.
const Q_OFFSETS = [0, 2, 2, 5, 13, 14];
const KV_OFFSETS = [0, 6, 9, 9, 14, 35];
const uneven = inputs({ q: [1, 4, 14, 8], k: [1, 2, 35, 8], v: [1, 2, 35, 5] }, 22);

function documentsOf(qOffsets: number[], kvOffsets: number[]) {
  return qOffsets.slice(0, -1).map((qs, d) => ({
    qs,
    qe: qOffsets[d + 1]!,
    ks: kvOffsets[d]!,
    ke: kvOffsets[d + 1]!,
  }));
}

/** Rows [from, to) of batch entry b of a [B, H, L, D] tensor, as a [1, H, to − from, D] tensor. */
function batchRows(t: Tensor, b: number, from: number, to: number): Tensor {
  const [, h, length, d] = t.shape as [number, number, number, number];
  const entry = {
    data: t.data.subarray(b * h * length * d, (b + 1) * h * length * d),
    shape: [1, h, length, d],
  };
  return sliceSequence(entry, from, to);
}

describe('documents: chunked and non-causal forms = the float64 quadratic form', () => {
  for (const backend of BACKENDS) {
    for (const map of MAPS) {
      for (const causal of [false, true]) {
        it(`${backend}, ${map.featureMap}${causal ? ', causal' : ''}: lengths 0, 1, > chunk, GQA, B = 2, kvLengths`, () => {
          const { q, k, v } = packed;
          const options: LinearOptions = {
            ...map,
            backend,
            causal,
            chunkSize: CHUNK,
            kvLengths: KV_LENGTHS,
            mask: documentMask(OFFSETS),
          };
          expect(linear.notSupportedReasons(q, k, v, options)).toEqual([]);
          const out = linearAttention(q, k, v, options);
          const expected = referenceLinearAttention(q, k, v, options).out;
          expectClose(out.data, expected, LINEAR_TOLERANCE, 'documents vs quadratic');
          // the documents matter: without them the result is far from this one
          const whole = referenceLinearAttention(q, k, v, { ...options, mask: undefined }).out;
          let moved = 0;
          for (let i = 0; i < whole.length; i++) moved = Math.max(moved, Math.abs(whole[i]! - expected[i]!));
          expect(moved).toBeGreaterThan(0.1);
        });

        it(`${backend}, ${map.featureMap}${causal ? ', causal' : ''}: q and kv packed differently`, () => {
          const { q, k, v } = uneven;
          const options: LinearOptions = {
            ...map,
            backend,
            causal,
            chunkSize: 4,
            mask: documentMask(Q_OFFSETS, KV_OFFSETS),
          };
          const out = linearAttention(q, k, v, options);
          expectClose(
            out.data,
            referenceLinearAttention(q, k, v, options).out,
            LINEAR_TOLERANCE,
            'vs quadratic',
          );
          // document 2 has no key: its rows are zeros
          for (let h = 0; h < 4; h++) {
            expect(Array.from(out.data.subarray((h * 14 + 2) * 5, (h * 14 + 5) * 5))).toEqual(
              new Array(15).fill(0),
            );
          }
        });
      }
    }
  }
});

describe('documents: packed = each document run alone', () => {
  // Bitwise, except for a causal document of one query: alone it is a call with Lq = 1, which sees
  // all its keys and so runs the non-causal form (different sums, same function): within tolerance.
  for (const backend of BACKENDS) {
    for (const map of MAPS) {
      for (const causal of [false, true]) {
        it(`${backend}, ${map.featureMap}${causal ? ', causal' : ''}: same and different packing`, () => {
          const cases = [
            { x: packed, qOffsets: OFFSETS, kvOffsets: OFFSETS, kvLengths: KV_LENGTHS, chunkSize: CHUNK },
            { x: uneven, qOffsets: Q_OFFSETS, kvOffsets: KV_OFFSETS, kvLengths: undefined, chunkSize: 4 },
          ];
          let bitwise = 0;
          for (const { x, qOffsets, kvOffsets, kvLengths, chunkSize } of cases) {
            const { q, k, v } = x;
            const [batch, qHeads, qLength] = q.shape as [number, number, number];
            const dv = v.shape[3]!;
            const out = linearAttention(q, k, v, {
              ...map,
              backend,
              causal,
              chunkSize,
              ...(kvLengths ? { kvLengths } : {}),
              mask: documentMask(qOffsets, kvOffsets),
            });
            for (let b = 0; b < batch; b++) {
              for (const { qs, qe, ks, ke } of documentsOf(qOffsets, kvOffsets)) {
                const rows = qe - qs;
                if (rows === 0) continue;
                const rowsOf = (h: number) => {
                  const start = ((b * qHeads + h) * qLength + qs) * dv;
                  return out.data.subarray(start, start + rows * dv);
                };
                if (ke === ks) {
                  // no keys: a call cannot have Lk = 0, and the rows are zeros
                  for (let h = 0; h < qHeads; h++) expect(rowsOf(h).every((x) => x === 0)).toBe(true);
                  continue;
                }
                const valid = Math.min(ke - ks, Math.max(0, (kvLengths?.[b] ?? ke) - ks));
                const alone = linearAttention(
                  batchRows(q, b, qs, qe),
                  batchRows(k, b, ks, ke),
                  batchRows(v, b, ks, ke),
                  { ...map, backend, causal, chunkSize, kvLengths: [valid] },
                );
                for (let h = 0; h < qHeads; h++) {
                  const expected = alone.data.subarray(h * rows * dv, (h + 1) * rows * dv);
                  const label = `batch ${b}, rows [${qs}, ${qe}), head ${h}`;
                  if (causal && rows === 1) {
                    expectClose(rowsOf(h), expected, LINEAR_TOLERANCE, label);
                  } else {
                    expectBitwiseEqual(rowsOf(h), expected, label);
                    bitwise++;
                  }
                }
              }
            }
          }
          expect(bitwise).toBeGreaterThan(20);
        });
      }
    }
  }
});

describe('documents: masks that are the same thing give the same bits', () => {
  for (const map of MAPS) {
    it(`${map.featureMap}: causalMask() in the mask = causal; a window covering each document = none; kvLengthMask = kvLengths`, () => {
      const { q, k, v } = packed;
      const docs = documentMask(OFFSETS);
      const causal = linearAttention(q, k, v, { ...map, causal: true, mask: docs });
      const full = linearAttention(q, k, v, { ...map, mask: docs });
      expectBitwiseEqual(
        linearAttention(q, k, v, { ...map, mask: andMasks(docs, causalMask()) }).data,
        causal.data,
      );
      // the longest document has 20 keys and 20 queries: [19, 19] hides nothing inside any document
      expectBitwiseEqual(linearAttention(q, k, v, { ...map, window: [19, 19], mask: docs }).data, full.data);
      expectBitwiseEqual(
        linearAttention(q, k, v, { ...map, mask: andMasks(windowMask(19, 19), docs) }).data,
        full.data,
      );
      expectBitwiseEqual(
        linearAttention(q, k, v, { ...map, mask: andMasks(docs, kvLengthMask(KV_LENGTHS)) }).data,
        linearAttention(q, k, v, { ...map, kvLengths: KV_LENGTHS, mask: docs }).data,
      );
      // one document over the whole sequence is no mask at all
      expectBitwiseEqual(
        linearAttention(q, k, v, { ...map, causal: true, mask: documentMask([0, 40]) }).data,
        linearAttention(q, k, v, { ...map, causal: true }).data,
      );
    });
  }

  it('GQA = the same kv heads repeated (bitwise), causal, with documents', () => {
    const { q, k, v } = packed;
    const repeat = (t: Tensor) => {
      const [b, h, l, d] = t.shape as [number, number, number, number];
      const data = new Float32Array(b * h * 2 * l * d);
      for (let head = 0; head < b * h; head++) {
        const rows = t.data.subarray(head * l * d, (head + 1) * l * d);
        data.set(rows, 2 * head * l * d);
        data.set(rows, (2 * head + 1) * l * d);
      }
      return { data, shape: [b, 2 * h, l, d] };
    };
    const options = { causal: true, chunkSize: CHUNK, kvLengths: KV_LENGTHS, mask: documentMask(OFFSETS) };
    expectBitwiseEqual(
      linearAttention(q, repeat(k), repeat(v), options).data,
      linearAttention(q, k, v, options).data,
    );
  });
});

describe('documents: threads = 2 gives the bits of threads = 1', () => {
  // pool workers import the built work module by URL, so this runs the built package
  let workers = 0;
  beforeAll(async () => {
    workers = await startThreads(2);
  });
  afterAll(async () => {
    await stopThreads();
  });
  for (const backend of BACKENDS) {
    for (const map of MAPS) {
      it(`${backend}, ${map.featureMap}, causal and not`, async () => {
        const built = await import('../../dist/index.js');
        expect(workers).toBeGreaterThan(0);
        for (const causal of [false, true]) {
          for (const [{ q, k, v }, mask] of [
            [packed, documentMask(OFFSETS)],
            [uneven, documentMask(Q_OFFSETS, KV_OFFSETS)],
          ] as const) {
            const options = { ...map, backend, causal, chunkSize: CHUNK, mask };
            expectBitwiseEqual(
              built.linearAttention(q, k, v, { ...options, threads: 2 }).data,
              built.linearAttention(q, k, v, { ...options, threads: 1 }).data,
              `threads, causal ${causal}`,
            );
          }
        }
      });
    }
  }
});

describe('documents: the recurrent form resets at each document', () => {
  const { q, k, v } = packed;
  const config = { batch: 2, qHeads: 4, kvHeads: 2, headDim: 8, valueDim: 6, chunkSize: 3 };

  /** Feeds the packed stream in pieces; each piece gets the stream's boundaries that fall in it. */
  function stream(state: LinearState, pieces: number[]): { out: Tensor; lengths: number[] } {
    const outputs: Tensor[] = [];
    const lengths: number[] = [];
    let start = 0;
    for (const size of pieces) {
      const end = start + size;
      const inside = OFFSETS.slice(1, -1)
        .filter((x) => x >= start && x < end)
        .map((x) => x - start);
      const mask = documentMask([0, ...inside, size]);
      outputs.push(
        state.step(sliceSequence(q, start, end), sliceSequence(k, start, end), sliceSequence(v, start, end), {
          mask,
        }),
      );
      lengths.push(state.length);
      start = end;
    }
    return { out: concatSequence(outputs), lengths };
  }

  for (const map of MAPS) {
    it(`${map.featureMap}: token by token and in pieces = the chunked form with the stream's documentMask`, () => {
      const options = { ...map, causal: true, mask: documentMask(OFFSETS) };
      const chunked = linearAttention(q, k, v, options);
      const quadratic = referenceLinearAttention(q, k, v, options).out;
      expectClose(chunked.data, quadratic, LINEAR_TOLERANCE, 'chunked vs quadratic');
      // pieces whose edges fall on boundaries (4, 24), inside documents, and across several documents
      for (const pieces of [new Array(40).fill(1), [2, 2, 9, 11, 1, 15], [40]]) {
        const { out, lengths } = stream(createLinearState({ ...config, ...map }), pieces);
        expectClose(out.data, quadratic, LINEAR_TOLERANCE, `recurrent ${pieces.join(',')} vs quadratic`);
        expectClose(out.data, chunked.data, LINEAR_TOLERANCE, `recurrent ${pieces.join(',')} vs chunked`);
        // length counts the tokens of the document in progress: the last one started at 31
        expect(lengths.at(-1)).toBe(9);
      }
    });
  }

  it('length follows the document in progress; documentMask([0, 0, n]) = a fresh state', () => {
    const state = createLinearState(config);
    const piece = (from: number, to: number) =>
      [sliceSequence(q, from, to), sliceSequence(k, from, to), sliceSequence(v, from, to)] as const;
    state.step(...piece(0, 5));
    expect(state.length).toBe(5);
    state.step(...piece(5, 9), { mask: documentMask([0, 4]) }); // one document: continues
    expect(state.length).toBe(9);
    state.step(...piece(9, 14), { mask: documentMask([0, 2, 5]) }); // a document starts at 11
    expect(state.length).toBe(3);
    const restarted = state.step(...piece(14, 20), { mask: documentMask([0, 0, 6]) });
    expect(state.length).toBe(6);
    const fresh = createLinearState(config).step(...piece(14, 20));
    expectBitwiseEqual(restarted.data, fresh.data, 'a new document at the step start vs a fresh state');
  });

  describe('refused step options change nothing', () => {
    const step = (
      state: LinearState,
      from: number,
      to: number,
      options?: Parameters<LinearState['step']>[3],
    ) =>
      state.step(sliceSequence(q, from, to), sliceSequence(k, from, to), sliceSequence(v, from, to), options)
        .data;
    const refusals: [string, (state: LinearState) => unknown][] = [
      ['a causal mask', (s) => step(s, 3, 6, { mask: causalMask() as never })],
      ['q and kv packed differently', (s) => step(s, 3, 6, { mask: documentMask([0, 1, 3], [0, 2, 3]) })],
      ['offsets past the new tokens', (s) => step(s, 3, 6, { mask: documentMask([0, 2, 4]) })],
    ];
    for (const [name, refuse] of refusals) {
      it(name, () => {
        expectRefusalChangesNothing({
          create: () => createLinearState(config),
          before: (state) => void step(state, 0, 3),
          refuse,
          argument: 'options.mask',
          after: (state) => [step(state, 3, 5, { mask: documentMask([0, 1, 2]) }), step(state, 5, 9)],
          observe: (state) => ({ length: state.length }),
        });
      });
    }
    it('an unknown step option names its path', () => {
      const state = createLinearState(config);
      expect(thrownInputError(() => step(state, 0, 2, { causal: true } as never)).argument).toBe(
        'options.causal',
      );
    });
  });
});
