// The floating-point ceiling of one core on this path: twelve independent vector chains held in
// registers, each doing c = c·m + a per iteration, the native twin of the wasm kernels'
// assembly/ceiling.ts. Compiled by scripts/build.mjs with each path's flags (AK_NS, AK_W), like
// kernels.cc: on the AVX paths -ffp-contract=fast makes each step one fused multiply-add on a
// 16- (AVX-512F) or 8-float (AVX2) vector; the baseline (SSE2, no FMA) does a multiply and a
// dependent add on 4 floats. Twelve chains cover the FMA latency (4 cycles) at two FMAs per cycle,
// and the multiply + add latency on the baseline, so the loop is bound by arithmetic throughput
// only: what the GEMM micro-kernels and the fused flash block could reach without their loads.
// FLOPs = iterations · 12 · AK_W · 2. Time O(iterations); no memory. m and a come from the caller
// so nothing is folded at compile time (with m = 0.5, c converges to 2a: no overflow, no denormals).
// Includes nothing but ceiling.h (see kernels.cc, "One source, three paths").
#include "ceiling.h"

#ifndef AK_NS
#error "AK_NS must name the path's namespace (scripts/build.mjs sets it)"
#endif

namespace AK_NS {

namespace {
typedef float vf __attribute__((vector_size(AK_W * 4)));
constexpr long CHAINS = 12;
}  // namespace

float ceilingLoop(long iterations, float m, float a) {
  const vf vm = vf{} + m;
  const vf va = vf{} + a;
  vf c0 = vf{} + 0.0f, c1 = vf{} + 0.1f, c2 = vf{} + 0.2f, c3 = vf{} + 0.3f;
  vf c4 = vf{} + 0.4f, c5 = vf{} + 0.5f, c6 = vf{} + 0.6f, c7 = vf{} + 0.7f;
  vf c8 = vf{} + 0.8f, c9 = vf{} + 0.9f, c10 = vf{} + 1.0f, c11 = vf{} + 1.1f;
  for (long i = 0; i < iterations; i++) {
    c0 = c0 * vm + va;
    c1 = c1 * vm + va;
    c2 = c2 * vm + va;
    c3 = c3 * vm + va;
    c4 = c4 * vm + va;
    c5 = c5 * vm + va;
    c6 = c6 * vm + va;
    c7 = c7 * vm + va;
    c8 = c8 * vm + va;
    c9 = c9 * vm + va;
    c10 = c10 * vm + va;
    c11 = c11 * vm + va;
  }
  const vf s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
  return s[0];
}

long ceilingFlopsPerIteration() { return CHAINS * AK_W * 2; }

}  // namespace AK_NS
