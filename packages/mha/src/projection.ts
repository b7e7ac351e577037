/**
 * Affine projections on the kernels' GEMM: y = x·W + b with x as rows [rows, in] and W stored
 * [in, out] (row vectors times matrices, the layout of the layer's weights).
 * The bias is broadcast into y first and the GEMM accumulates onto it (beta = 1), so the bias costs
 * one row copy per token and no second pass.
 * Time O(rows·in·out) in gemmNN plus O(rows·out) for the bias; extra memory: none beyond the
 * caller's arena buffers (projectRows) or x, W and y in the arena for one call (linearLayer).
 */
import { AttentionInputError, parseOptions, type Tensor, z } from '@attnkit/core';
import { type BackendChoice, type Engine, engineOptionsSchema, getEngine } from '@attnkit/kernels';
import { checkTensorArgument } from './validate.js';

// Strict: the GEMM runs on one thread, so a `threads` option would be ignored; refuse it instead.
const linearLayerOptionsSchema = z.strictObject({ backend: engineOptionsSchema.shape.backend });

/**
 * y[rows × outDim] = x[rows × inDim] · w[inDim × outDim] (+ bias[outDim]); x, w, y are arena
 * offsets of the engine; bias (a host array) is copied into every row of y before the GEMM.
 */
export function projectRows(
  engine: Engine,
  rows: number,
  inDim: number,
  outDim: number,
  x: number,
  w: number,
  bias: Float32Array | null,
  y: number,
): void {
  if (bias) {
    const heap = engine.arena.heap;
    for (let r = 0; r < rows; r++) heap.set(bias, y + r * outDim);
  }
  engine.ops.gemmNN(rows, outDim, inDim, x, inDim, w, outDim, y, outDim, 1, bias ? 1 : 0);
}

/**
 * `x·weight + bias` over the last dimension of x: x [..., in], weight [in, out], bias [out] →
 * [..., out]. The layer's own projections use the same GEMM; this is the public form (an MLP in a
 * transformer block, a tied unembedding).
 */
export function linearLayer(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor,
  options?: { backend?: BackendChoice },
): Tensor {
  checkTensorArgument(weight, 'weight', 2, '[in, out]');
  if (!(typeof x === 'object' && x !== null && Array.isArray(x.shape) && x.shape.length >= 1)) {
    throw new AttentionInputError('x', 'a tensor of rank >= 1 [..., in]', 'no shape or an empty one');
  }
  checkTensorArgument(x, 'x', x.shape.length, '[..., in]');
  const inDim = x.shape[x.shape.length - 1]!;
  const [weightIn, outDim] = weight.shape as [number, number];
  if (weightIn !== inDim) {
    throw new AttentionInputError(
      'weight',
      `${inDim} rows (the last dimension of x)`,
      `${weightIn} rows (shape [${weight.shape.join(', ')}])`,
      'The weight is [in, out]: transpose a PyTorch [out, in] matrix.',
    );
  }
  if (bias !== undefined) {
    checkTensorArgument(bias, 'bias', 1, '[out]');
    if (bias.shape[0] !== outDim) {
      throw new AttentionInputError('bias', `shape [${outDim}]`, `shape [${bias.shape.join(', ')}]`);
    }
  }
  const { backend } = parseOptions(linearLayerOptionsSchema, options ?? {}, 'options');
  const engine = getEngine(backend);
  const rows = x.data.length / inDim;
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const xOffset = arena.put(x.data);
    const wOffset = arena.put(weight.data);
    const yOffset = arena.alloc(rows * outDim);
    projectRows(engine, rows, inDim, outDim, xOffset, wOffset, bias ? bias.data : null, yOffset);
    const out = new Float32Array(rows * outDim);
    arena.read(yOffset, rows * outDim, out);
    return { data: out, shape: [...x.shape.slice(0, -1), outDim] };
  } finally {
    arena.release(mark);
  }
}
