/**
 * dequantRows, the compact-KV primitive: every float16 bit pattern and every int8 value, times a
 * per-row scale, against an independent float64 decode rounded once to float32, bit for bit on
 * every backend (js, wasm, and each native CPU path), with unaligned rows and vector tails; and its
 * operand checks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ArenaError } from '../engine/arena.js';
import { type Backend, type Engine, getEngine } from '../engine/engine.js';
import { DEQUANT_FLOAT16, DEQUANT_INT8 } from '../engine/kernel-ops.js';
import {
  type NativePath,
  nativePathInfo,
  nativeUnavailableReason,
  setNativePath,
} from '../engine/native-ops.js';

const NATIVE = nativeUnavailableReason() === undefined;
const BACKENDS: Backend[] = ['js', 'wasm', ...(NATIVE ? (['native'] as const) : [])];

/** IEEE binary16 from its definition, in float64. */
function decodeHalf(h: number): number {
  const sign = h >= 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m === 0 ? sign * Infinity : Number.NaN;
  return e === 0 ? sign * (m / 1024) * 2 ** -14 : sign * (1 + m / 1024) * 2 ** (e - 15);
}

interface Case {
  format: number;
  rows: number;
  cols: number;
  /** The packed rows' bytes. */
  bytes: Uint8Array;
  scales: Float32Array | null;
  expected: Float32Array;
}

/** Every half bit pattern (rows of 13: vector bodies and tails), scales including 1, 2^-20 and 3.7. */
function halfCase(withScales: boolean): Case {
  const cols = 13;
  const rows = Math.ceil(65536 / cols);
  const bytes = new Uint8Array(rows * cols * 2);
  const scales = withScales ? new Float32Array(rows) : null;
  const expected = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    if (scales) scales[r] = [1, 2 ** -20, 3.7, -0.5, 1e30][r % 5]!;
    for (let c = 0; c < cols; c++) {
      const h = (r * cols + c) & 0xffff;
      bytes[2 * (r * cols + c)] = h & 0xff;
      bytes[2 * (r * cols + c) + 1] = h >> 8;
      expected[r * cols + c] = (scales ? scales[r]! : 1) * decodeHalf(h);
    }
  }
  return { format: DEQUANT_FLOAT16, rows, cols, bytes, scales, expected };
}

/** Every int8 value in rows of 7 (tails) and 37, scaled. */
function int8Case(cols: number): Case {
  const rows = 64;
  const bytes = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows);
  const expected = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    scales[r] = Math.fround((r + 1) * 0.0137 * (r % 3 === 0 ? -1 : 1));
    for (let c = 0; c < cols; c++) {
      const q = ((r * cols + c) % 256) - 128;
      bytes[r * cols + c] = q & 0xff;
      expected[r * cols + c] = scales[r]! * q;
    }
  }
  return { format: DEQUANT_INT8, rows, cols, bytes, scales, expected };
}

/** Runs a case with its rows starting `misalign` bytes past a float boundary. */
function run(engine: Engine, c: Case, misalign: number): Float32Array {
  const { arena } = engine;
  const mark = arena.mark();
  try {
    const src = arena.alloc(Math.ceil((c.bytes.length + misalign) / 4));
    new Uint8Array(arena.heap.buffer).set(c.bytes, 4 * src + misalign);
    const scales = c.scales ? arena.put(c.scales) : -1;
    const dst = arena.alloc(c.rows * c.cols);
    arena.heap.fill(Number.NaN, dst, dst + c.rows * c.cols);
    engine.ops.dequantRows(4 * src + misalign, c.format, c.rows, c.cols, scales, dst);
    return arena.heap.slice(dst, dst + c.rows * c.cols);
  } finally {
    arena.release(mark);
  }
}

function expectExact(label: string, got: Float32Array, expected: Float32Array): void {
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const g = got[i]!;
    if (Number.isNaN(e) ? !Number.isNaN(g) : !Object.is(g, e)) {
      expect.fail(`${label}: element ${i} is ${g}, expected ${e}`);
    }
  }
}

const CASES: [string, () => Case][] = [
  ['every float16 pattern, no scale', () => halfCase(false)],
  ['every float16 pattern, scaled', () => halfCase(true)],
  ['int8, 7 columns', () => int8Case(7)],
  ['int8, 37 columns', () => int8Case(37)],
];

describe('dequantRows', () => {
  afterEach(() => {
    if (NATIVE) setNativePath();
  });

  for (const [name, make] of CASES) {
    it(`${name}: the float64 decode rounded once, bit for bit, on every backend, aligned or not`, () => {
      const c = make();
      for (const backend of BACKENDS) {
        for (const misalign of c.format === DEQUANT_FLOAT16 ? [0, 2] : [0, 1, 3]) {
          expectExact(`${backend} +${misalign}`, run(getEngine(backend), c, misalign), c.expected);
        }
      }
      if (NATIVE) {
        for (const path of (nativePathInfo()?.paths ?? []) as NativePath[]) {
          setNativePath(path);
          expectExact(`native ${path}`, run(getEngine('native'), c, 1 + c.format), c.expected);
        }
      }
    });
  }

  it('checks its operands on the compiled backends: bytes outside the arena, a bad format, dst', () => {
    for (const backend of BACKENDS.filter((b) => b !== 'js')) {
      const { arena, ops } = getEngine(backend);
      const mark = arena.mark();
      try {
        const src = arena.alloc(16);
        const dst = arena.alloc(16);
        expect(() => ops.dequantRows(4 * src, DEQUANT_INT8, 2, 8, -1, dst)).not.toThrow();
        expect(() => ops.dequantRows(4 * arena.mark() - 8, DEQUANT_INT8, 2, 8, -1, dst)).toThrow(
          /^dequantRows: srcByte = \d+ \(2 × 8 elements of 1 bytes\) spans bytes/,
        );
        expect(() => ops.dequantRows(4 * src, 3, 2, 8, -1, dst)).toThrow(
          'dequantRows: format must be DEQUANT_FLOAT16 (1) or DEQUANT_INT8 (2), received 3',
        );
        expect(() => ops.dequantRows(4 * src, DEQUANT_FLOAT16, 2, 16, -1, dst)).toThrow(
          /^dequantRows: dst = /,
        );
        expect(() => ops.dequantRows(4 * src, DEQUANT_INT8, 2, 8, arena.mark(), dst)).toThrow(ArenaError);
      } finally {
        arena.release(mark);
      }
    }
  });
});
