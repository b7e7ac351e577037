/**
 * Every class of malformed input (issue 2, item 5) with the argument the error must name.
 * Built around one valid call (q [1, 2, 4, 8], k/v [1, 2, 5, 8]); each class breaks one thing.
 */
import { randn, zeros } from '../tensor.js';
import type { AttentionOptions, Tensor } from '../types.js';

export interface MalformedInput {
  name: string;
  /** The AttentionInputError.argument the call must report. */
  argument: string;
  /** True when only the options are wrong (then notSupportedReasons must still not throw). */
  optionsOnly: boolean;
  build(): { q: Tensor; k: Tensor; v: Tensor; options: AttentionOptions };
}

const B = 1;
const H = 2;
const LQ = 4;
const LK = 5;
const D = 8;

function valid() {
  return { q: randn([B, H, LQ, D], 1), k: randn([B, H, LK, D], 2), v: randn([B, H, LK, D], 3) };
}

function withTensor(
  name: 'q' | 'k' | 'v',
  replacement: unknown,
  argument: string,
  label: string,
): MalformedInput {
  return {
    name: label,
    argument,
    optionsOnly: false,
    build() {
      const inputs = valid();
      return { ...inputs, [name]: replacement as Tensor, options: {} };
    },
  };
}

function withOptions(
  label: string,
  argument: string,
  options: (inputs: ReturnType<typeof valid>) => unknown,
) {
  return {
    name: label,
    argument,
    optionsOnly: true,
    build() {
      const inputs = valid();
      return { ...inputs, options: options(inputs) as AttentionOptions };
    },
  } satisfies MalformedInput;
}

export function malformedInputs(): MalformedInput[] {
  return [
    // Tensors: structure, dtype, rank, length.
    withTensor('q', null, 'q', 'q is null'),
    withTensor('k', { shape: [B, H, LK, D] }, 'k.data', 'k without data'),
    withTensor('q', randn([B, LQ, D], 1), 'q', 'q of rank 3'),
    withTensor('k', randn([B, H, LK, D, 1], 2), 'k', 'k of rank 5'),
    withTensor('v', randn([LK, D], 3), 'v', 'v of rank 2'),
    withTensor(
      'q',
      { data: new Float64Array(B * H * LQ * D), shape: [B, H, LQ, D] },
      'q.data',
      'q data is a Float64Array',
    ),
    withTensor(
      'v',
      { data: Array(B * H * LK * D).fill(0), shape: [B, H, LK, D] },
      'v.data',
      'v data is a plain array',
    ),
    withTensor(
      'k',
      { data: new Float32Array(B * H * LK * D - 1), shape: [B, H, LK, D] },
      'k.data',
      'k data one short',
    ),
    withTensor(
      'v',
      { data: new Float32Array(B * H * LK * D + 8), shape: [B, H, LK, D] },
      'v.data',
      'v data too long',
    ),
    withTensor('q', { data: new Float32Array(0), shape: [B, H, 0, D] }, 'q.shape', 'q with a zero dimension'),
    withTensor(
      'k',
      { data: new Float32Array(80), shape: [B, H, 2.5, 16] },
      'k.shape',
      'k with a fractional dimension',
    ),
    withTensor(
      'v',
      { data: new Float32Array(80), shape: [B, -H, LK, D] },
      'v.shape',
      'v with a negative dimension',
    ),
    // Cross-tensor agreement.
    withTensor('k', randn([2, H, LK, D], 2), 'k', 'batch mismatch (k)'),
    withTensor('v', randn([2, H, LK, D], 3), 'v', 'batch mismatch (v)'),
    withTensor('k', randn([B, H, LK, D + 1], 2), 'k', 'head dim mismatch between q and k'),
    withTensor('v', randn([B, H, LK + 1, D], 3), 'v', 'Lk mismatch between k and v'),
    withTensor('v', randn([B, 1, LK, D], 3), 'v', 'head count mismatch between k and v'),
    {
      name: 'Hq not a multiple of Hkv',
      argument: 'k',
      optionsOnly: false,
      build: () => ({
        q: randn([B, 6, LQ, D], 1),
        k: randn([B, 4, LK, D], 2),
        v: randn([B, 4, LK, D], 3),
        options: {},
      }),
    },
    // Options.
    withOptions('options is a number', 'options', () => 5),
    withOptions('scale NaN', 'options.scale', () => ({ scale: Number.NaN })),
    withOptions('scale Infinity', 'options.scale', () => ({ scale: Number.POSITIVE_INFINITY })),
    withOptions('scale 0', 'options.scale', () => ({ scale: 0 })),
    withOptions('scale a string', 'options.scale', () => ({ scale: '0.5' })),
    withOptions('causal not a boolean', 'options.causal', () => ({ causal: 1 })),
    withOptions('window negative', 'options.window', () => ({ window: [-1, 0] })),
    withOptions('window fractional', 'options.window', () => ({ window: [1, 0.5] })),
    withOptions('window NaN', 'options.window', () => ({ window: [Number.NaN, 2] })),
    withOptions('window of one number', 'options.window', () => ({ window: [3] })),
    withOptions('window -Infinity', 'options.window', () => ({ window: [Number.NEGATIVE_INFINITY, 0] })),
    withOptions('kvLengths too short', 'options.kvLengths', () => ({ kvLengths: [] })),
    withOptions('kvLengths too long', 'options.kvLengths', () => ({ kvLengths: [1, 2] })),
    withOptions('kvLengths above Lk', 'options.kvLengths', () => ({ kvLengths: [LK + 1] })),
    withOptions('kvLengths negative', 'options.kvLengths', () => ({ kvLengths: [-1] })),
    withOptions('kvLengths fractional', 'options.kvLengths', () => ({ kvLengths: new Float64Array([2.5]) })),
    withOptions('kvLengths not numbers', 'options.kvLengths', () => ({ kvLengths: ['3'] })),
    withOptions('out of wrong shape', 'options.out', () => ({ out: zeros([B, H, LQ, D + 1]) })),
    withOptions('out of wrong rank', 'options.out', () => ({ out: zeros([B * H, LQ, D]) })),
    withOptions('out data too short', 'options.out', () => ({
      out: { data: new Float32Array(3), shape: [B, H, LQ, D] },
    })),
    withOptions('out data a Float64Array', 'options.out', () => ({
      out: { data: new Float64Array(B * H * LQ * D), shape: [B, H, LQ, D] },
    })),
    withOptions('out aliasing q', 'options.out', (inputs) => ({ out: inputs.q })),
    withOptions('out overlapping v', 'options.out', (inputs) => ({
      out: { data: new Float32Array(inputs.v.data.buffer, 0, B * H * LQ * D), shape: [B, H, LQ, D] },
    })),
    withOptions('lse of wrong length', 'options.lse', () => ({ lse: new Float32Array(B * H * LQ + 1) })),
    withOptions('lse a Float64Array', 'options.lse', () => ({ lse: new Float64Array(B * H * LQ) })),
    withOptions('lse aliasing k', 'options.lse', (inputs) => ({
      lse: inputs.k.data.subarray(0, B * H * LQ),
    })),
  ];
}
