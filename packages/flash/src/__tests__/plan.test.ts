import {
  type AttentionOptions,
  type AttentionProblem,
  blockSparseMask,
  createRng,
  documentMask,
  isVisibleIn,
  predicateMask,
  prefixLMMask,
  problemForShape,
} from '@attnkit/core';
import { BLOCK_FULL, emptyRowSpan, rowSpan } from '@attnkit/kernels/runtime';
import { describe, expect, it } from 'vitest';
import { countKeyBlocks, emptyKeyTile, nextKeyTile } from '../plan.js';

/** The old band geometry as a problem (one batch entry, one head). */
interface MaskGeometry {
  qLength: number;
  kvLength: number;
  windowLeft: number;
  windowRight: number;
  validKeys: number;
}

function problemOf(geometry: MaskGeometry, extra: AttentionOptions = {}): AttentionProblem {
  const { qLength, kvLength, windowLeft, windowRight, validKeys } = geometry;
  const options: AttentionOptions = { ...extra };
  if (windowLeft !== Infinity || windowRight !== Infinity) options.window = [windowLeft, windowRight];
  if (validKeys !== kvLength) options.kvLengths = [validKeys];
  const shape = { batch: 1, qHeads: 1, kvHeads: 1, qLength, kvLength, headDim: 4, valueDim: 4 };
  return problemForShape(shape, options);
}

/**
 * Checks the tiles against the mask itself (core's isVisibleIn, the single source of truth), pair by
 * pair: every visible pair lies inside a visited tile, every key of the rows' union is visible to some
 * row (the union is tight), and every tile that skips the mask is visible to every row.
 */
function checkPlanAgainstMask(problem: AttentionProblem, blockQ: number, blockK: number): void {
  const { qLength, kvLength } = problem;
  const visible = (row: number, key: number) => isVisibleIn(problem, 0, 0, row, key);
  const span = emptyRowSpan();
  const tile = emptyKeyTile();
  for (let rowStart = 0; rowStart < qLength; rowStart += blockQ) {
    const rowEnd = Math.min(rowStart + blockQ, qLength);
    rowSpan(problem, 0, rowStart, rowEnd, span);
    const where = `Lq ${qLength}, Lk ${kvLength}, blocks ${blockQ}×${blockK}, rows [${rowStart}, ${rowEnd})`;
    const visited = new Uint8Array(kvLength);
    let from = span.first;
    while (nextKeyTile(problem, span, 0, 0, rowStart, rowEnd, from, span.end, blockK, tile)) {
      expect(tile.end - tile.start).toBeLessThanOrEqual(blockK);
      for (let key = tile.start; key < tile.end; key++) visited[key] = 1;
      if (tile.cls === BLOCK_FULL) {
        for (let row = rowStart; row < rowEnd; row++) {
          for (let key = tile.start; key < tile.end; key++) {
            if (!visible(row, key))
              expect.fail(`${where}: unmasked tile at ${tile.start} hides (${row}, ${key})`);
          }
        }
      }
      from = tile.end;
    }
    for (let key = 0; key < kvLength; key++) {
      let anyRow = false;
      for (let row = rowStart; row < rowEnd; row++) anyRow ||= visible(row, key);
      if (anyRow && !visited[key]) expect.fail(`${where}: key ${key} is visible but never visited`);
      if (problem.generalMask === null && problem.documents === null) {
        const inside = key >= span.first && key < span.end;
        if (anyRow !== inside)
          expect.fail(`${where}: key ${key} visible=${anyRow} but in the union=${inside}`);
      }
    }
  }
}

