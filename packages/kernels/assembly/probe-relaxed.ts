// Feature probe: a module that only validates where Relaxed SIMD is available (it is off by
// default in Node 20's V8). The engine never requires it; it reports it.
export function probe(a: v128, b: v128, c: v128): v128 {
  return f32x4.relaxed_madd(a, b, c);
}
