/**
 * Child process running one peer on one case (forked by the runner): builds the same seeded
 * inputs as the parent, prepares the peer (model build + session, or tfjs tensors) outside the
 * timing, runs one validating call, times it with tinybench, reads peak RSS, and replies with
 * the output rows the parent checks against the oracle.
 */
import { serveOnce } from '../child.js';
import { copyPositions, makeDecodeInputs } from '../decode-inputs.js';
import { type AttentionInputs, lastRows, makeInputs } from '../inputs.js';
import { packageVersion } from '../machine.js';
import { callPeak, readRss } from '../rss.js';
import type { CaseShape, MaskSpec } from '../suite.js';
import { timeAsync } from '../timing.js';
import { additiveMask, bhsdToBshd, bshdToBhsd } from './layout.js';
import { buildGqaDecodeModel, buildOnnxModel, type OnnxGraphKind } from './onnx-model.js';
import { isMasked, PEERS, type PeerReply, type PeerRequest } from './peers.js';

interface PreparedPeer {
  readonly call: () => Promise<Float32Array>;
  /** Converts the peer's output to BHSD [B, Hq, Lq, Dv]. */
  readonly toBhsd: (out: Float32Array) => Float32Array;
  readonly version: string | null;
  readonly threadsUsed: number;
  readonly notes: string[];
}

