/**
 * ONNX models for the onnxruntime peers, built in TypeScript: a subset of onnx.proto (the
 * messages and field numbers of onnx/onnx.proto, proto2) parsed by protobufjs, and two graphs:
 *
 * - 'matmul': the materialised baseline any exporter produces,
 *     Transpose(K) → MatMul(Q, Kᵀ) → Mul(scale) → [Add(mask)] → Softmax → MatMul(·, V)
 *   on BHSD tensors, with an additive [Lq, Lk] mask input (0 visible, −∞ hidden) for causal and
 *   windowed cases.
 * - 'mha': com.microsoft MultiHeadAttention (onnxruntime's fused kernel) on [B, S, H·D] inputs,
 *   unmasked, or causal through its `unidirectional` attribute (Lq = Lk only).
 * - 'gqa': com.microsoft GroupQueryAttention (onnxruntime's fused causal kernel) on [B, S, H·D]
 *   inputs with Hq/Hkv query/kv heads: always causal; `local_window_size` = left reach + 1 for a
 *   causal window (it counts the query's own key). A prompt call: no past, seqlens_k = S − 1.
 *
 * protobufjs is an optional dependency: it is imported when a model is built.
 */
import type { CaseShape, MaskSpec, Reach } from '../suite.js';

export const ONNX_SUBSET_PROTO = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8; }
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  optional AttributeType type = 20;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string domain = 7;
}

message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message TensorProto {
  enum DataType { UNDEFINED = 0; FLOAT = 1; INT64 = 7; }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

/** IR 8 / opset 17: supported by every onnxruntime release since 1.14, and enough for these ops. */
export const IR_VERSION = 8;
export const OPSET = 17;
const FLOAT = 1;
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_INTS = 7;
export const INT32 = 6;

export type OnnxGraphKind = 'matmul' | 'mha' | 'gqa';

interface ProtobufType {
  fromObject(object: Record<string, unknown>): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options?: Record<string, unknown>): Record<string, unknown>;
}

let modelType: Promise<ProtobufType> | undefined;

/** The ModelProto type of the subset (protobufjs parses the schema text once). */
export function onnxModelType(): Promise<ProtobufType> {
  modelType ??= (async () => {
    const imported = (await import('protobufjs')) as unknown as {
      default?: { parse: (source: string) => { root: { lookupType(name: string): ProtobufType } } };
      parse?: (source: string) => { root: { lookupType(name: string): ProtobufType } };
    };
    const parse = imported.parse ?? imported.default?.parse;
    if (!parse) throw new Error('protobufjs has no parse()');
    return parse(ONNX_SUBSET_PROTO).root.lookupType('onnx.ModelProto');
  })();
  return modelType;
}

function tensorInput(name: string, dims: readonly number[], elemType = FLOAT) {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((dimValue) => ({ dimValue })) } } },
  };
}

function scalarInitializer(name: string, value: number) {
  const raw = new Uint8Array(4);
  new DataView(raw.buffer).setFloat32(0, value, true);
  return { name, dims: [], dataType: FLOAT, rawData: raw };
}

/** The graph inputs a model expects, in feed order, with their shapes. */
export interface OnnxModelSpec {
  readonly kind: OnnxGraphKind;
  readonly bytes: Uint8Array;
  readonly inputs: ReadonlyArray<{
    readonly name: string;
    readonly dims: readonly number[];
    readonly type?: 'int32';
  }>;
  readonly output: { readonly name: string; readonly dims: readonly number[] };
}

/** The MatMul → Softmax → MatMul graph on BHSD tensors; `masked` adds an additive [Lq, Lk] mask input. */
export function matmulGraph(shape: CaseShape, scale: number, masked: boolean) {
  const { batch, qHeads, qLength, kvLength, headDim, valueDim } = shape;
  const inputs = [
    { name: 'q', dims: [batch, qHeads, qLength, headDim] },
    { name: 'k', dims: [batch, qHeads, kvLength, headDim] },
    { name: 'v', dims: [batch, qHeads, kvLength, valueDim] },
    ...(masked ? [{ name: 'mask', dims: [qLength, kvLength] }] : []),
  ];
  const output = { name: 'out', dims: [batch, qHeads, qLength, valueDim] };
  const nodes = [
    {
      opType: 'Transpose',
      input: ['k'],
      output: ['kt'],
      name: 'transpose_k',
      attribute: [{ name: 'perm', type: ATTRIBUTE_INTS, ints: [0, 1, 3, 2] }],
    },
    { opType: 'MatMul', input: ['q', 'kt'], output: ['scores'], name: 'scores' },
    { opType: 'Mul', input: ['scores', 'scale'], output: ['scaled'], name: 'scale' },
    ...(masked ? [{ opType: 'Add', input: ['scaled', 'mask'], output: ['biased'], name: 'mask' }] : []),
    {
      opType: 'Softmax',
      input: [masked ? 'biased' : 'scaled'],
      output: ['probs'],
      name: 'softmax',
      attribute: [{ name: 'axis', type: ATTRIBUTE_INT, i: -1 }],
    },
    { opType: 'MatMul', input: ['probs', 'v'], output: ['out'], name: 'weighted_sum' },
  ];
  const graph = {
    name: 'attention_matmul',
    node: nodes,
    initializer: [scalarInitializer('scale', scale)],
    input: inputs.map((input) => tensorInput(input.name, input.dims)),
    output: [tensorInput(output.name, output.dims)],
  };
  return { graph, inputs, output, opsets: [{ domain: '', version: OPSET }] };
}

