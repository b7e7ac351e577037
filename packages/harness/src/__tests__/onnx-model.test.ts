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
    const model = await buildOnnxModel('matmul', shape, 0.5, true);
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
    const model = await buildOnnxModel('mha', shape, 0.5, false);
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
        (await buildOnnxModel('matmul', shape, 0.5, true)).bytes,
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

      const mha = await ort.InferenceSession.create((await buildOnnxModel('mha', shape, 0.5, false)).bytes);
      const full = await mha.run({
        query: new ort.Tensor('float32', bhsdToBshd(q.data, q.shape), [1, 6, 8]),
        key: new ort.Tensor('float32', bhsdToBshd(k.data, k.shape), [1, 6, 8]),
        value: new ort.Tensor('float32', bhsdToBshd(v.data, v.shape), [1, 6, 8]),
      });
      const out = bshdToBhsd(full.out!.data, [1, 6, 2, 4]);
      expect(errorStats(out, referenceAttention(q, k, v).out, tolerance).failing).toBe(0);
    },
  );
});
