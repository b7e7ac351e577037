import { createRng, isVisible } from '@attnkit/core';
import { describe, expect, it } from 'vitest';
import { countKeyBlocks, type MaskGeometry, planKeyBlocks, tileNeedsMask } from '../plan.js';

/**
 * Checks a plan against the mask itself (core's isVisible, the single source of truth), pair by pair:
 * every visible pair lies inside a visited tile, every visited key is visible to some row of the block
 * (the plan is tight), and every tile that skips the mask is visible to every row.
 */
function checkPlanAgainstMask(geometry: MaskGeometry, blockQ: number, blockK: number): void {
  const { qLength, kvLength, windowLeft, windowRight, validKeys } = geometry;
  const visible = (row: number, key: number) =>
    isVisible(row, key, qLength, kvLength, windowLeft, windowRight, validKeys);
  for (let rowStart = 0; rowStart < qLength; rowStart += blockQ) {
    const rowEnd = Math.min(rowStart + blockQ, qLength);
    const plan = planKeyBlocks(geometry, rowStart, rowEnd);
    const where = `${JSON.stringify(geometry)} rows [${rowStart}, ${rowEnd})`;
    for (let key = 0; key < kvLength; key++) {
      let anyRow = false;
      for (let row = rowStart; row < rowEnd; row++) anyRow ||= visible(row, key);
      const inside = key >= plan.keyStart && key < plan.keyEnd;
      if (anyRow !== inside) expect.fail(`${where}: key ${key} visible=${anyRow} but visited=${inside}`);
    }
    for (let tileStart = plan.keyStart; tileStart < plan.keyEnd; tileStart += blockK) {
      const tileEnd = Math.min(tileStart + blockK, plan.keyEnd);
      if (tileNeedsMask(plan, tileStart, tileEnd)) continue;
      for (let row = rowStart; row < rowEnd; row++) {
        for (let key = tileStart; key < tileEnd; key++) {
          if (!visible(row, key))
            expect.fail(`${where}: unmasked tile at ${tileStart} hides (${row}, ${key})`);
        }
      }
    }
  }
}

describe('planKeyBlocks', () => {
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
        checkPlanAgainstMask(geometry, blockQ, blockK);
      }
    }
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
      checkPlanAgainstMask(geometry, 1 + int(9), 1 + int(9));
    }
  });

  it('a causal N = 1024 sweep visits about half the key tiles, masking only the diagonal', () => {
    const n = 1024;
    const block = 64;
    const counts = countKeyBlocks(
      { qLength: n, kvLength: n, windowLeft: Infinity, windowRight: 0, validKeys: n },
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
    const visited = (length: number) => countKeyBlocks(window(length), 64, 64).visited;
    // Past the first 512 rows every 64-row query block reaches 512 + 64 keys: 9 tiles, so each extra
    // N rows add exactly (N / 64) · 9 tiles — linear in N, never N².
    const perBlock = (512 + 64) / 64;
    expect(visited(2 * n) - visited(n)).toBe((n / 64) * perBlock);
    expect(visited(3 * n) - visited(2 * n)).toBe((n / 64) * perBlock);
    expect(countKeyBlocks({ ...window(n), validKeys: 0 }, 64, 64).visited).toBe(0);
    const dense = countKeyBlocks(
      { qLength: 100, kvLength: 300, windowLeft: Infinity, windowRight: Infinity, validKeys: 300 },
      16,
      64,
    );
    expect(dense.visited).toBe(dense.dense);
    expect(dense.masked).toBe(0);
  });
});
