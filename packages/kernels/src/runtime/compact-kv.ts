/**
 * Compact KV storage (docs/design.md, Caches and the layer): how a cache stores a key or value row
 * as float32, float16 (IEEE binary16, round to nearest even) or int8 (symmetric, one float32 scale
 * per row: scale = max|x| / 127, q = round(x / scale) half away from zero, clamped to ±127), and how
 * many bytes that takes. Quantising runs on append, in JS, O(row length) per row, no allocation; the
 * attend expands tiles with the engine's dequantRows.
 */
import { AttentionInputError } from '@attnkit/core';
import { DEQUANT_FLOAT16, DEQUANT_INT8 } from '../engine/kernel-ops.js';

export type KVStorage = 'float32' | 'float16' | 'int8';

/** Bytes of one stored element. */
export function storageElementBytes(storage: KVStorage): number {
  return storage === 'float32' ? 4 : storage === 'float16' ? 2 : 1;
}

/** dequantRows' format code of a compact storage (0 for float32: no expansion needed). */
export function storageFormat(storage: KVStorage): number {
  return storage === 'float16' ? DEQUANT_FLOAT16 : storage === 'int8' ? DEQUANT_INT8 : 0;
}

const bits = new Float32Array(1);
const bitsU32 = new Uint32Array(bits.buffer);

/** IEEE binary16 bits of float32 `x`, rounded to nearest even (overflow gives ±Infinity, NaN stays NaN). */
export function floatToHalf(x: number): number {
  bits[0] = x;
  const f = bitsU32[0]!;
  const sign = (f >>> 16) & 0x8000;
  const exponent = (f >>> 23) & 0xff;
  const mantissa = f & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13));
  const e = exponent - 112; // the half's biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // a half subnormal (or zero): m_h = M · 2^(e − 14) with M the 24-bit significand, rounded
    const shift = 14 - e;
    if (shift > 24) return sign;
    const significand = mantissa | 0x800000;
    const kept = significand >>> shift;
    const rest = significand - kept * 2 ** shift;
    const half = 2 ** (shift - 1);
    return sign | (kept + (rest > half || (rest === half && (kept & 1) === 1) ? 1 : 0));
  }
  const kept = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // a carry out of the mantissa steps the exponent (up to 0x7c00: Infinity), as IEEE rounding does
  return sign | (kept + (rest > 0x1000 || (rest === 0x1000 && (kept & 1) === 1) ? 1 : 0));
}

/** Writes x[from, from + n) as halves at target[at, at + n). */
export function storeHalves(x: Float32Array, from: number, n: number, target: Uint16Array, at: number): void {
  for (let i = 0; i < n; i++) target[at + i] = floatToHalf(x[from + i]!);
}

/** Writes x[from, from + n) as int8 at target[at, …) and returns the row's float32 scale. */
export function storeInt8Row(
  x: Float32Array,
  from: number,
  n: number,
  target: Int8Array,
  at: number,
): number {
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, Math.abs(x[from + i]!));
  const scale = Math.fround(max / 127);
  for (let i = 0; i < n; i++) {
    if (scale === 0) {
      target[at + i] = 0;
      continue;
    }
    const v = x[from + i]! / scale;
    target[at + i] = Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v))));
  }
  return scale;
}

/** Refuses a non-finite key or value under int8 storage (its scale is the row's largest magnitude). */
export function checkFiniteForInt8(argument: 'k' | 'v', x: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const value = x[i]!;
    if (value - value !== 0) {
      throw new AttentionInputError(
        argument,
        'finite values (int8 storage scales each row by its largest magnitude: a NaN or infinity has no int8 form)',
        `${value} at index ${i}`,
        "Use storage 'float16' or 'float32' for keys and values that may not be finite.",
      );
    }
  }
}
