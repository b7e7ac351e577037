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
// Dispatch: at load, the best path the CPU runs (AVX-512F + FMA, then AVX2 + FMA, then baseline) is
// chosen with __builtin_cpu_supports, unless ATTNKIT_NATIVE_PATH names a supported one. `setPath`
// changes it for the whole process (every thread reads the one selection), so tests can force each
// path; a path the CPU lacks is refused, never run.
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
  candidates[1] = {&ak_avx2::path, __builtin_cpu_supports("avx2") && fma};
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
  define(env, exports, "pathInfo", pathInfo);
  define(env, exports, "setPath", setPath);
  return exports;
}