interface OrtTensorConstructor {
  new (type: 'float32', data: Float32Array, dims: readonly number[]): unknown;
  new (type: 'int32', data: Int32Array, dims: readonly number[]): unknown;
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>>;
}
interface OrtModule {
  Tensor: OrtTensorConstructor;
  InferenceSession: { create(model: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
  env: { wasm?: { numThreads?: number } };
}

function feedsFor(
  ort: OrtModule,
  graph: OnnxGraphKind,
  shape: CaseShape,
  mask: MaskSpec,
  inputs: AttentionInputs,
): Record<string, unknown> {
  const { q, k, v } = inputs;
  if (graph === 'mha' || graph === 'gqa') {
    const fused: Record<string, unknown> = {
      query: new ort.Tensor('float32', bhsdToBshd(q.data, q.shape), [
        shape.batch,
        shape.qLength,
        shape.qHeads * shape.headDim,
      ]),
      key: new ort.Tensor('float32', bhsdToBshd(k.data, k.shape), [
        shape.batch,
        shape.kvLength,
        shape.kvHeads * shape.headDim,
      ]),
      value: new ort.Tensor('float32', bhsdToBshd(v.data, v.shape), [
        shape.batch,
        shape.kvLength,
        shape.kvHeads * shape.valueDim,
      ]),
    };
    if (graph === 'gqa') {
      // A prompt without past: every batch entry's last valid key is S − 1, the total length S.
      fused.seqlens_k = new ort.Tensor('int32', new Int32Array(shape.batch).fill(shape.kvLength - 1), [
        shape.batch,
      ]);
      fused.total_sequence_length = new ort.Tensor('int32', Int32Array.of(shape.kvLength), []);
    }
    return fused;
  }
  const feeds: Record<string, unknown> = {
    q: new ort.Tensor('float32', q.data, q.shape),
    k: new ort.Tensor('float32', k.data, k.shape),
    v: new ort.Tensor('float32', v.data, v.shape),
  };
  if (isMasked(mask))
    feeds.mask = new ort.Tensor('float32', additiveMask(shape, mask), [shape.qLength, shape.kvLength]);
  return feeds;
}

async function prepareOrt(
  request: PeerRequest,
  inputs: AttentionInputs,
  web: boolean,
): Promise<PreparedPeer> {
  const packageName = web ? 'onnxruntime-web' : 'onnxruntime-node';
  const ort = (await import(packageName)) as unknown as OrtModule;
  const graph = PEERS[request.peer].graph;
  const { shape, mask } = request;
  const model = await buildOnnxModel(graph, shape, 1 / Math.sqrt(shape.headDim), mask);
  const notes: string[] = [];
  let threadsUsed = request.threads;
  const sessionOptions: Record<string, unknown> = { graphOptimizationLevel: 'all' };
  if (web) {
    if (ort.env.wasm) ort.env.wasm.numThreads = request.threads;
    sessionOptions.executionProviders = ['wasm'];
  } else {
    // Intra-op threads = the thread count being compared; one inter-op thread, sequential graph.
    Object.assign(sessionOptions, {
      executionProviders: ['cpu'],
      intraOpNumThreads: request.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
  }
  const session = await ort.InferenceSession.create(model.bytes, sessionOptions);
  if (web) threadsUsed = ort.env.wasm?.numThreads ?? 1;
  if (graph !== 'matmul') notes.push('inputs given as [B, S, H·D] (layout change outside the timing)');
  const feeds = feedsFor(ort, graph, shape, mask, inputs);
  const call = async () => {
    const result = await session.run(feeds);
    const out = result[model.output.name];
    if (!out || !(out.data instanceof Float32Array)) throw new Error('session returned no float32 output');
    return out.data;
  };
  const toBhsd =
    graph !== 'matmul'
      ? (out: Float32Array) => bshdToBhsd(out, [shape.batch, shape.qLength, shape.qHeads, shape.valueDim])
      : (out: Float32Array) => out;
  return { call, toBhsd, version: packageVersion(packageName), threadsUsed, notes };
}

/**
 * GroupQueryAttention decoding one token per sequence: the past is each sequence's positions but
 * the last (right-padded to the longest), the new token's key and value go in key / value; the same
 * seeded chunks as the parent's caches, so the parent's oracle checks the output.
 */
async function prepareOrtDecode(request: PeerRequest): Promise<PreparedPeer> {
  const decode = request.decode!;
  const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
  const { shape } = request;
  const { kvHeads, qHeads, headDim } = shape;
  const S = decode.lengths.length;
  const past = Math.max(...decode.lengths) - 1;
  const inputs = makeDecodeInputs(shape, decode.lengths, decode.chunk, request.seed);
  const model = await buildGqaDecodeModel(shape, 1 / Math.sqrt(headDim), past, decode.window);
  const session = await ort.InferenceSession.create(model.bytes, {
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    intraOpNumThreads: request.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const pastKey = new Float32Array(S * kvHeads * past * headDim);
  const pastValue = new Float32Array(S * kvHeads * past * headDim);
  const key = new Float32Array(S * kvHeads * headDim);
  const value = new Float32Array(S * kvHeads * headDim);
  decode.lengths.forEach((length, s) => {
    for (let g = 0; g < kvHeads; g++) {
      const row = (s * kvHeads + g) * past * headDim;
      copyPositions(inputs.chunks[s]!, 'k', g, 0, length - 1, pastKey, row);
      copyPositions(inputs.chunks[s]!, 'v', g, 0, length - 1, pastValue, row);
      copyPositions(inputs.chunks[s]!, 'k', g, length - 1, length, key, (s * kvHeads + g) * headDim);
      copyPositions(inputs.chunks[s]!, 'v', g, length - 1, length, value, (s * kvHeads + g) * headDim);
    }
  });
  const feeds: Record<string, unknown> = {
    // [S, Hq, 1, D] is [S, 1, Hq·D] in memory: no layout change for one token.
    query: new ort.Tensor('float32', inputs.q.data, [S, 1, qHeads * headDim]),
    key: new ort.Tensor('float32', key, [S, 1, kvHeads * headDim]),
    value: new ort.Tensor('float32', value, [S, 1, kvHeads * headDim]),
    past_key: new ort.Tensor('float32', pastKey, [S, kvHeads, past, headDim]),
    past_value: new ort.Tensor('float32', pastValue, [S, kvHeads, past, headDim]),
    seqlens_k: new ort.Tensor(
      'int32',
      Int32Array.from(decode.lengths, (length) => length - 1),
      [S],
    ),
    total_sequence_length: new ort.Tensor('int32', Int32Array.of(past + 1), []),
  };
  const call = async () => {
    const result = await session.run(feeds);
    const out = result[model.output.name];
    if (!out || !(out.data instanceof Float32Array)) throw new Error('session returned no float32 output');
    return out.data;
  };
  return {
    call,
    toBhsd: (out) => out,
    version: packageVersion('onnxruntime-node'),
    threadsUsed: request.threads,
    notes: [
      'past_key/past_value [S, Hkv, P, D] separate from present_key/present_value (no shared buffer): each call also writes the present copy',
    ],
  };
}

interface TfTensor {
  dispose(): void;
  dataSync(): Float32Array;
}
interface TfCore {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  tensor(values: Float32Array, shape: readonly number[], dtype: 'float32'): TfTensor;
  tidy<T>(fn: () => T): T;
  matMul(a: TfTensor, b: TfTensor, transposeA: boolean, transposeB: boolean): TfTensor;
  mul(a: TfTensor, b: number | TfTensor): TfTensor;
  add(a: TfTensor, b: TfTensor): TfTensor;
  softmax(logits: TfTensor): TfTensor;
  scalar(value: number): TfTensor;
}

async function prepareTfjs(request: PeerRequest, inputs: AttentionInputs): Promise<PreparedPeer> {
  const tf = (await import('@tensorflow/tfjs-core')) as unknown as TfCore;
  const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as {
    setThreadsCount(n: number): void;
    getThreadsCount(): number;
  };
  wasm.setThreadsCount(request.threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  await tf.ready();
  const { shape, mask } = request;
  const q = tf.tensor(inputs.q.data, inputs.q.shape, 'float32');
  const k = tf.tensor(inputs.k.data, inputs.k.shape, 'float32');
  const v = tf.tensor(inputs.v.data, inputs.v.shape, 'float32');
  const scale = tf.scalar(1 / Math.sqrt(shape.headDim));
  const maskTensor = isMasked(mask)
    ? tf.tensor(additiveMask(shape, mask), [shape.qLength, shape.kvLength], 'float32')
    : null;
  const call = async () => {
    const out = tf.tidy(() => {
      const scores = tf.mul(tf.matMul(q, k, false, true), scale);
      const probs = tf.softmax(maskTensor ? tf.add(scores, maskTensor) : scores);
      return tf.matMul(probs, v, false, false);
    });
    // dataSync forces the computation; it is part of what a user pays to get the result.
    const data = out.dataSync();
    out.dispose();
    return data;
  };
  return {
    call,
    toBhsd: (out) => out,
    version: packageVersion('@tensorflow/tfjs-backend-wasm'),
    threadsUsed: wasm.getThreadsCount(),
    notes: [],
  };
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function prepare(request: PeerRequest): Promise<PreparedPeer> {
  if (request.decode) return prepareOrtDecode(request);
  const inputs = makeInputs(request.shape, request.seed);
  return request.peer === 'tfjs-wasm'
    ? prepareTfjs(request, inputs)
    : prepareOrt(request, inputs, request.peer.startsWith('ort-web'));
}

export async function runPeer(request: PeerRequest): Promise<PeerReply> {
  const prepared = await prepare(request);
  collectGarbage();
  const before = readRss();
  const start = performance.now();
  const first = await prepared.call();
  const firstMs = performance.now() - start;
  const outShape = [request.shape.batch, request.shape.qHeads, request.shape.qLength, request.shape.valueDim];
  const rows = lastRows(prepared.toBhsd(first), outShape, request.rowsPerHead);
  const timing = await timeAsync(prepared.call, request.timing, firstMs, request.flops);
  const memory = callPeak(before, readRss());
  return {
    version: prepared.version,
    threadsUsed: prepared.threadsUsed,
    rows,
    timing,
    memory,
    notes: prepared.notes,
  };
}

serveOnce<PeerRequest, PeerReply>(runPeer);
