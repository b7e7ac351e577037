// The interface between the Node-API glue (addon.cc, compiled for baseline x86-64) and the kernels
// (kernels.cc, compiled once per CPU path into its own namespace). Plain C types only: nothing here
// may pull an inline function into both kinds of translation unit (see kernels.cc, "One source,
// three paths").
#pragma once

namespace attnkit {

/** Opcodes of `run`; the order matches OP in packages/kernels/src/engine/native-ops.ts. */
enum Op {
  OP_GEMM_NT = 0,
  OP_GEMM_NN = 1,
  OP_GEMM_TN = 2,
  OP_MASK_BAND = 3,
  OP_SOFTMAX_ROWS = 4,
  OP_ONLINE_SOFTMAX_STEP = 5,
  OP_FINISH_ROWS = 6,
  OP_ELU_PLUS_ONE = 7,
  OP_RELU = 8,
  OP_NOT_FINITE = 9,
  OP_ROW_SQUARED_NORMS = 10,
  OP_ROW_MAX = 11,
  OP_EXP_SHIFT_ROWS = 12,
  OP_COLUMN_SUMS = 13,
  OP_DIVIDE_ROWS = 14,
  OP_EXP_ARRAY = 15,
  OP_EXP_NON_POSITIVE_ARRAY = 16,
  OP_MASK_RANGES = 17,
  OP_ADD_TILE = 18,
  OP_ADD_ALIBI = 19,
  OP_SOFTCAP_SCORES = 20,
  OP_DEQUANT_ROWS = 21,
  /** The fused flash query block (kernels.cc, "fused flash block"): returns 1 when it overflowed. */
  OP_FLASH_BLOCK = 22,
  OP_DECODE_ATTEND = 23,
  OP_COUNT = 24,
};

/** Doubles of the argument block bindArgs accepts at least: [heap, scratch] + the longest argument list. */
constexpr long ARGS_LENGTH = 32;

/** Floats of per-thread scratch a path may use at `scratch` (the engine reserves 128 KiB). */
constexpr long SCRATCH_FLOATS_LIMIT = 32768;

/**
 * Runs primitive `op` on the heap (float offsets into `heap`), with its arguments in `args` in the
 * order of the KernelOps signature. `scratch` is this thread's packing area. Returns notFinite's
 * answer, the fused flash block's overflow flag, 0 for the other primitives.
 */
typedef int (*RunFn)(int op, float *heap, float *scratch, const double *args);

/** Floats of scratch a path needs (checked against SCRATCH_FLOATS_LIMIT at load). */
typedef long (*ScratchFn)();

struct Path {
  const char *name;
  RunFn run;
  ScratchFn scratchFloats;
};

}  // namespace attnkit

namespace ak_avx512 {
extern const attnkit::Path path;
}
namespace ak_avx2 {
extern const attnkit::Path path;
}
namespace ak_baseline {
extern const attnkit::Path path;
}
