// Compact KV storage (docs/design.md, Caches and the layer): dequantRows expands packed float16 or
// int8 rows, times a per-row scale, into contiguous float32 (kernel-ops.ts has the contract).
//
// Why a dequantising copy and not compact-operand gemms: a cache's attend expands one tile of rows
// (a few hundred positions, tens to hundreds of KiB) into a scratch that stays in cache and runs the
// existing gemms on it, so the bytes streamed from memory are the compact ones while the gemm
// kernels, the score-tile pipeline and the non-finite rules stay exactly as they are.
// float16: the half's exponent and mantissa shifted into a float32 and multiplied by 2^112 re-bias it
// exactly (subnormal halves become normal floats); exponent 31 (±Infinity, NaN) is set to 255
// instead; the sign is or-ed back. int8: sign-extended to i32 and converted. Four lanes per step
// (f32x4), a scalar tail of the same arithmetic. Time O(rows · cols); no extra memory.

const FLOAT16: i32 = 1;

// @ts-ignore: decorator
@inline
function halfToFloat(h: u32): f32 {
  const shifted = (h & 0x7fff) << 13;
  const magnitude: f32 =
    (h & 0x7c00) == 0x7c00
      ? reinterpret<f32>(shifted | 0x7f800000)
      : reinterpret<f32>(shifted) * reinterpret<f32>(<u32>0x77800000); // 2^112
  return reinterpret<f32>(reinterpret<u32>(magnitude) | ((h & 0x8000) << 16));
}

export function dequantRows(srcByte: i32, format: i32, rows: i32, cols: i32, scales: i32, dst: i32): void {
  const magic = f32x4.splat(reinterpret<f32>(<u32>0x77800000));
  const low15 = i32x4.splat(0x7fff);
  const exponentMask = i32x4.splat(0x7c00);
  const infinityBits = i32x4.splat(0x7f800000);
  const signMask = i32x4.splat(0x8000);
  for (let r = 0; r < rows; r++) {
    const scale: f32 = scales < 0 ? 1 : load<f32>((<usize>(scales + r)) << 2);
    const scaleV = f32x4.splat(scale);
    let out = ((<usize>dst) << 2) + (((<usize>r) * <usize>cols) << 2);
    let c = 0;
    if (format == FLOAT16) {
      let p = <usize>(<u32>srcByte) + ((<usize>r * <usize>cols) << 1);
      for (; c + 4 <= cols; c += 4) {
        const x = i32x4.extend_low_i16x8_u(v128.load64_zero(p));
        const shifted = i32x4.shl(v128.and(x, low15), 13);
        const special = i32x4.eq(v128.and(x, exponentMask), exponentMask);
        const scaled = f32x4.mul(shifted, magic);
        const magnitude = v128.bitselect(v128.or(shifted, infinityBits), scaled, special);
        const value = v128.or(magnitude, i32x4.shl(v128.and(x, signMask), 16));
        v128.store(out, f32x4.mul(value, scaleV));
        p += 8;
        out += 16;
      }
      for (; c < cols; c++) {
        store<f32>(out, halfToFloat(<u32>load<u16>(p)) * scale);
        p += 2;
        out += 4;
      }
    } else {
      let p = <usize>(<u32>srcByte) + <usize>r * <usize>cols;
      for (; c + 4 <= cols; c += 4) {
        const x = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p)));
        v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(x), scaleV));
        p += 4;
        out += 16;
      }
      for (; c < cols; c++) {
        store<f32>(out, <f32>load<i8>(p) * scale);
        p += 1;
        out += 4;
      }
    }
  }
}
