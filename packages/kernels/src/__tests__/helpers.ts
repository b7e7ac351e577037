/** Test helpers: a seeded generator, float64 references, and placement of both backends' copies. */
import { describe, it } from 'vitest';
import type { Engine } from '../engine/engine.js';
import { nativeUnavailableReason } from '../engine/native-ops.js';

/** Unit roundoff of float32. */
export const U = 2 ** -24;
/** Padding value written around matrices: an op that writes outside its rows changes it. */
export const SENTINEL = 12345.5;

/** mulberry32: a small seeded uniform generator in [0, 1). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(rand: () => number, length: number, scale = 1): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (rand() * 2 - 1) * scale;
  return out;
}

/** A rows × cols matrix stored with row stride ld (padding = SENTINEL), as a flat array of rows · ld. */
export function strided(values: Float32Array, rows: number, cols: number, ld: number): Float32Array {
  const out = new Float32Array(Math.max(rows * ld, 1)).fill(SENTINEL);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols, r * cols + cols), r * ld);
  return out;
}

/** Element (r, c) of a strided matrix. */
export function at(data: ArrayLike<number>, ld: number, r: number, c: number): number {
  return data[r * ld + c]!;
}

/** Places `data` in the arena twice: one copy for the wasm backend, one for the js twin. */
export function placeTwice(engine: Engine, data: Float32Array): [number, number] {
  const first = engine.arena.put(data);
  const second = engine.arena.put(data);
  return [first, second];
}

export function readBack(engine: Engine, offset: number, length: number): Float32Array {
  const out = new Float32Array(length);
  engine.arena.read(offset, length, out);
  return out;
}

/** Throws with every failing position (up to 5) when some entries differ beyond tolerance. */
export function expectClose(
  label: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: (index: number) => number,
): void {
  const failures: string[] = [];
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const same = Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e));
    if (same) continue;
    const tol = tolerance(i);
    if (!(Math.abs(a - e) <= tol)) {
      count++;
      if (failures.length < 5)
        failures.push(`[${i}] got ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > ${tol})`);
    }
  }
  if (count > 0) throw new Error(`${label}: ${count} of ${expected.length} differ: ${failures.join('; ')}`);
}

/** Checks that every padding position of a strided matrix still holds SENTINEL. */
export function expectPaddingIntact(
  label: string,
  data: Float32Array,
  rows: number,
  cols: number,
  ld: number,
): void {
  for (let r = 0; r < rows; r++) {
    for (let c = cols; c < ld; c++) {
      if (data[r * ld + c] !== SENTINEL) throw new Error(`${label}: wrote outside the row at (${r}, ${c})`);
    }
  }
}

/**
 * Why the native backend is unavailable in this run (undefined when it loaded). Tests that run on
 * every compiled backend use `compiledBackends()` and call `reportNativeSkip` so that a run without
 * the addon shows a skipped test carrying the reason instead of silently testing less.
 */
export const NATIVE_UNAVAILABLE = nativeUnavailableReason();

/** The backends that compute in compiled code: wasm, and native where the addon loaded. */
export function compiledBackends(): ('wasm' | 'native')[] {
  return NATIVE_UNAVAILABLE === undefined ? ['wasm', 'native'] : ['wasm'];
}

/** Registers a visibly skipped test naming why native is not tested (nothing when it is). */
export function reportNativeSkip(what: string): void {
  if (NATIVE_UNAVAILABLE !== undefined) {
    describe.skip(`native ${what} — the native backend is unavailable: ${NATIVE_UNAVAILABLE}`, () => {
      it('skipped', () => {});
    });
  }
}
