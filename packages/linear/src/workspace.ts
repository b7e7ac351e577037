/**
 * The scratch buffers one linear-attention call places in the arena, and their analytic size
 * (workspaceBytes). Both forms work on blocks of rows, keys and queries alike: the non-causal form
 * on blocks of QUERY_BLOCK rows; the chunked causal form on chunks of C rows, plus a C × C score tile.
 * Memory: O(R·m) for a key block and a query block + O(m·dv) for the state + O(C²) for the tile,
 * independent of the sequence length.
 */
import type { Arena } from '@attnkit/kernels/runtime';

/** Query rows per block in the non-causal form: long gemm calls, φ(Q) block of 256·m floats. */
export const QUERY_BLOCK = 256;

export interface LinearBuffers {
  /** φ(K) of one key block [rows × m]. */
  readonly phiK: number;
  /** φ(Q) of one block / chunk [rows × m]. */
  readonly phiQ: number;
  /** S = Σ φ(k) vᵀ [m × dv]. */
  readonly state: number;
  /** z = Σ φ(k) [m]. */
  readonly normaliser: number;
  /** φ(q)·z per row [rows]. */
  readonly den: number;
  /** Per-row scratch [rows]. */
  readonly rowStat: number;
  /** FAVOR+ |x'|²/2 per key of a block [rows]. */
  readonly diag: number;
  /** Causal: the masked φ(Q_c)·φ(K_c)ᵀ tile [C × C]. */
  readonly scores: number;
  /** Causal: C ones, for the tile's row sums as a gemm. */
  readonly ones: number;
}

export interface BufferSizes {
  readonly phiK: number;
  readonly phiQ: number;
  readonly state: number;
  readonly normaliser: number;
  readonly den: number;
  readonly rowStat: number;
  readonly diag: number;
  readonly scores: number;
  readonly ones: number;
}

/** Float counts of each buffer; `blockRows` = rows (queries or keys) processed at once. */
export function bufferSizes(
  causal: boolean,
  blockRows: number,
  features: number,
  valueDim: number,
  favor: boolean,
): BufferSizes {
  return {
    phiK: blockRows * features,
    phiQ: blockRows * features,
    state: features * valueDim,
    normaliser: features,
    den: blockRows,
    rowStat: blockRows,
    diag: favor ? blockRows : 0,
    scores: causal ? blockRows * blockRows : 0,
    ones: causal ? blockRows : 0,
  };
}

export function totalFloats(sizes: BufferSizes): number {
  return (
    sizes.phiK +
    sizes.phiQ +
    sizes.state +
    sizes.normaliser +
    sizes.den +
    sizes.rowStat +
    sizes.diag +
    sizes.scores +
    sizes.ones
  );
}

/** Allocates every buffer (inside the caller's mark) and fills `ones`. */
export function allocateBuffers(arena: Arena, sizes: BufferSizes): LinearBuffers {
  const buffers: LinearBuffers = {
    phiK: arena.alloc(sizes.phiK),
    phiQ: arena.alloc(sizes.phiQ),
    state: arena.alloc(sizes.state),
    normaliser: arena.alloc(sizes.normaliser),
    den: arena.alloc(sizes.den),
    rowStat: arena.alloc(sizes.rowStat),
    diag: arena.alloc(sizes.diag),
    scores: arena.alloc(sizes.scores),
    ones: arena.alloc(sizes.ones),
  };
  arena.heap.fill(1, buffers.ones, buffers.ones + sizes.ones);
  return buffers;
}
