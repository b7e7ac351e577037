// Node-API glue of @attnkit/native: CPU dispatch and the calling convention (compiled for baseline
// x86-64; the kernels themselves are in kernels.cc, one copy per path).
//
// Calling convention: each thread (the main thread and every pool worker: the addon is
// context-aware, NAPI_MODULE_INIT, so each Node environment gets its own instance data) binds one
// Float64Array as its argument block with `bindArgs`. A primitive call writes
//   args[0] = the heap's address (from `heapAddress`), args[1] = the thread's scratch offset in
//   floats, args[2..] = the primitive's arguments in KernelOps order
// and calls `run(op)`: one Node-API value to convert instead of a dozen, which is most of the cost
// of a call into the addon.
//
// Dispatch: at load, the best path the CPU runs (AVX-512F + FMA, then AVX2 + FMA + F16C, then baseline) is
// chosen with __builtin_cpu_supports, unless ATTNKIT_NATIVE_PATH names a supported one. `setPath`
// changes it for the whole process (every thread reads the one selection), so tests can force each
// path; a path the CPU lacks is refused, never run.
//
// peakGflops: the FMA-throughput ceiling of one core on a path (ceiling.cc), timed here, so a
// benchmark can put GFLOP/s next to what the path's vectors allow on this machine.
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "ceiling.h"
#include "kernels.h"

namespace {

struct Candidate {
  const attnkit::Path *path;
  bool supported;
};

Candidate candidates[3];
int candidateCount = 0;
/** Index into `candidates` of the path every thread runs (read with an atomic load per call). */
int selected = -1;
/** Why the selection is what it is (for `info`). */
const char *selectedBy = "cpu";

/** Runs once per process (pthread_once: environments may load the addon on several threads at once). */
void detect() {
  __builtin_cpu_init();
  const bool fma = __builtin_cpu_supports("fma");
  candidates[0] = {&ak_avx512::path, __builtin_cpu_supports("avx512f") && fma};
  // F16C: the AVX2 path converts halves with vcvtph2ps (every AVX2 + FMA CPU has it)
  candidates[1] = {&ak_avx2::path, __builtin_cpu_supports("avx2") && fma && __builtin_cpu_supports("f16c")};
  candidates[2] = {&ak_baseline::path, true};
  candidateCount = 3;
  int best = 2;
  for (int i = 0; i < 3; i++) {
    if (candidates[i].supported && candidates[i].path->scratchFloats() <= attnkit::SCRATCH_FLOATS_LIMIT) {
      best = i;
      break;
    }
  }
  const char *forced = getenv("ATTNKIT_NATIVE_PATH");
  if (forced != nullptr && forced[0] != '\0') {
    for (int i = 0; i < 3; i++) {
      if (strcmp(forced, candidates[i].path->name) == 0 && candidates[i].supported) {
        best = i;
        selectedBy = "ATTNKIT_NATIVE_PATH";
      }
    }
  }
  __atomic_store_n(&selected, best, __ATOMIC_SEQ_CST);
}

pthread_once_t detected = PTHREAD_ONCE_INIT;

/** Each candidate's ceiling loop (ceiling.cc), in the order of `candidates`. */
struct Ceiling {
  float (*loop)(long iterations, float m, float a);
  long (*flopsPerIteration)();
};
const Ceiling ceilings[] = {
    {ak_avx512::ceilingLoop, ak_avx512::ceilingFlopsPerIteration},
    {ak_avx2::ceilingLoop, ak_avx2::ceilingFlopsPerIteration},
    {ak_baseline::ceilingLoop, ak_baseline::ceilingFlopsPerIteration},
};
static_assert(sizeof ceilings / sizeof ceilings[0] == 3, "one ceiling loop per candidate, in order");

/** Per environment (thread): its argument block. Plain C allocation: the addon links no C++ runtime. */
struct Instance {
  double *args;
  size_t argsLength;
  napi_ref argsRef;
};

void finalizeInstance(napi_env env, void *data, void *) {
  Instance *instance = static_cast<Instance *>(data);
  if (instance->argsRef != nullptr) napi_delete_reference(env, instance->argsRef);
  free(instance);
}

napi_value throwError(napi_env env, const char *message) {
  napi_throw_error(env, nullptr, message);
  return nullptr;
}

/** The typed array `value` must be of `type`; returns its data pointer and length (elements). */
bool typedArray(napi_env env, napi_value value, napi_typedarray_type type, void **data, size_t *length) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
  napi_typedarray_type actual;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &actual, length, data, &buffer, &offset) != napi_ok) return false;
  return actual == type;
}