describe('nextKeyTile', () => {
  it('matches the mask pair by pair on awkward fixed geometries', () => {
    const geometries: MaskGeometry[] = [
      // dense, causal, Lq < Lk (decoding-like), Lq > Lk (rows with nothing), windows, padding
      { qLength: 13, kvLength: 13, windowLeft: Infinity, windowRight: Infinity, validKeys: 13 },
      { qLength: 13, kvLength: 13, windowLeft: Infinity, windowRight: 0, validKeys: 13 },
      { qLength: 5, kvLength: 17, windowLeft: Infinity, windowRight: 0, validKeys: 17 },
      { qLength: 17, kvLength: 5, windowLeft: Infinity, windowRight: 0, validKeys: 5 },
      { qLength: 31, kvLength: 31, windowLeft: 4, windowRight: 0, validKeys: 31 },
      { qLength: 31, kvLength: 23, windowLeft: 3, windowRight: 2, validKeys: 19 },
      { qLength: 9, kvLength: 9, windowLeft: 100, windowRight: 100, validKeys: 9 },
      { qLength: 9, kvLength: 9, windowLeft: 0, windowRight: 0, validKeys: 9 },
      { qLength: 11, kvLength: 14, windowLeft: Infinity, windowRight: Infinity, validKeys: 0 },
      { qLength: 11, kvLength: 14, windowLeft: Infinity, windowRight: 0, validKeys: 6 },
    ];
    for (const geometry of geometries) {
      for (const [blockQ, blockK] of [
        [1, 1],
        [3, 5],
        [4, 4],
        [64, 64],
      ] as const) {
        checkPlanAgainstMask(problemOf(geometry), blockQ, blockK);
      }
    }
  });

  it('matches documents, prefix-LM, block-sparse and predicate masks pair by pair', () => {
    const square = (n: number): MaskGeometry => ({
      qLength: n,
      kvLength: n,
      windowLeft: Infinity,
      windowRight: Infinity,
      validKeys: n,
    });
    const layout = Array.from({ length: 4 }, (_, i) =>
      Array.from({ length: 4 }, (_, j) => (i + 2 * j) % 3 === 0),
    );
    const problems = [
      problemOf({ ...square(150), windowRight: 0 }, { mask: documentMask([0, 0, 1, 70, 70, 150]) }),
      problemOf({ ...square(150), windowLeft: 9, windowRight: 3 }, { mask: documentMask([0, 64, 150]) }),
      problemOf(
        { qLength: 5, kvLength: 200, windowLeft: Infinity, windowRight: 0, validKeys: 200 },
        { mask: documentMask([0, 1, 2, 2, 5], [0, 80, 81, 150, 200]) },
      ),
      problemOf(square(130), { mask: prefixLMMask(40) }),
      problemOf(square(190), { mask: blockSparseMask(layout, 48, 48) }),
      problemOf(square(140), { mask: predicateMask((_b, _h, i, j) => j <= i && (i + j) % 5 !== 0) }),
      problemOf({ ...square(140), validKeys: 100 }, { mask: blockSparseMask(layout, 35, 35) }),
    ];
    for (const problem of problems) {
      for (const [blockQ, blockK] of [
        [1, 1],
        [7, 30],
        [64, 64],
        [64, 256],
      ] as const) {
        checkPlanAgainstMask(problem, blockQ, blockK);
      }
    }
  });

  it('a block-sparse layout of 64-blocks visits exactly its non-empty blocks, unmasked', () => {
    const n = 1024;
    const blocks = n / 64;
    const layout = Array.from({ length: blocks }, (_, i) =>
      Array.from({ length: blocks }, (_, j) => (i * 5 + j * 3) % 8 === 0),
    );
    const on = layout.flat().filter(Boolean).length;
    const counts = countKeyBlocks(problemOf(square1024()), 64, 64);
    expect(counts.visited).toBe(blocks * blocks);
    const sparse = countKeyBlocks(problemOf(square1024(), { mask: blockSparseMask(layout, 64) }), 64, 64);
    expect(sparse.visited).toBe(on);
    expect(sparse.masked).toBe(0);
    // with wide tiles the skipping holds: tiles are laid over runs of non-empty columns only
    const wide = countKeyBlocks(problemOf(square1024(), { mask: blockSparseMask(layout, 64) }), 64, 256);
    expect(wide.visited).toBeLessThanOrEqual(on);
    expect(wide.masked).toBe(0);
  });

  it('matches the mask on seeded random geometries', () => {
    const rng = createRng(20240607);
    const int = (below: number) => Math.floor(rng.nextFloat() * below);
    for (let trial = 0; trial < 150; trial++) {
      const qLength = 1 + int(40);
      const kvLength = 1 + int(40);
      const geometry: MaskGeometry = {
        qLength,
        kvLength,
        windowLeft: rng.nextFloat() < 0.3 ? Infinity : int(12),
        windowRight: rng.nextFloat() < 0.3 ? Infinity : int(6),
        validKeys: rng.nextFloat() < 0.5 ? kvLength : int(kvLength + 1),
      };
      checkPlanAgainstMask(problemOf(geometry), 1 + int(9), 1 + int(9));
    }
  });

  it('a causal N = 1024 sweep visits about half the key tiles, masking only the diagonal', () => {
    const n = 1024;
    const block = 64;
    const counts = countKeyBlocks(
      problemOf({ qLength: n, kvLength: n, windowLeft: Infinity, windowRight: 0, validKeys: n }),
      block,
      block,
    );
    const blocks = n / block;
    // Query block i visits key tiles 0..i: the lower triangle with its diagonal, n(n+1)/2 of n² tiles.
    expect(counts.dense).toBe(blocks * blocks);
    expect(counts.visited).toBe((blocks * (blocks + 1)) / 2);
    expect(counts.visited / counts.dense).toBeLessThan(0.54);
    // Only the diagonal tile of each query block straddles the causal edge.
    expect(counts.masked).toBe(blocks);
  });

  it('a window visits O(N · w) tiles, kvLengths 0 visits none, dense masks none', () => {
    const n = 4096;
    const window = (length: number): MaskGeometry => ({
      qLength: length,
      kvLength: length,
      windowLeft: 512,
      windowRight: 0,
      validKeys: length,
    });
    const visited = (length: number) => countKeyBlocks(problemOf(window(length)), 64, 64).visited;
    // Past the first 512 rows every 64-row query block reaches 512 + 64 keys: 9 tiles, so each extra
    // N rows add exactly (N / 64) · 9 tiles — linear in N, never N².
    const perBlock = (512 + 64) / 64;
    expect(visited(2 * n) - visited(n)).toBe((n / 64) * perBlock);
    expect(visited(3 * n) - visited(2 * n)).toBe((n / 64) * perBlock);
    expect(countKeyBlocks(problemOf({ ...window(n), validKeys: 0 }), 64, 64).visited).toBe(0);
    const dense = countKeyBlocks(
      problemOf({ qLength: 100, kvLength: 300, windowLeft: Infinity, windowRight: Infinity, validKeys: 300 }),
      16,
      64,
    );
    expect(dense.visited).toBe(dense.dense);
    expect(dense.masked).toBe(0);
  });
});

function square1024(): MaskGeometry {
  return { qLength: 1024, kvLength: 1024, windowLeft: Infinity, windowRight: Infinity, validKeys: 1024 };
}
