// cuda_runtime_emu.h: the CUDA runtime API that spakc's generated host code (cuda/main.cu, step.cu, the kernel
// launchers, runtime/spak/runtime/cuda_check.h) uses, on the CPU, on top of cuda_emu.h (the kernels' emulation).
// trainer_emu.py replaces `#include <cuda_runtime.h>` with this header in every file of a generated cuda project and
// builds the trainer with the host compiler (tests/cuda_emu/README.md).
//
//   * One device, "CUDA emulator" (sm_90). Device memory is host memory (cudaMalloc fills new blocks with 0xFF
//     bytes, NaN floats, so reads of memory nobody wrote show up; SPAK_EMU_MALLOC_FILL=<byte> changes it).
//   * Everything is synchronous: a kernel launch / cudaMemcpyAsync / cudaMemsetAsync runs when it is issued; streams
//     and events only order what already ran.
//   * Stream capture: between cudaStreamBeginCapture and cudaStreamEndCapture, the work issued on the capturing stream
//     (launches, async copies and sets, graph launches) is recorded as closures into the graph instead of running;
//     cudaGraphLaunch replays them in order. While a capture is active on this thread, the calls CUDA rejects during
//     a (global / thread-local mode) capture fail as they would on a GPU: cudaMalloc / cudaFree / cudaMallocHost /
//     cudaFreeHost, synchronous cudaMemcpy / cudaMemset, cudaStreamSynchronize / cudaDeviceSynchronize.
//   * Errors: every call returns cudaSuccess unless its arguments are invalid (null pointers, unknown handles) or the
//     capture rules above are broken; cudaGetLastError / cudaPeekAtLastError return the last such error.
#pragma once

#include "cuda_emu.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

// ---- errors ----------------------------------------------------------------------------------------------------------
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
  }
  return "cudaErrorUnknown";
}

namespace spak_emu::rt {
inline cudaError_t& last_error() {
  static thread_local cudaError_t e = cudaSuccess;
  return e;
}
// Returns e, remembering errors for cudaGetLastError (and, with SPAK_EMU_TRACE_ERRORS=1, printing them).
inline cudaError_t ret(cudaError_t e, const char* call) {
  if (e != cudaSuccess) {
    last_error() = e;
    if (env_int("SPAK_EMU_TRACE_ERRORS", 0)) std::fprintf(stderr, "spak_emu: %s -> %s\n", call, cudaGetErrorName(e));
  }
  return e;
}
inline bool capturing() { return captures_active > 0; }
}  // namespace spak_emu::rt

// cuda_emu.h's versions (no error state) are fine for the kernel tests; the trainer needs the sticky one.
#define cudaGetLastError spak_emu_cudaGetLastError
#define cudaPeekAtLastError spak_emu_cudaPeekAtLastError
inline cudaError_t spak_emu_cudaGetLastError() {
  const cudaError_t e = spak_emu::rt::last_error();
  spak_emu::rt::last_error() = cudaSuccess;
  return e;
}
inline cudaError_t spak_emu_cudaPeekAtLastError() { return spak_emu::rt::last_error(); }

