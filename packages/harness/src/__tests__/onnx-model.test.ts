import { errorStats, randn, referenceAttention } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { packageVersion } from '../machine.js';
import { additiveMask, bhsdToBshd, bshdToBhsd } from '../peers/layout.js';
import { buildOnnxModel, decodeOnnxModel, IR_VERSION, OPSET } from '../peers/onnx-model.js';
import type { CaseShape } from '../suite.js';

const shape: CaseShape = {
  batch: 1,
  qHeads: 2,
  kvHeads: 2,
  qLength: 6,
  kvLength: 6,
  headDim: 4,
  valueDim: 4,
};

interface DecodedNode {
  opType: string;
  domain?: string;
  input: string[];
  attribute?: { name: string; i?: number; f?: number; ints?: number[] }[];
}

describe('ONNX models built with protobufjs', () => {
  it('encodes the MatMul→Softmax→MatMul graph with a mask input', async () => {
    const model = await buildOnnxModel('matmul', shape, 0.5, { causal: true });
    const decoded = (await decodeOnnxModel(model.bytes)) as {
      irVersion: number;
      opsetImport: { version: number }[];
      graph: {
        node: DecodedNode[];
        input: { name: string; type: { tensorType: { shape: { dim: { dimValue: number }[] } } } }[];
        initializer: { name: string }[];
      };
    };
    expect(decoded.irVersion).toBe(IR_VERSION);
    expect(decoded.opsetImport[0]?.version).toBe(OPSET);
    expect(decoded.graph.node.map((node) => node.opType)).toEqual([
      'Transpose',
      'MatMul',
      'Mul',
      'Add',
      'Softmax',
      'MatMul',
    ]);
    expect(decoded.graph.node[0]?.attribute?.[0]).toMatchObject({ name: 'perm', ints: [0, 1, 3, 2] });
    expect(decoded.graph.input.map((input) => input.name)).toEqual(['q', 'k', 'v', 'mask']);
    expect(decoded.graph.input[3]?.type.tensorType.shape.dim.map((d) => d.dimValue)).toEqual([6, 6]);
    expect(decoded.graph.initializer[0]?.name).toBe('scale');
  });

  it('encodes com.microsoft MultiHeadAttention with num_heads and scale', async () => {
    const model = await buildOnnxModel('mha', shape, 0.5, { causal: false });
    const decoded = (await decodeOnnxModel(model.bytes)) as {
      opsetImport: { domain?: string }[];
      graph: { node: DecodedNode[] };
    };
    const [node] = decoded.graph.node;
    expect(node?.opType).toBe('MultiHeadAttention');
    expect(node?.domain).toBe('com.microsoft');
    expect(node?.attribute).toEqual([
      expect.objectContaining({ name: 'num_heads', i: 2 }),
      expect.objectContaining({ name: 'scale', f: 0.5 }),
    ]);
    expect(decoded.opsetImport.map((opset) => opset.domain ?? '')).toEqual(['', 'com.microsoft']);
  });

  it('encodes causal MultiHeadAttention (unidirectional) and GroupQueryAttention with a window', async () => {
    const mha = (await decodeOnnxModel(
      (
        await buildOnnxModel('mha', shape, 0.5, { causal: true })
      ).bytes,
    )) as {
      graph: { node: DecodedNode[] };
    };
    expect(mha.graph.node[0]?.attribute).toContainEqual(
      expect.objectContaining({ name: 'unidirectional', i: 1 }),
    );
    const gqaShape = { ...shape, qHeads: 4, kvHeads: 2, headDim: 8, valueDim: 8 };
    const model = await buildOnnxModel('gqa', gqaShape, 0.5, { causal: true, window: [3, 0] });
    const gqa = (await decodeOnnxModel(model.bytes)) as {
      graph: { node: DecodedNode[]; input: { name: string; type: { tensorType: { elemType: number } } }[] };
    };
    const [node] = gqa.graph.node;
    expect(node?.opType).toBe('GroupQueryAttention');
    expect(node?.domain).toBe('com.microsoft');
    expect(node?.input).toEqual(['query', 'key', 'value', '', '', 'seqlens_k', 'total_sequence_length']);
    expect(node?.attribute).toEqual([
      expect.objectContaining({ name: 'num_heads', i: 4 }),
      expect.objectContaining({ name: 'kv_num_heads', i: 2 }),
      expect.objectContaining({ name: 'scale', f: 0.5 }),
      // Left reach 3 sees 4 keys counting its own: onnxruntime's window counts the query's key.
      expect.objectContaining({ name: 'local_window_size', i: 4 }),
    ]);
    expect(gqa.graph.input.map((input) => [input.name, input.type.tensorType.elemType])).toEqual([
      ['query', 1],
      ['key', 1],
      ['value', 1],
      ['seqlens_k', 6],
      ['total_sequence_length', 6],
    ]);
    expect(model.inputs.find((input) => input.name === 'key')?.dims).toEqual([1, 6, 16]);
  });

  it('converts layouts both ways and masks with −∞', () => {
    const t = randn([2, 3, 4, 5], 1);
    expect(bshdToBhsd(bhsdToBshd(t.data, t.shape), [2, 4, 3, 5])).toEqual(t.data);
    const mask = additiveMask({ ...shape, qLength: 3, kvLength: 3 }, { causal: true });
    expect(Array.from(mask)).toEqual([0, -Infinity, -Infinity, 0, 0, -Infinity, 0, 0, 0]);
  });

  // Runs the built graphs in onnxruntime-node (an optional dependency) against core's float64
  // oracle. float32 inputs with 4-dim heads and 6 keys: rounding is a few 1e-7 on O(1) outputs, so
  // atol 1e-5 / rtol 1e-4 passes any correct graph and fails a wrong mask or scale (errors ≥ 1e-2).
  it.skipIf(packageVersion('onnxruntime-node') === null)(
    'computes attention in onnxruntime-node (causal matmul, full mha)',
    async () => {
      const ort = (await import('onnxruntime-node')) as unknown as {
        Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
        InferenceSession: {
          create(bytes: Uint8Array): Promise<{
            run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>>;
          }>;
        };
      };
      const q = randn([1, 2, 6, 4], 2);
      const k = randn([1, 2, 6, 4], 3);
      const v = randn([1, 2, 6, 4], 4);
      const tolerance = { atol: 1e-5, rtol: 1e-4 };

      const causal = await ort.InferenceSession.create(
        (await buildOnnxModel('matmul', shape, 0.5, { causal: true })).bytes,
      );
      const masked = await causal.run({
        q: new ort.Tensor('float32', q.data, q.shape),
        k: new ort.Tensor('float32', k.data, k.shape),
        v: new ort.Tensor('float32', v.data, v.shape),
        mask: new ort.Tensor('float32', additiveMask(shape, { causal: true }), [6, 6]),
      });
      expect(
        errorStats(masked.out!.data, referenceAttention(q, k, v, { causal: true }).out, tolerance).failing,
      ).toBe(0);

      const mha = await ort.InferenceSession.create(
        (await buildOnnxModel('mha', shape, 0.5, { causal: false })).bytes,
      );
      const full = await mha.run({
        query: new ort.Tensor('float32', bhsdToBshd(q.data, q.shape), [1, 6, 8]),
        key: new ort.Tensor('float32', bhsdToBshd(k.data, k.shape), [1, 6, 8]),
        value: new ort.Tensor('float32', bhsdToBshd(v.data, v.shape), [1, 6, 8]),
      });
      const out = bshdToBhsd(full.out!.data, [1, 6, 2, 4]);
      expect(errorStats(out, referenceAttention(q, k, v).out, tolerance).failing).toBe(0);
    },
  );

  // The fused masked graphs against the same oracle: causal MHA (unidirectional), causal GQA with
  // 4 query heads on 2 kv heads, and GQA with a causal window [2, 0]. An off-by-one window (local
  // window 2 instead of 3), a non-causal run or a wrong head grouping moves outputs by ≥ 1e-2.
  it.skipIf(packageVersion('onnxruntime-node') === null)(
    'computes causal MultiHeadAttention and causal/windowed GroupQueryAttention in onnxruntime-node',
    async () => {
      const ort = (await import('onnxruntime-node')) as unknown as {
        Tensor: {
          new (type: 'float32', data: Float32Array, dims: readonly number[]): unknown;
          new (type: 'int32', data: Int32Array, dims: readonly number[]): unknown;
        };
        InferenceSession: {
          create(bytes: Uint8Array): Promise<{
            run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>>;
          }>;
        };
      };
      const tolerance = { atol: 1e-5, rtol: 1e-4 };
      const q = randn([1, 2, 6, 4], 5);
      const k = randn([1, 2, 6, 4], 6);
      const v = randn([1, 2, 6, 4], 7);
      const mha = await ort.InferenceSession.create(
        (await buildOnnxModel('mha', shape, 0.5, { causal: true })).bytes,
      );
      const causalOut = await mha.run({
        query: new ort.Tensor('float32', bhsdToBshd(q.data, q.shape), [1, 6, 8]),
        key: new ort.Tensor('float32', bhsdToBshd(k.data, k.shape), [1, 6, 8]),
        value: new ort.Tensor('float32', bhsdToBshd(v.data, v.shape), [1, 6, 8]),
      });
      const causalBhsd = bshdToBhsd(causalOut.out!.data, [1, 6, 2, 4]);
      const causalRef = referenceAttention(q, k, v, { causal: true }).out;
      expect(errorStats(causalBhsd, causalRef, tolerance).failing).toBe(0);
      // The unmasked result differs: the attribute took effect.
      expect(errorStats(causalBhsd, referenceAttention(q, k, v).out, tolerance).failing).toBeGreaterThan(0);

      const gqaShape: CaseShape = { ...shape, qHeads: 4, kvHeads: 2, headDim: 8, valueDim: 8 };
      const gq = randn([1, 4, 6, 8], 8);
      const gk = randn([1, 2, 6, 8], 9);
      const gv = randn([1, 2, 6, 8], 10);
      const scale = 1 / Math.sqrt(8);
      const gqaFeeds = {
        query: new ort.Tensor('float32', bhsdToBshd(gq.data, gq.shape), [1, 6, 32]),
        key: new ort.Tensor('float32', bhsdToBshd(gk.data, gk.shape), [1, 6, 16]),
        value: new ort.Tensor('float32', bhsdToBshd(gv.data, gv.shape), [1, 6, 16]),
        seqlens_k: new ort.Tensor('int32', Int32Array.of(5), [1]),
        total_sequence_length: new ort.Tensor('int32', Int32Array.of(6), []),
      };
      for (const window of [undefined, [2, 0] as [number, number]]) {
        const mask = window ? { causal: true, window } : { causal: true };
        const session = await ort.InferenceSession.create(
          (await buildOnnxModel('gqa', gqaShape, scale, mask)).bytes,
        );
        const out = bshdToBhsd((await session.run(gqaFeeds)).out!.data, [1, 6, 4, 8]);
        const ref = referenceAttention(gq, gk, gv, mask).out;
        expect(errorStats(out, ref, tolerance).failing, `window ${window}`).toBe(0);
      }
    },
  );
});
