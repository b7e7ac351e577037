// The 128-bit SIMD ceiling this machine reaches: twelve independent f32x4 chains held in
// registers, each doing c = c·m + a per iteration (a mul and a dependent add). Twelve chains
// cover the mul + add latency (about 6 cycles) at two muls and two adds per cycle, so the loop
// is bound by FP throughput only, like the GEMM micro-kernel without its loads.
// FLOPs = iterations · 12 chains · 4 lanes · 2. Time O(iterations); no memory.
// (c converges to 2a with m = 0.5: no overflow, no denormals.)

export function simdCeiling(iterations: i32): f32 {
  const m = f32x4.splat(0.5);
  const a = f32x4.splat(1.0);
  let c0 = f32x4.splat(0.0);
  let c1 = f32x4.splat(0.1);
  let c2 = f32x4.splat(0.2);
  let c3 = f32x4.splat(0.3);
  let c4 = f32x4.splat(0.4);
  let c5 = f32x4.splat(0.5);
  let c6 = f32x4.splat(0.6);
  let c7 = f32x4.splat(0.7);
  let c8 = f32x4.splat(0.8);
  let c9 = f32x4.splat(0.9);
  let c10 = f32x4.splat(1.0);
  let c11 = f32x4.splat(1.1);
  for (let i = 0; i < iterations; i++) {
    c0 = f32x4.add(f32x4.mul(c0, m), a);
    c1 = f32x4.add(f32x4.mul(c1, m), a);
    c2 = f32x4.add(f32x4.mul(c2, m), a);
    c3 = f32x4.add(f32x4.mul(c3, m), a);
    c4 = f32x4.add(f32x4.mul(c4, m), a);
    c5 = f32x4.add(f32x4.mul(c5, m), a);
    c6 = f32x4.add(f32x4.mul(c6, m), a);
    c7 = f32x4.add(f32x4.mul(c7, m), a);
    c8 = f32x4.add(f32x4.mul(c8, m), a);
    c9 = f32x4.add(f32x4.mul(c9, m), a);
    c10 = f32x4.add(f32x4.mul(c10, m), a);
    c11 = f32x4.add(f32x4.mul(c11, m), a);
  }
  const s0 = f32x4.add(f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)), f32x4.add(c4, c5));
  const s1 = f32x4.add(f32x4.add(f32x4.add(c6, c7), f32x4.add(c8, c9)), f32x4.add(c10, c11));
  return f32x4.extract_lane(f32x4.add(s0, s1), 0);
}