// ---- device ----------------------------------------------------------------------------------------------------------
struct cudaDeviceProp {
  char name[256] = "CUDA emulator";
  size_t totalGlobalMem = size_t(16) << 30;
  size_t sharedMemPerBlock = 48 << 10;
  size_t sharedMemPerBlockOptin = 227 << 10;
  size_t sharedMemPerMultiprocessor = 228 << 10;
  int regsPerBlock = 65536;
  int warpSize = 32;
  int maxThreadsPerBlock = 1024;
  int maxThreadsDim[3] = {1024, 1024, 64};
  int maxGridSize[3] = {2147483647, 65535, 65535};
  int major = 9;
  int minor = 0;
  int multiProcessorCount = 4;
  int maxThreadsPerMultiProcessor = 2048;
  int clockRate = 1000000;
  int memoryClockRate = 1000000;
  int memoryBusWidth = 64;
  int l2CacheSize = 1 << 20;
};
inline cudaError_t cudaGetDeviceCount(int* n) {
  if (!n) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaGetDeviceCount");
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (!p || device != 0) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaGetDeviceProperties");
  *p = cudaDeviceProp{};
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : spak_emu::rt::ret(cudaErrorInvalidValue, "cudaSetDevice");
}
inline cudaError_t cudaGetDevice(int* device) {
  if (!device) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaGetDevice");
  *device = 0;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceReset() { return cudaSuccess; }

// ---- memory ----------------------------------------------------------------------------------------------------------
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

namespace spak_emu::rt {
struct Allocs {
  std::unordered_map<void*, size_t> device, host;
};
inline Allocs& allocs() {
  static Allocs a;
  return a;
}
inline cudaError_t alloc(void** p, size_t bytes, bool host, const char* call) {
  if (!p) return ret(cudaErrorInvalidValue, call);
  if (capturing()) return ret(cudaErrorStreamCaptureUnsupported, call);
  *p = nullptr;
  void* q = std::aligned_alloc(256, ((bytes ? bytes : 1) + 255) & ~size_t(255));
  if (!q) return ret(cudaErrorMemoryAllocation, call);
  if (!host) std::memset(q, env_int("SPAK_EMU_MALLOC_FILL", 0xFF), bytes);
  (host ? allocs().host : allocs().device)[q] = bytes;
  *p = q;
  return cudaSuccess;
}
inline cudaError_t release(void* p, bool host, const char* call) {
  if (!p) return cudaSuccess;
  if (capturing()) return ret(cudaErrorStreamCaptureUnsupported, call);
  auto& m = host ? allocs().host : allocs().device;
  auto it = m.find(p);
  if (it == m.end()) return ret(cudaErrorInvalidValue, call);
  m.erase(it);
  std::free(p);
  return cudaSuccess;
}
}  // namespace spak_emu::rt

template <typename T>
inline cudaError_t cudaMalloc(T** p, size_t bytes) {
  return spak_emu::rt::alloc(reinterpret_cast<void**>(p), bytes, false, "cudaMalloc");
}
template <typename T>
inline cudaError_t cudaMallocHost(T** p, size_t bytes) {
  return spak_emu::rt::alloc(reinterpret_cast<void**>(p), bytes, true, "cudaMallocHost");
}
inline cudaError_t cudaFree(void* p) { return spak_emu::rt::release(p, false, "cudaFree"); }
inline cudaError_t cudaFreeHost(void* p) { return spak_emu::rt::release(p, true, "cudaFreeHost"); }

inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (spak_emu::rt::capturing()) return spak_emu::rt::ret(cudaErrorStreamCaptureImplicit, "cudaMemcpy");
  if (bytes && (!dst || !src)) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaMemcpy");
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t s = nullptr) {
  if (bytes && (!dst || !src)) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaMemcpyAsync");
  if (!s && spak_emu::rt::capturing()) return spak_emu::rt::ret(cudaErrorStreamCaptureImplicit, "cudaMemcpyAsync");
  auto op = [dst, src, bytes] {
    if (bytes) std::memmove(dst, src, bytes);
  };
  if (!spak_emu::record(s, op)) op();
  return cudaSuccess;
}
inline cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (spak_emu::rt::capturing()) return spak_emu::rt::ret(cudaErrorStreamCaptureImplicit, "cudaMemset");
  if (bytes && !dst) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaMemset");
  if (bytes) std::memset(dst, value, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t s = nullptr) {
  if (bytes && !dst) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaMemsetAsync");
  if (!s && spak_emu::rt::capturing()) return spak_emu::rt::ret(cudaErrorStreamCaptureImplicit, "cudaMemsetAsync");
  auto op = [dst, value, bytes] {
    if (bytes) std::memset(dst, value, bytes);
  };
  if (!spak_emu::record(s, op)) op();
  return cudaSuccess;
}

// ---- streams and events ----------------------------------------------------------------------------------------------
constexpr unsigned cudaStreamDefault = 0x0;
constexpr unsigned cudaStreamNonBlocking = 0x1;
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  if (!s) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaStreamCreateWithFlags");
  *s = new CUstream_st{};
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (!s) return spak_emu::rt::ret(cudaErrorInvalidResourceHandle, "cudaStreamDestroy");
  if (s->capture) return spak_emu::rt::ret(cudaErrorStreamCaptureUnmatched, "cudaStreamDestroy");
  delete s;
  return cudaSuccess;
}