napi_value bindArgs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void *data = nullptr;
  size_t length = 0;
  if (argc < 1 || !typedArray(env, argv[0], napi_float64_array, &data, &length) ||
      length < static_cast<size_t>(attnkit::ARGS_LENGTH)) {
    return throwError(env, "bindArgs: expected a Float64Array of at least 32 elements");
  }
  Instance *instance = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void **>(&instance));
  if (instance->argsRef != nullptr) napi_delete_reference(env, instance->argsRef);
  napi_create_reference(env, argv[0], 1, &instance->argsRef);
  instance->args = static_cast<double *>(data);
  instance->argsLength = length;
  return nullptr;
}

/**
 * adviseHugePages(heap, bytes): asks the kernel for transparent huge pages over the whole 2 MiB pages
 * of [heap, heap + bytes) (MADV_HUGEPAGE), memory past the heap's current end included (a
 * WebAssembly.Memory grows in place inside its reservation). A hint: where THP is off, or for parts
 * not mapped, nothing changes, and no error is raised. For memories scanned end to end: a paged KV
 * cache of 256 MiB spans 65 536 small pages, a TLB miss each; memory not touched yet then arrives in
 * 2 MiB pages.
 */
napi_value adviseHugePages(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void *data = nullptr;
  size_t length = 0;
  double bytes = 0;
  if (argc < 2 || !typedArray(env, argv[0], napi_float32_array, &data, &length) ||
      napi_get_value_double(env, argv[1], &bytes) != napi_ok || !(bytes >= 0) || bytes > 9007199254740992.0) {
    return throwError(env, "adviseHugePages: expected a Float32Array and a number of bytes");
  }
#ifdef MADV_HUGEPAGE
  const uintptr_t huge = uintptr_t{1} << 21;
  const uintptr_t first = reinterpret_cast<uintptr_t>(data);
  const uintptr_t start = (first + huge - 1) & ~(huge - 1);
  const uintptr_t end = (first + static_cast<uintptr_t>(bytes)) & ~(huge - 1);
  if (end > start) madvise(reinterpret_cast<void *>(start), end - start, MADV_HUGEPAGE);
#endif
  return nullptr;
}

napi_value heapAddress(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void *data = nullptr;
  size_t length = 0;
  if (argc < 1 || !typedArray(env, argv[0], napi_float32_array, &data, &length)) {
    return throwError(env, "heapAddress: expected a Float32Array");
  }
  // addresses of user space fit in 48 bits: exact as a double
  napi_value result;
  napi_create_double(env, static_cast<double>(reinterpret_cast<uintptr_t>(data)), &result);
  return result;
}

/**
 * copyFloats(heap, offset, array, toHeap): memcpy between heap floats [offset, offset + array.length)
 * and `array` (into the heap when toHeap, out of it otherwise), checked against the heap's length.
 * V8 copies into or out of a shared buffer (the engine memory) element by element with relaxed
 * atomics: 0.27 ms for 6 MiB here, where memcpy takes 0.10 ms.
 */
napi_value copyFloats(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void *heap = nullptr;
  void *data = nullptr;
  size_t heapLength = 0;
  size_t length = 0;
  double offset = -1;
  bool toHeap = false;
  if (argc < 4 || !typedArray(env, argv[0], napi_float32_array, &heap, &heapLength) ||
      napi_get_value_double(env, argv[1], &offset) != napi_ok ||
      !typedArray(env, argv[2], napi_float32_array, &data, &length) ||
      napi_get_value_bool(env, argv[3], &toHeap) != napi_ok) {
    return throwError(env, "copyFloats: expected (heap: Float32Array, offset: number, array: Float32Array, toHeap: boolean)");
  }
  if (!(offset >= 0) || offset != static_cast<double>(static_cast<size_t>(offset)) ||
      static_cast<size_t>(offset) > heapLength || length > heapLength - static_cast<size_t>(offset)) {
    return throwError(env, "copyFloats: [offset, offset + array.length) is not inside the heap");
  }
  float *at = static_cast<float *>(heap) + static_cast<size_t>(offset);
  if (length > 0) {
    if (toHeap)
      memmove(at, data, length * sizeof(float));
    else
      memmove(data, at, length * sizeof(float));
  }
  return nullptr;
}

napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t op = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op >= attnkit::OP_COUNT) {
    return throwError(env, "run: expected an opcode");
  }
  Instance *instance = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void **>(&instance));
  if (instance->args == nullptr) return throwError(env, "run: call bindArgs first");
  const double *args = instance->args;
  float *heap = reinterpret_cast<float *>(static_cast<uintptr_t>(args[0]));
  float *scratch = heap + static_cast<long>(args[1]);
  const attnkit::Path *path = candidates[__atomic_load_n(&selected, __ATOMIC_RELAXED)].path;
  const int answer = path->run(op, heap, scratch, args + 2);
  napi_value result;
  napi_create_int32(env, answer, &result);
  return result;
}

/** Ops runMany accepts: independent calls that use no scratch (their threads share none). */
bool runsMany(int op) { return op == attnkit::OP_DECODE_ATTEND; }

/** Most native threads one runMany call starts. */
constexpr int32_t MANY_THREADS_LIMIT = 64;

/** One runMany call: `count` argument blocks, taken in order by whichever thread is free next. */
struct Many {
  const attnkit::Path *path;
  int op;
  const double *blocks;
  long count;
  long next;
};

void *runBlocks(void *data) {
  Many *many = static_cast<Many *>(data);
  for (;;) {
    const long i = __atomic_fetch_add(&many->next, 1, __ATOMIC_RELAXED);
    if (i >= many->count) return nullptr;
    const double *block = many->blocks + i * attnkit::ARGS_LENGTH;
    float *heap = reinterpret_cast<float *>(static_cast<uintptr_t>(block[0]));
    many->path->run(many->op, heap, heap + static_cast<long>(block[1]), block + 2);
  }
}

/**
 * runMany(op, blocks, count, threads): `count` calls of `op`, call i with the argument block
 * blocks[32·i, 32·i + 32) (laid out as bindArgs' block), on `threads` native threads (this one and
 * threads − 1 started for the call, joined before it returns). The calls must be independent (each
 * writes memory no other reads or writes), so which thread runs which call changes no bit of the
 * results; a thread that cannot be started leaves its share to the others.
 */
napi_value runMany(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t op = -1, count = -1, threads = 0;
  void *data = nullptr;
  size_t length = 0;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &op) != napi_ok || !runsMany(op)) {
    return throwError(env, "runMany: expected an opcode of independent calls (decodeAttend)");
  }
  if (!typedArray(env, argv[1], napi_float64_array, &data, &length) ||
      napi_get_value_int32(env, argv[2], &count) != napi_ok || count < 0 ||
      length < static_cast<size_t>(count) * attnkit::ARGS_LENGTH) {
    return throwError(env, "runMany: expected a Float64Array of count argument blocks of 32 doubles");
  }
  if (napi_get_value_int32(env, argv[3], &threads) != napi_ok || threads < 1 || threads > MANY_THREADS_LIMIT) {
    return throwError(env, "runMany: expected threads between 1 and 64");
  }
  Many many = {candidates[__atomic_load_n(&selected, __ATOMIC_RELAXED)].path, op, static_cast<const double *>(data),
               count, 0};
  pthread_t started[MANY_THREADS_LIMIT];
  int startedCount = 0;
  const int helpers = threads - 1 < count - 1 ? threads - 1 : count - 1;
  for (int t = 0; t < helpers; t++) {
    if (pthread_create(&started[startedCount], nullptr, runBlocks, &many) == 0) startedCount++;
  }
  runBlocks(&many);
  for (int t = 0; t < startedCount; t++) pthread_join(started[t], nullptr);
  return nullptr;
}

napi_value stringValue(napi_env env, const char *text) {
  napi_value value;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}

/** { path, selectedBy, paths: the paths this CPU runs, best first, compiled: every path in the binary }. */
napi_value pathInfo(napi_env env, napi_callback_info) {
  napi_value result, paths, compiled;
  napi_create_object(env, &result);
  napi_create_array(env, &paths);
  napi_create_array(env, &compiled);
  uint32_t supported = 0;
  for (int i = 0; i < candidateCount; i++) {
    napi_set_element(env, compiled, static_cast<uint32_t>(i), stringValue(env, candidates[i].path->name));
    if (candidates[i].supported) napi_set_element(env, paths, supported++, stringValue(env, candidates[i].path->name));
  }
  const int current = __atomic_load_n(&selected, __ATOMIC_SEQ_CST);
  napi_set_named_property(env, result, "path", stringValue(env, candidates[current].path->name));
  napi_set_named_property(env, result, "selectedBy", stringValue(env, selectedBy));
  napi_set_named_property(env, result, "paths", paths);
  napi_set_named_property(env, result, "compiled", compiled);
  return result;
}

