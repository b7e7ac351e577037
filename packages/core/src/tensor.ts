/**
 * Tensor constructors (docs/design.md, Tensors). A tensor is a plain `{ data: Float32Array, shape }` object,
 * row-major and contiguous. Every dimension is a positive integer: empty tensors are refused
 * rather than carried through kernels that would have nothing to do.
 * Time O(numel) for zeros/randn; `tensor` wraps a Float32Array without copying.
 */
import { AttentionInputError, describeValue } from './errors.js';
import { createRng } from './rng.js';
import type { Tensor } from './types.js';

/** Product of the dimensions (1 for a rank-0 shape). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const dim of shape) n *= dim;
  return n;
}

function checkShape(shape: unknown, argument: string): readonly number[] {
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isInteger(dim) && dim > 0)) {
    throw new AttentionInputError(
      argument,
      'an array of positive integer dimensions',
      describeValue(shape),
      'Every dimension must be an integer >= 1.',
    );
  }
  return shape as readonly number[];
}

/**
 * Wraps `data` as a tensor of `shape`. A Float32Array is used as is (no copy, so writes are
 * shared); a plain number array is copied into a new Float32Array (rounded to float32).
 */
export function tensor(data: Float32Array | readonly number[], shape: readonly number[]): Tensor {
  const dims = checkShape(shape, 'shape');
  let values: Float32Array;
  if (data instanceof Float32Array) values = data;
  else if (Array.isArray(data)) values = Float32Array.from(data as readonly number[]);
  else {
    throw new AttentionInputError(
      'data',
      'a Float32Array or an array of numbers',
      describeValue(data),
      'Convert other typed arrays with Float32Array.from(data).',
    );
  }
  const expected = numel(dims);
  if (values.length !== expected) {
    throw new AttentionInputError(
      'data',
      `${expected} values for shape [${dims.join(', ')}]`,
      `${values.length} values`,
      'The data length must equal the product of the shape.',
    );
  }
  return { data: values, shape: [...dims] };
}

/** A new tensor of zeros. */
export function zeros(shape: readonly number[]): Tensor {
  const dims = checkShape(shape, 'shape');
  return { data: new Float32Array(numel(dims)), shape: [...dims] };
}

/**
 * A tensor of independent N(0, std²) samples from `createRng(seed)`: the same bits on every
 * platform and engine (see rng.ts for why that holds).
 */
export function randn(shape: readonly number[], seed: number, std = 1): Tensor {
  const dims = checkShape(shape, 'shape');
  if (!Number.isFinite(std)) {
    throw new AttentionInputError('std', 'a finite number', describeValue(std));
  }
  const rng = createRng(seed);
  const data = new Float32Array(numel(dims));
  for (let i = 0; i < data.length; i++) data[i] = rng.nextNormal() * std;
  return { data, shape: [...dims] };
}
