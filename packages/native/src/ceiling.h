// The FMA-throughput ceiling loop (ceiling.cc, compiled once per CPU path like kernels.cc) as seen
// by the Node-API glue. Plain declarations only, for the reason kernels.h gives.
#pragma once

namespace ak_avx512 {
/** Runs the loop `iterations` times; returns a value of the chains so the loop cannot be removed. */
float ceilingLoop(long iterations, float m, float a);
/** FLOPs one iteration of this path's loop performs. */
long ceilingFlopsPerIteration();
}  // namespace ak_avx512
namespace ak_avx2 {
float ceilingLoop(long iterations, float m, float a);
long ceilingFlopsPerIteration();
}  // namespace ak_avx2
namespace ak_baseline {
float ceilingLoop(long iterations, float m, float a);
long ceilingFlopsPerIteration();
}  // namespace ak_baseline
