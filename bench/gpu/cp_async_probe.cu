// cp.async probe: how the k-tile copies of the matmul rings reach L2 (docs/benchmarks.md, session 6). Each CTA copies
// a 128-row x 32-column bf16 k-tile per k-step (12 k-steps: K = 384, rows 768 B apart), 256 threads, 16-byte chunks,
// with the thread -> chunk mapping and cp.async form of each variant; the kernel time and (under ncu) the L2 requests
// per copy instruction show which variant coalesces.
//   nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a bench/gpu/cp_async_probe.cu -o /tmp/cpp && /tmp/cpp
//   ncu --metrics lts__t_requests_op_read.sum,lts__t_sectors_op_read.sum,smsp__inst_executed_op_ldgsts.sum /tmp/cpp 1
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cuda_runtime.h>

constexpr int ROWS = 128, KT = 32, K = 384, NT = 256, CHUNKS = ROWS * KT / 8;

// mapping 0: consecutive threads take consecutive chunks of a row (4 per row); 1: 8 consecutive threads take one chunk
// column of 8 consecutive rows (a wgmma core matrix). form 0: src-size operand (zero fill); 1: plain 16-byte copy;
// 2: plain with the L2::128B prefetch hint; 3: cp.async.ca (through L1); 4: ld.global.v4 + st.shared.v4.
template <int MAPPING, int FORM>
__global__ void __launch_bounds__(NT) probe(const uint16_t* __restrict__ src, float* out) {
  extern __shared__ __align__(16) unsigned char smem[];
  uint16_t* tile = reinterpret_cast<uint16_t*>(smem);
  const int tid = threadIdx.x;
  const int64_t row0 = int64_t(blockIdx.x % 128) * ROWS;  // 12 CTAs per row block, as the 12 column tiles
  float acc = 0.f;
  for (int k0 = 0; k0 < K; k0 += KT) {
#pragma unroll
    for (int s = 0, c = tid; s < CHUNKS / NT; ++s, c += NT) {
      int r, ch;
      if (MAPPING == 0) { r = c / 4; ch = c % 4; }
      else { r = (c / 32) * 8 + (c & 7); ch = (c >> 3) % 4; }
      const uint16_t* g = src + (row0 + r) * K + k0 + ch * 8;
      const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(tile + ((ch * (ROWS / 8) + r / 8) * 64 + (r % 8) * 8)));
      const int n = 8;
      if (FORM == 0)
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(g), "r"(n * 2) : "memory");
      else if (FORM == 1)
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(g) : "memory");
      else if (FORM == 2)
        asm volatile("cp.async.cg.shared.global.L2::128B [%0], [%1], 16;\n" ::"r"(d), "l"(g) : "memory");
      else if (FORM == 3)
        asm volatile("cp.async.ca.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(g) : "memory");
      else  // 4: through registers (16-byte load, 16-byte shared store)
        *reinterpret_cast<uint4*>(tile + ((ch * (ROWS / 8) + r / 8) * 64 + (r % 8) * 8)) = *reinterpret_cast<const uint4*>(g);
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");
    __syncthreads();
    acc += float(tile[tid * 8]);
    __syncthreads();
  }
  if (acc == 12345.f) out[blockIdx.x] = acc;  // keeps the copies alive
}

template <int M, int F>
void run(const uint16_t* src, float* out, int blocks, int reps) {
  cudaEvent_t a, b;
  cudaEventCreate(&a); cudaEventCreate(&b);
  probe<M, F><<<blocks, NT, ROWS * KT * 2>>>(src, out);
  cudaEventRecord(a);
  for (int i = 0; i < reps; ++i) probe<M, F><<<blocks, NT, ROWS * KT * 2>>>(src, out);
  cudaEventRecord(b);
  cudaEventSynchronize(b);
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  double bytes = double(blocks) * ROWS * K * 2;
  std::printf("cp_async_probe mapping %d (%s) form %d (%s): %.1f us per launch, %.0f GB/s\n", M,
              M ? "8 rows per chunk column" : "4 chunks per row", F,
              F == 0 ? "src-size" : F == 1 ? "plain" : F == 2 ? "plain + L2::128B" : F == 3 ? ".ca" : "ld.global.v4", ms * 1e3 / reps, bytes / (ms * 1e-3 / reps) / 1e9);
}

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 50;
  const int blocks = 16384 / ROWS * 12;  // the A operand of a 16384 x 384 x 1536 linear, read once per column tile
  uint16_t* src; float* out;
  cudaMalloc(&src, size_t(16384) * K * 2);
  cudaMalloc(&out, blocks * 4);
  cudaMemset(src, 0, size_t(16384) * K * 2);
  run<0, 0>(src, out, blocks, reps);
  run<0, 1>(src, out, blocks, reps);
  run<0, 2>(src, out, blocks, reps);
  run<1, 0>(src, out, blocks, reps);
  run<1, 1>(src, out, blocks, reps);
  run<1, 2>(src, out, blocks, reps);
  run<0, 3>(src, out, blocks, reps);
  run<1, 3>(src, out, blocks, reps);
  run<0, 4>(src, out, blocks, reps);
  run<1, 4>(src, out, blocks, reps);
  std::printf("(%d CTAs of %d threads; %s)\n", blocks, NT, cudaGetErrorString(cudaDeviceSynchronize()));
  return 0;
}
