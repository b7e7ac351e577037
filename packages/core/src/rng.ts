/**
 * Seeded random numbers that are bit-identical on every platform and JavaScript engine.
 *
 * Why this construction: ECMAScript lets Math.log / Math.exp / Math.cos be "implementation-
 * approximated", so Box–Muller with Math.log + Math.cos can differ in the last bit between V8,
 * SpiderMonkey and JavaScriptCore (and between versions). IEEE 754 does guarantee exactly rounded
 * + − × ÷ and sqrt, and JavaScript forbids extended precision and fused multiply-add, so a
 * computation made of those operations in a fixed order has one answer everywhere. Hence:
 * - integers: xoshiro128** (32-bit words via Math.imul and shifts: exact), seeded by splitmix32;
 * - uniforms: 53 random bits scaled by 2^-53 (exact);
 * - normals: the Marsaglia polar method, whose only transcendental is a logarithm, and that
 *   logarithm is our own (`portableLog`: exponent extraction by exact scaling by powers of two,
 *   then the atanh series 2·atanh((m − 1)/(m + 1)) evaluated by Horner).
 * Time O(1) per draw (the polar method accepts π/4 of its candidate pairs); memory O(1).
 */
import { AttentionInputError, describeValue } from './errors.js';

export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform in [0, 1), a multiple of 2^-53. */
  nextFloat(): number;
  /** Standard normal N(0, 1). */
  nextNormal(): number;
}

const TWO_POW_26 = 67108864;
const TWO_POW_32 = 4294967296;
const TWO_POW_MINUS_53 = 1 / 9007199254740992;
const SQRT_HALF = Math.SQRT1_2;

/** One splitmix32 step: a well-mixed 32-bit word from a counter (used only to seed). */
function splitmix32(counter: number): number {
  let z = (counter + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Natural logarithm of a positive finite x from exactly rounded operations only, so it returns
 * the same bits everywhere (accurate to about 1 ulp; Math.log is not required to be either).
 */
export function portableLog(x: number): number {
  // 1. x = m · 2^e with m in [√½, √2): scaling by powers of two is exact.
  let m = x;
  let e = 0;
  while (m < 2.3283064365386963e-10) {
    m *= TWO_POW_32;
    e -= 32;
  }
  while (m >= TWO_POW_32) {
    m /= TWO_POW_32;
    e += 32;
  }
  while (m < SQRT_HALF) {
    m *= 2;
    e -= 1;
  }
  while (m >= 2 * SQRT_HALF) {
    m /= 2;
    e += 1;
  }
  // 2. log m = 2·atanh(f) = 2f·(1 + z/3 + z²/5 + …), f = (m − 1)/(m + 1), z = f² <= 0.0295:
  //    terms up to z^11/23 leave a truncation error below 1e-19.
  const f = (m - 1) / (m + 1);
  const z = f * f;
  let p = 1 / 23;
  p = p * z + 1 / 21;
  p = p * z + 1 / 19;
  p = p * z + 1 / 17;
  p = p * z + 1 / 15;
  p = p * z + 1 / 13;
  p = p * z + 1 / 11;
  p = p * z + 1 / 9;
  p = p * z + 1 / 7;
  p = p * z + 1 / 5;
  p = p * z + 1 / 3;
  p = p * z + 1;
  // 3. log x = e·ln 2 + log m
  return e * Math.LN2 + 2 * f * p;
}

class Xoshiro128StarStar implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal = 0;
  private hasSpare = false;

  constructor(low: number, high: number) {
    // Two splitmix32 streams (from the low and high 32 bits of the seed) XORed: every safe-integer
    // seed gets its own state.
    this.s0 = splitmix32(low) ^ splitmix32(high ^ 0x6a09e667);
    this.s1 = splitmix32(low + 0x632be5ab) ^ splitmix32(high ^ 0xbb67ae85);
    this.s2 = splitmix32(low + 0x5851f42d) ^ splitmix32(high ^ 0x3c6ef372);
    this.s3 = splitmix32(low + 0x14057b7e) ^ splitmix32(high ^ 0xa54ff53a);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one state xoshiro must avoid
  }

  nextUint32(): number {
    const s1 = this.s1;
    const product = Math.imul(s1, 5);
    const result = Math.imul((product << 7) | (product >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  nextFloat(): number {
    const high27 = this.nextUint32() >>> 5;
    const low26 = this.nextUint32() >>> 6;
    return (high27 * TWO_POW_26 + low26) * TWO_POW_MINUS_53;
  }

  nextNormal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spareNormal;
    }
    // Marsaglia polar: (u, v) uniform in the unit disc → two independent normals.
    for (;;) {
      const u = 2 * this.nextFloat() - 1;
      const v = 2 * this.nextFloat() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const factor = Math.sqrt((-2 * portableLog(s)) / s);
      this.spareNormal = v * factor;
      this.hasSpare = true;
      return u * factor;
    }
  }
}

/** A generator for `seed` (any safe integer, negative allowed); equal seeds give equal streams. */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed)) {
    throw new AttentionInputError(
      'seed',
      'a safe integer',
      describeValue(seed),
      'Pass an integer seed such as 42.',
    );
  }
  const low = seed >>> 0;
  const high = Math.floor(seed / TWO_POW_32) >>> 0;
  return new Xoshiro128StarStar(low, high);
}