/**
 * com.microsoft MultiHeadAttention: query [B, Lq, H·Dk], key [B, Lk, H·Dk], value [B, Lk, H·Dv];
 * `causal` sets unidirectional = 1 (onnxruntime-node ≥ 1.18 on CPU; checked against the oracle).
 */
export function mhaGraph(shape: CaseShape, scale: number, causal = false) {
  const { batch, qHeads, qLength, kvLength, headDim, valueDim } = shape;
  const inputs = [
    { name: 'query', dims: [batch, qLength, qHeads * headDim] },
    { name: 'key', dims: [batch, kvLength, qHeads * headDim] },
    { name: 'value', dims: [batch, kvLength, qHeads * valueDim] },
  ];
  const output = { name: 'out', dims: [batch, qLength, qHeads * valueDim] };
  const graph = {
    name: 'attention_mha',
    node: [
      {
        opType: 'MultiHeadAttention',
        domain: 'com.microsoft',
        input: ['query', 'key', 'value'],
        output: ['out'],
        name: 'mha',
        attribute: [
          { name: 'num_heads', type: ATTRIBUTE_INT, i: qHeads },
          { name: 'scale', type: ATTRIBUTE_FLOAT, f: scale },
          ...(causal ? [{ name: 'unidirectional', type: ATTRIBUTE_INT, i: 1 }] : []),
        ],
      },
    ],
    input: inputs.map((input) => tensorInput(input.name, input.dims)),
    output: [tensorInput(output.name, output.dims)],
  };
  return {
    graph,
    inputs,
    output,
    opsets: [
      { domain: '', version: OPSET },
      { domain: 'com.microsoft', version: 1 },
    ],
  };
}

/**
 * com.microsoft GroupQueryAttention, a prompt call without past: query [B, S, Hq·D], key and
 * value [B, S, Hkv·D], seqlens_k [B] int32 (= S − 1: the index of the last valid key),
 * total_sequence_length int32 scalar (= S). onnxruntime's CPU kernel needs D % 8 = 0.
 */
export function gqaGraph(shape: CaseShape, scale: number, windowLeft?: Reach) {
  const { batch, qHeads, kvHeads, qLength, headDim } = shape;
  const inputs = [
    { name: 'query', dims: [batch, qLength, qHeads * headDim] },
    { name: 'key', dims: [batch, qLength, kvHeads * headDim] },
    { name: 'value', dims: [batch, qLength, kvHeads * headDim] },
    { name: 'seqlens_k', dims: [batch], type: 'int32' as const },
    { name: 'total_sequence_length', dims: [], type: 'int32' as const },
  ];
  const output = { name: 'out', dims: [batch, qLength, qHeads * headDim] };
  const graph = {
    name: 'attention_gqa',
    node: [
      {
        opType: 'GroupQueryAttention',
        domain: 'com.microsoft',
        // Empty names: the optional past_key / past_value inputs are absent.
        input: ['query', 'key', 'value', '', '', 'seqlens_k', 'total_sequence_length'],
        output: ['out'],
        name: 'gqa',
        attribute: [
          { name: 'num_heads', type: ATTRIBUTE_INT, i: qHeads },
          { name: 'kv_num_heads', type: ATTRIBUTE_INT, i: kvHeads },
          { name: 'scale', type: ATTRIBUTE_FLOAT, f: scale },
          ...(typeof windowLeft === 'number'
            ? [{ name: 'local_window_size', type: ATTRIBUTE_INT, i: windowLeft + 1 }]
            : []),
        ],
      },
    ],
    input: inputs.map((input) => tensorInput(input.name, input.dims, input.type ? INT32 : FLOAT)),
    output: [tensorInput(output.name, output.dims)],
  };
  return {
    graph,
    inputs,
    output,
    opsets: [
      { domain: '', version: OPSET },
      { domain: 'com.microsoft', version: 1 },
    ],
  };
}

