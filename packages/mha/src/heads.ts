/**
 * Head split and merge: the layout change between a projection's rows and attention's heads,
 * [B, L, H·d] (token-major, what x·W produces) ↔ [B, H, L, d] (BHSD, what every variant takes).
 * A plain strided copy, done once per projection; source read sequentially.
 * Time O(B·L·H·d); extra memory none (the caller owns both buffers).
 */

/**
 * dst[((b·H + h)·L + l)·d + i] = src[srcOffset + ((b·L + l)·H + h)·d + i]
 * (src: [B, L, H·d] starting at srcOffset; dst: [B, H, L, d] starting at 0).
 */
export function splitHeads(
  src: Float32Array,
  srcOffset: number,
  dst: Float32Array,
  batch: number,
  length: number,
  heads: number,
  dim: number,
): void {
  let s = srcOffset;
  for (let b = 0; b < batch; b++) {
    for (let l = 0; l < length; l++) {
      for (let h = 0; h < heads; h++) {
        let t = ((b * heads + h) * length + l) * dim;
        for (let i = 0; i < dim; i++) dst[t++] = src[s++]!;
      }
    }
  }
}

/**
 * The inverse of splitHeads: dst[dstOffset + ((b·L + l)·H + h)·d + i] = src[((b·H + h)·L + l)·d + i]
 * (src: [B, H, L, d]; dst: [B, L, H·d] starting at dstOffset).
 */
export function mergeHeads(
  src: Float32Array,
  dst: Float32Array,
  dstOffset: number,
  batch: number,
  length: number,
  heads: number,
  dim: number,
): void {
  let t = dstOffset;
  for (let b = 0; b < batch; b++) {
    for (let l = 0; l < length; l++) {
      for (let h = 0; h < heads; h++) {
        let s = ((b * heads + h) * length + l) * dim;
        for (let i = 0; i < dim; i++) dst[t++] = src[s++]!;
      }
    }
  }
}
