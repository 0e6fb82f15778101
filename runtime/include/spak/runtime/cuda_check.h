// spak/runtime/cuda_check.h — CUDA error checking for the cuda target of generated trainers. Includes
// <cuda_runtime.h>, so only CUDA builds include this header; everything else in spak/runtime is CUDA-free.
//
//   SPAK_CUDA_CHECK(cudaMalloc(&p, bytes));   // throws spak::rt::Error("CUDA error at train.cu:42: cudaMalloc(&p,
//                                             //   bytes) failed: out of memory (cudaErrorMemoryAllocation)")
//   my_kernel<<<grid, block>>>(...);
//   SPAK_CUDA_CHECK_LAST();                   // launch errors (bad configuration, ...)
//   spak::rt::require_cuda_device();          // a clear error when no GPU is visible
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "spak/runtime/check.h"

namespace spak::rt {

[[noreturn]] inline void fail_cuda(cudaError_t err, const char* expr, const char* file, int line) {
  fail(cat("CUDA error at ", file, ":", line, ": ", expr, " failed: ", cudaGetErrorString(err), " (",
           cudaGetErrorName(err), ")"));
}

// Checks that a CUDA device is usable; returns its name and compute capability ("NVIDIA H100 (sm_90)").
inline std::string require_cuda_device(int device = 0) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) fail(cat("no usable CUDA device: ", cudaGetErrorString(err), " (use --device cpu)"));
  if (count <= device) fail(cat("CUDA device ", device, " not found (", count, " visible; use --device cpu)"));
  cudaDeviceProp prop;
  err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) fail_cuda(err, "cudaGetDeviceProperties", __FILE__, __LINE__);
  err = cudaSetDevice(device);
  if (err != cudaSuccess) fail_cuda(err, "cudaSetDevice", __FILE__, __LINE__);
  return cat(prop.name, " (sm_", prop.major, prop.minor, ")");
}

}  // namespace spak::rt

#define SPAK_CUDA_CHECK(expr)                                                             \
  do {                                                                                    \
    cudaError_t spak_cuda_err_ = (expr);                                                  \
    if (spak_cuda_err_ != cudaSuccess) ::spak::rt::fail_cuda(spak_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// Checks the last kernel launch (cudaGetLastError); add cudaDeviceSynchronize() first to catch execution errors.
#define SPAK_CUDA_CHECK_LAST() SPAK_CUDA_CHECK(cudaGetLastError())