/**
 * com.microsoft GroupQueryAttention decoding one token with a past KV (onnxruntime's
 * docs/ContribOperators.md): query [S, 1, Hq·D], key and value [S, 1, Hkv·D] (the new token's),
 * past_key and past_value [S, Hkv, P, D] (BNSH; sequence s holds its first lengths[s] − 1 positions,
 * right-padded to P = the longest past), seqlens_k [S] int32 (= total length − 1 of each sequence),
 * total_sequence_length int32 scalar (= the longest total length). Outputs: the attention and the
 * present key/value [S, Hkv, P + 1, D] (past and new token: the op writes them, a caller carries them
 * to the next step). A finite window is `local_window_size` = window + 1 (it counts the new token).
 */
export function gqaDecodeGraph(shape: CaseShape, scale: number, pastLength: number, window?: number) {
  const { batch, qHeads, kvHeads, headDim } = shape;
  const inputs = [
    { name: 'query', dims: [batch, 1, qHeads * headDim] },
    { name: 'key', dims: [batch, 1, kvHeads * headDim] },
    { name: 'value', dims: [batch, 1, kvHeads * headDim] },
    { name: 'past_key', dims: [batch, kvHeads, pastLength, headDim] },
    { name: 'past_value', dims: [batch, kvHeads, pastLength, headDim] },
    { name: 'seqlens_k', dims: [batch], type: 'int32' as const },
    { name: 'total_sequence_length', dims: [], type: 'int32' as const },
  ];
  const output = { name: 'out', dims: [batch, 1, qHeads * headDim] };
  const present = [kvHeads, pastLength + 1, headDim];
  const graph = {
    name: 'attention_gqa_decode',
    node: [
      {
        opType: 'GroupQueryAttention',
        domain: 'com.microsoft',
        input: ['query', 'key', 'value', 'past_key', 'past_value', 'seqlens_k', 'total_sequence_length'],
        output: ['out', 'present_key', 'present_value'],
        name: 'gqa',
        attribute: [
          { name: 'num_heads', type: ATTRIBUTE_INT, i: qHeads },
          { name: 'kv_num_heads', type: ATTRIBUTE_INT, i: kvHeads },
          { name: 'scale', type: ATTRIBUTE_FLOAT, f: scale },
          ...(window !== undefined
            ? [{ name: 'local_window_size', type: ATTRIBUTE_INT, i: window + 1 }]
            : []),
        ],
      },
    ],
    input: inputs.map((input) => tensorInput(input.name, input.dims, input.type ? INT32 : FLOAT)),
    output: [
      tensorInput(output.name, output.dims),
      tensorInput('present_key', [batch, ...present]),
      tensorInput('present_value', [batch, ...present]),
    ],
  };
  return {
    graph,
    inputs,
    output,
    opsets: [
      { domain: '', version: OPSET },
      { domain: 'com.microsoft', version: 1 },
    ],
  };
}

/** The decode model's bytes (gqaDecodeGraph). */
export async function buildGqaDecodeModel(
  shape: CaseShape,
  scale: number,
  pastLength: number,
  window?: number,
): Promise<OnnxModelSpec> {
  const type = await onnxModelType();
  const built = gqaDecodeGraph(shape, scale, pastLength, window);
  const message = type.fromObject({
    irVersion: IR_VERSION,
    producerName: 'attnkit-bench',
    producerVersion: '1',
    graph: built.graph,
    opsetImport: built.opsets,
  });
  return { kind: 'gqa', bytes: type.encode(message).finish(), inputs: built.inputs, output: built.output };
}

export async function buildOnnxModel(
  kind: OnnxGraphKind,
  shape: CaseShape,
  scale: number,
  mask: MaskSpec,
): Promise<OnnxModelSpec> {
  // Which masks each graph can express is peers.ts's precheck; here each takes what it needs.
  const type = await onnxModelType();
  const built =
    kind === 'mha'
      ? mhaGraph(shape, scale, mask.causal)
      : kind === 'gqa'
        ? gqaGraph(shape, scale, mask.window?.[0])
        : matmulGraph(shape, scale, mask.causal || mask.window !== undefined);
  const message = type.fromObject({
    irVersion: IR_VERSION,
    producerName: 'attnkit-bench',
    producerVersion: '1',
    graph: built.graph,
    opsetImport: built.opsets,
  });
  return { kind, bytes: type.encode(message).finish(), inputs: built.inputs, output: built.output };
}

/** Decodes model bytes back to a plain object (tests, debugging). */
export async function decodeOnnxModel(bytes: Uint8Array): Promise<Record<string, unknown>> {
  const type = await onnxModelType();
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false });
}
