/**
 * FAVOR+'s random projection W [m × d] (Choromanski et al. 2021, "Rethinking Attention with
 * Performers", §2.4 and create_projection_matrix in google-research/performer):
 * ⌈m/d⌉ blocks of d × d standard Gaussians from core's portable RNG, each block's rows made
 * orthonormal by modified Gram–Schmidt applied twice (the second pass restores orthogonality that
 * rounding lost in the first: "twice is enough", Giraud et al. 2005), the last block truncated to the
 * remaining rows; then row r is rescaled to the norm of a fresh d-dimensional Gaussian vector, so
 * every row is marginally N(0, I_d) (chi(d)-distributed norms) while rows within a block stay exactly
 * orthogonal, which lowers the estimator's variance against i.i.d. rows.
 *
 * Draw order (so a seed means the same W everywhere): block 0 row-major, block 1, …, then m rows of
 * d normals for the norms. All arithmetic is float64 + − × ÷ √ (exactly rounded), so the matrix is
 * bit-identical on every engine; it is stored as float32, the precision the kernels compute in.
 * Time O(⌈m/d⌉·d³ + m·d); memory O(m·d). Results are cached per (d, m, seed).
 */
import { createRng, parseOptions, z } from '@attnkit/core';
import { MAX_FEATURES } from './options.js';

const projectionArgumentsSchema = z.object({
  headDim: z.number().int().min(1).max(MAX_FEATURES),
  features: z.number().int().min(1).max(MAX_FEATURES),
  seed: z.number().int(),
});

const CACHE_LIMIT = 8;
const cache = new Map<string, Float32Array>();

/**
 * Orthonormalises the d rows of `block` (d × d, row-major) in place. A row that comes out
 * (numerically) dependent on the earlier ones is redrawn from `nextNormal`, which a continuous
 * Gaussian makes a probability-zero event, but the loop must still terminate correctly.
 */
function orthonormaliseRows(block: Float64Array, d: number, nextNormal: () => number): void {
  for (let r = 0; r < d; r++) {
    const row = r * d;
    for (;;) {
      let before = 0;
      for (let c = 0; c < d; c++) before += block[row + c]! * block[row + c]!;
      for (let pass = 0; pass < 2; pass++) {
        for (let p = 0; p < r; p++) {
          const prev = p * d;
          let dot = 0;
          for (let c = 0; c < d; c++) dot += block[row + c]! * block[prev + c]!;
          for (let c = 0; c < d; c++) block[row + c] = block[row + c]! - dot * block[prev + c]!;
        }
      }
      let after = 0;
      for (let c = 0; c < d; c++) after += block[row + c]! * block[row + c]!;
      if (after > 1e-20 * before && after > 0) {
        const inv = 1 / Math.sqrt(after);
        for (let c = 0; c < d; c++) block[row + c] = block[row + c]! * inv;
        break;
      }
      for (let c = 0; c < d; c++) block[row + c] = nextNormal();
    }
  }
}

function buildProjection(headDim: number, features: number, seed: number): Float32Array {
  const d = headDim;
  const m = features;
  const rng = createRng(seed);
  const nextNormal = () => rng.nextNormal();
  const projection = new Float32Array(m * d);
  const block = new Float64Array(d * d);
  const directions = new Float64Array(m * d);
  // 1. orthogonal directions, block by block
  for (let first = 0; first < m; first += d) {
    for (let i = 0; i < d * d; i++) block[i] = rng.nextNormal();
    orthonormaliseRows(block, d, nextNormal);
    const rows = Math.min(d, m - first);
    directions.set(block.subarray(0, rows * d), first * d);
  }
  // 2. chi(d) norms: the length of a fresh Gaussian vector per row
  for (let r = 0; r < m; r++) {
    let squared = 0;
    for (let c = 0; c < d; c++) {
      const g = rng.nextNormal();
      squared += g * g;
    }
    const norm = Math.sqrt(squared);
    for (let c = 0; c < d; c++) projection[r * d + c] = directions[r * d + c]! * norm;
  }
  return projection;
}

/** The shared, cached projection: callers must not write to it. */
export function sharedFavorProjection(headDim: number, features: number, seed: number): Float32Array {
  const key = `${headDim}:${features}:${seed}`;
  let projection = cache.get(key);
  if (projection) {
    // refresh its place in the insertion order (least recently used goes first)
    cache.delete(key);
  } else {
    projection = buildProjection(headDim, features, seed);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  }
  cache.set(key, projection);
  return projection;
}

/**
 * FAVOR+'s projection W [features × headDim] (row-major) for `seed`: the matrix linearAttention
 * uses with featureMap 'favor'. Returns a copy.
 */
export function favorProjection(headDim: number, features: number, seed: number): Float32Array {
  parseOptions(projectionArgumentsSchema, { headDim, features, seed }, 'favorProjection');
  return sharedFavorProjection(headDim, features, seed).slice();
}
