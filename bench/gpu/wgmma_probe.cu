// wgmma layout probe (mma_schedule = 6, docs/cuda-mma.md): checks, on an sm_90a GPU, the shared-memory layout and
// descriptor conventions that spakc's CUDA emitter uses for wgmma.mma_async operands, against a float64 reference.
//   nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a bench/gpu/wgmma_probe.cu -o wgmma_probe && ./wgmma_probe
// Layout (no swizzle): a tile of R rows x C columns, C the contiguous (global) dim, is cut into 8 x 8 core matrices
// of 128 contiguous bytes; core matrix (r / 8, c / 8) starts at element ((c / 8) * (R / 8) + r / 8) * 64, element
// (r % 8, c % 8) at + (r % 8) * 8 + c % 8. K-major operands (a: [M, K], b^T: [N, K]) take LBO = R * 16 bytes (the
// next 8 k) and SBO = 128 (the next 8 rows); MN-major operands (a^T: [K, M], b: [K, N]) take LBO = 128 (the next 8 k)
// and SBO = R * 16 (the next 8 m / n). The probe also runs the MN-major cases with LBO and SBO swapped: exactly one
// of the two conventions may match.
#include <cstdio>
#include <cstdint>
#include <cmath>
#include <vector>
#include <random>
#include <cuda_bf16.h>

__device__ __forceinline__ uint64_t wgmma_desc(const void* tile, uint32_t lbo, uint32_t sbo) {
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(tile));
  return uint64_t((a & 0x3FFFFu) >> 4) | (uint64_t(lbo >> 4) << 16) | (uint64_t(sbo >> 4) << 32);
}
template <int TA, int TB>
__device__ __forceinline__ void wgmma_m64n128k16(float* d, uint64_t a, uint64_t b) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, %67, %68;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(a), "l"(b), "r"(1), "n"(TA), "n"(TB));
}

template <int TA, int TB>
__device__ __forceinline__ void wgmma_m64n64k16(float* d, uint64_t a, uint64_t b) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, %35, %36;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(a), "l"(b), "r"(1), "n"(TA), "n"(TB));
}

__host__ __device__ inline int cm(int r, int c, int R) { return ((c / 8) * (R / 8) + r / 8) * 64 + (r % 8) * 8 + c % 8; }

// One warpgroup: D[64 x N] = A[64 x K] * B[K x N], K = 32 (two k16 steps). ta / tb: a stored [K, M] / b stored [K, N]
// (MN-major); else a [M, K] / b^T [N, K] (K-major). swap: LBO and SBO exchanged for MN-major operands.
template <int N, int TA, int TB>
__global__ void probe(const __nv_bfloat16* A, const __nv_bfloat16* B, float* D, int swap) {
  constexpr int M = 64, K = 32;
  __shared__ __align__(128) uint16_t sa[M * K], sb[N * K];
  const int tid = threadIdx.x;
  const uint16_t* ga = reinterpret_cast<const uint16_t*>(A);
  const uint16_t* gb = reinterpret_cast<const uint16_t*>(B);
  for (int e = tid; e < M * K; e += 128) {  // A row-major [M][K] in global
    int m = e / K, k = e % K;
    if (TA) sa[cm(k, m, K)] = ga[e]; else sa[cm(m, k, M)] = ga[e];
  }
  for (int e = tid; e < K * N; e += 128) {  // B row-major [K][N] in global
    int k = e / N, n = e % N;
    if (TB) sb[cm(k, n, K)] = gb[e]; else sb[cm(n, k, N)] = gb[e];
  }
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();
  float d[N / 2];
  for (int i = 0; i < N / 2; ++i) d[i] = 0.0f;
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
  for (int k0 = 0; k0 < K; k0 += 16) {
    uint32_t lboA = TA ? 128 : M * 16, sboA = TA ? K * 16 : 128;
    uint32_t lboB = TB ? 128 : N * 16, sboB = TB ? K * 16 : 128;
    if (swap && TA) { uint32_t t = lboA; lboA = sboA; sboA = t; }
    if (swap && TB) { uint32_t t = lboB; lboB = sboB; sboB = t; }
    const uint16_t* pa = TA ? sa + 8 * k0 : sa + k0 * M;
    const uint16_t* pb = TB ? sb + 8 * k0 : sb + k0 * N;
    if constexpr (N == 128) wgmma_m64n128k16<TA, TB>(d, wgmma_desc(pa, lboA, sboA), wgmma_desc(pb, lboB, sboB));
    else wgmma_m64n64k16<TA, TB>(d, wgmma_desc(pa, lboA, sboA), wgmma_desc(pb, lboB, sboB));
  }
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  for (int i = 0; i < N / 2; ++i) asm volatile("" : "+f"(d[i])::"memory");
  const int warp = tid >> 5, lane = tid & 31;
  for (int i = 0; i < N / 2; ++i) {
    int row = warp * 16 + (lane >> 2) + ((i >> 1) & 1) * 8, col = (i >> 2) * 8 + 2 * (lane & 3) + (i & 1);
    D[row * N + col] = d[i];
  }
}

template <int N, int TA, int TB>
int run(int swap) {
  constexpr int M = 64, K = 32;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<__nv_bfloat16> a(M * K), b(K * N);
  for (auto& x : a) x = __float2bfloat16(u(rng));
  for (auto& x : b) x = __float2bfloat16(u(rng));
  __nv_bfloat16 *da, *db; float* dd;
  cudaMalloc(&da, a.size() * 2); cudaMalloc(&db, b.size() * 2); cudaMalloc(&dd, M * N * 4);
  cudaMemcpy(da, a.data(), a.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), b.size() * 2, cudaMemcpyHostToDevice);
  cudaMemset(dd, 0, M * N * 4);
  probe<N, TA, TB><<<1, 128>>>(da, db, dd, swap);
  cudaError_t err = cudaDeviceSynchronize();
  std::vector<float> d(M * N);
  cudaMemcpy(d.data(), dd, d.size() * 4, cudaMemcpyDeviceToHost);
  double worst = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double ref = 0;
      for (int k = 0; k < K; ++k) ref += double(__bfloat162float(a[m * K + k])) * double(__bfloat162float(b[k * N + n]));
      worst = std::fmax(worst, std::fabs(ref - d[m * N + n]));
    }
  bool ok = err == cudaSuccess && worst < 1e-3;
  std::printf("wgmma_probe n=%d a:%s b:%s%s  max|D - ref| = %.3g  %s%s\n", N, TA ? "MN-major" : "K-major ",
              TB ? "MN-major" : "K-major ", swap ? " (LBO/SBO swapped)" : "", worst, ok ? "MATCH" : "MISMATCH",
              err == cudaSuccess ? "" : cudaGetErrorString(err));
  cudaFree(da); cudaFree(db); cudaFree(dd);
  return ok ? 0 : 1;
}

int main() {
  int bad = 0;
  bad += run<128, 0, 0>(0);
  bad += run<64, 0, 0>(0);
  bad += run<128, 0, 1>(0);
  bad += run<128, 1, 0>(0);
  bad += run<128, 1, 1>(0);
  bad += run<64, 1, 1>(0);
  run<128, 0, 1>(1);
  run<128, 1, 0>(1);
  std::printf("wgmma_probe: %d of the 6 conventions spakc uses MISMATCH\n", bad);
  return bad ? 1 : 0;
}
