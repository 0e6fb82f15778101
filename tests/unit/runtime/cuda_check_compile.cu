// Compile check: cuda_check.h (and the CPU runtime) build with nvcc as C++17.
#include "spak/runtime/cuda_check.h"
#include "spak/runtime/runtime.h"

__global__ void spak_noop_kernel(float* p) { p[threadIdx.x] = 0.0f; }

int spak_cuda_check_compile() {
  float* p = nullptr;
  SPAK_CUDA_CHECK(cudaMalloc(&p, 32 * sizeof(float)));
  spak_noop_kernel<<<1, 32>>>(p);
  SPAK_CUDA_CHECK_LAST();
  SPAK_CUDA_CHECK(cudaFree(p));
  return 0;
}