struct CUevent_st {
  int recorded = 0;
};
using cudaEvent_t = CUevent_st*;
constexpr unsigned cudaEventDefault = 0x0;
constexpr unsigned cudaEventBlockingSync = 0x1;
constexpr unsigned cudaEventDisableTiming = 0x2;
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) {
  if (!e) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaEventCreateWithFlags");
  *e = new CUevent_st{};
  return cudaSuccess;
}
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
  if (!e) return spak_emu::rt::ret(cudaErrorInvalidResourceHandle, "cudaEventDestroy");
  delete e;
  return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr) {
  if (!e) return spak_emu::rt::ret(cudaErrorInvalidResourceHandle, "cudaEventRecord");
  if (!spak_emu::record(s, [e] { ++e->recorded; })) ++e->recorded;
  return cudaSuccess;
}
inline cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t e, unsigned = 0) {
  // everything already ran: waiting is a no-op (a wait that joins another stream into a capture is not emulated)
  return e ? cudaSuccess : spak_emu::rt::ret(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent");
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (!e) return spak_emu::rt::ret(cudaErrorInvalidResourceHandle, "cudaEventSynchronize");
  return spak_emu::rt::capturing() ? spak_emu::rt::ret(cudaErrorStreamCaptureUnsupported, "cudaEventSynchronize")
                                   : cudaSuccess;
}
inline cudaError_t cudaEventQuery(cudaEvent_t e) { return cudaEventSynchronize(e); }
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  if (!ms || !a || !b) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaEventElapsedTime");
  *ms = 0.0f;
  return cudaSuccess;
}

// ---- graphs ----------------------------------------------------------------------------------------------------------
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};
struct CUgraph_st {
  std::vector<std::function<void()>> ops;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> ops;
};
using cudaGraph_t = CUgraph_st*;
using cudaGraphExec_t = CUgraphExec_st*;
struct CUgraphNode_st;
using cudaGraphNode_t = CUgraphNode_st*;

inline cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  if (!s) return spak_emu::rt::ret(cudaErrorStreamCaptureUnsupported, "cudaStreamBeginCapture");  // legacy stream
  if (s->capture) return spak_emu::rt::ret(cudaErrorIllegalState, "cudaStreamBeginCapture");
  auto* g = new CUgraph_st{};
  g->mode = mode;
  s->capture = &g->ops;
  s->graph = g;
  if (mode != cudaStreamCaptureModeRelaxed) ++spak_emu::captures_active;
  return cudaSuccess;
}
inline cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  if (!s || !graph) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaStreamEndCapture");
  if (!s->capture) return spak_emu::rt::ret(cudaErrorStreamCaptureUnmatched, "cudaStreamEndCapture");
  CUgraph_st* g = static_cast<CUgraph_st*>(s->graph);
  s->capture = nullptr;
  s->graph = nullptr;
  if (g->mode != cudaStreamCaptureModeRelaxed) --spak_emu::captures_active;
  *graph = g;
  return cudaSuccess;
}
inline cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* st) {
  if (!st) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaStreamIsCapturing");
  *st = s && s->capture ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g, unsigned long long = 0) {
  if (!exec || !g) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaGraphInstantiate");
  *exec = new CUgraphExec_st{g->ops};
  return cudaSuccess;
}
// The CUDA 11 form (error node, log buffer).
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g, cudaGraphNode_t*, char*, size_t) {
  return cudaGraphInstantiate(exec, g, 0ull);
}
inline cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t g, unsigned long long f = 0) {
  return cudaGraphInstantiate(exec, g, f);
}
inline cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  if (!g) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaGraphDestroy");
  delete g;
  return cudaSuccess;
}
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
  if (!e) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaGraphExecDestroy");
  delete e;
  return cudaSuccess;
}
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s) {
  if (!e) return spak_emu::rt::ret(cudaErrorInvalidValue, "cudaGraphLaunch");
  auto op = [e] {
    for (const auto& f : e->ops) f();
  };
  if (!spak_emu::record(s, op)) op();
  return cudaSuccess;
}