/** setPath(name): runs every later call (on every thread) on `name`; undefined: back to the CPU's best. */
napi_value setPath(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type == napi_undefined) {
    for (int i = 0; i < candidateCount; i++) {
      if (candidates[i].supported) {
        __atomic_store_n(&selected, i, __ATOMIC_SEQ_CST);
        selectedBy = "cpu";
        break;
      }
    }
    return pathInfo(env, info);
  }
  char name[32];
  size_t length = 0;
  if (type != napi_string || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok) {
    return throwError(env, "setPath: expected 'avx512', 'avx2', 'baseline' or undefined");
  }
  for (int i = 0; i < candidateCount; i++) {
    if (strcmp(name, candidates[i].path->name) != 0) continue;
    if (!candidates[i].supported) return throwError(env, "setPath: this CPU cannot run that path");
    __atomic_store_n(&selected, i, __ATOMIC_SEQ_CST);
    selectedBy = "setPath";
    return pathInfo(env, info);
  }
  return throwError(env, "setPath: expected 'avx512', 'avx2', 'baseline' or undefined");
}

double seconds() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

/** The last value a ceiling loop returned: a use of its result, so the loop is never dropped. */
volatile float ceilingSink = 0.0f;

/**
 * peakGflops(path?, iterations = 1e6, repeats = 40): the best GFLOP/s of `repeats` runs of the
 * path's ceiling loop on the calling thread (undefined: the path calls run on now). Short runs (a
 * few ms each) after one warm-up run are rarely preempted, so the best is the core's; a path the
 * CPU lacks is refused, never run.
 */
napi_value peakGflops(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int index = __atomic_load_n(&selected, __ATOMIC_SEQ_CST);
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_undefined) {
    char name[32];
    size_t length = 0;
    if (type != napi_string || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok) {
      return throwError(env, "peakGflops: expected 'avx512', 'avx2', 'baseline' or undefined as the path");
    }
    index = -1;
    for (int i = 0; i < candidateCount; i++) {
      if (strcmp(name, candidates[i].path->name) == 0) index = i;
    }
    if (index < 0) return throwError(env, "peakGflops: expected 'avx512', 'avx2', 'baseline' or undefined as the path");
    if (!candidates[index].supported) return throwError(env, "peakGflops: this CPU cannot run that path");
  }
  double counts[2] = {1e6, 40};
  for (size_t k = 1; k < 3; k++) {
    napi_valuetype countType = napi_undefined;
    if (argc > k) napi_typeof(env, argv[k], &countType);
    if (countType == napi_undefined) continue;
    double value = 0;
    if (countType != napi_number || napi_get_value_double(env, argv[k], &value) != napi_ok || !(value >= 1) ||
        value > 1e9 || value != static_cast<double>(static_cast<long>(value))) {
      return throwError(env, "peakGflops: iterations and repeats must be integers from 1 to 1e9");
    }
    counts[k - 1] = value;
  }
  const long iterations = static_cast<long>(counts[0]);
  const long repeats = static_cast<long>(counts[1]);
  const Ceiling &ceiling = ceilings[index];
  // warm-up: wide vector units may start at a lower clock until they are busy
  ceilingSink = ceiling.loop(iterations / 2 + 1, 0.5f, 1.0f);
  double best = 1e300;
  for (long r = 0; r < repeats; r++) {
    const double start = seconds();
    ceilingSink = ceiling.loop(iterations, 0.5f, 1.0f);
    const double elapsed = seconds() - start;
    if (elapsed < best) best = elapsed;
  }
  const double flops = static_cast<double>(iterations) * static_cast<double>(ceiling.flopsPerIteration());
  napi_value result;
  napi_create_double(env, best > 0 ? flops / best / 1e9 : 0, &result);
  return result;
}

void define(napi_env env, napi_value exports, const char *name, napi_callback callback) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &fn);
  napi_set_named_property(env, exports, name, fn);
}

}  // namespace

NAPI_MODULE_INIT() {
  pthread_once(&detected, detect);
  Instance *instance = static_cast<Instance *>(calloc(1, sizeof(Instance)));
  if (instance == nullptr) return nullptr;
  napi_set_instance_data(env, instance, finalizeInstance, nullptr);
  define(env, exports, "bindArgs", bindArgs);
  define(env, exports, "heapAddress", heapAddress);
  define(env, exports, "copyFloats", copyFloats);
  define(env, exports, "run", run);
  define(env, exports, "runMany", runMany);
  define(env, exports, "adviseHugePages", adviseHugePages);
  define(env, exports, "pathInfo", pathInfo);
  define(env, exports, "setPath", setPath);
  define(env, exports, "peakGflops", peakGflops);
  return exports;
}
