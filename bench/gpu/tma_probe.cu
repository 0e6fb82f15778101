// TMA + swizzle probe (mma_schedule = 9, docs/cuda-mma.md): checks, on an sm_90a GPU, the conventions spakc's CUDA
// emitter and its CPU emulator (tests/cuda_emu/cuda_emu.h) assume for the matmul rings filled by the tensor memory
// accelerator (cp.async.bulk.tensor.2d, completion on an mbarrier) in swizzled layouts read by wgmma:
//   nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a bench/gpu/tma_probe.cu -o tma_probe && ./tma_probe
// 1. Layout. A box of R rows x E elements (E = W / 2 bf16: one W-byte swizzle span, W = 128, 64 or 32) lands at
//    byte r * W + c * 2 of its slot, with address bits [4, 4 + log2(W / 16)) XORed with bits [7, ...): the 16-byte
//    chunk index c * 2 / 16 XOR (byte >> 7) & (W / 16 - 1) (the slot 1024-byte aligned). Elements past the tensor's
//    bounds read as zero. The probe loads boxes that straddle the bounds and compares every byte.
// 2. wgmma. A tile of R rows x C columns (C the contiguous global dim, a multiple of E) is C / E boxes, box j at
//    j * R * W bytes. K-major operands ([m, k], [n, k]) take start + (k0 / E) * R * W + (k0 % E) * 2 per 16 k, LBO
//    = 16 (unused), SBO = 8 W; MN-major ones ([k, m], [k, n]) take start + k0 * W, LBO = R * W (the next E m / n),
//    SBO = 8 W (the next 8 k); the descriptor's layout type (bits 62-63) is 1 / 2 / 3 for W = 128 / 64 / 32. The
//    MN-major cases also run with LBO and SBO exchanged: exactly one of the two may match.
#include <cstdio>
#include <cstdint>
#include <cmath>
#include <vector>
#include <random>
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

static PFN_cuTensorMapEncodeTiled_v12000 encode = nullptr;

static int make_map(CUtensorMap* map, const void* p, uint64_t cols, uint64_t rows, uint32_t box_cols, uint32_t box_rows,
                    int w) {
  cuuint64_t dims[2] = {cols, rows};
  cuuint64_t strides[1] = {cols * 2};
  cuuint32_t box[2] = {box_cols, box_rows};
  cuuint32_t es[2] = {1, 1};
  CUtensorMapSwizzle sw = w == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : w == 64 ? CU_TENSOR_MAP_SWIZZLE_64B : CU_TENSOR_MAP_SWIZZLE_32B;
  CUresult r = encode(map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<void*>(p), dims, strides, box, es,
                      CU_TENSOR_MAP_INTERLEAVE_NONE, sw, CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) std::printf("cuTensorMapEncodeTiled failed: %d\n", int(r));
  return r == CUDA_SUCCESS ? 0 : 1;
}

__device__ __forceinline__ uint32_t saddr(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ void mbar_init(uint64_t* b) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"(saddr(b)));
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
__device__ __forceinline__ void mbar_expect(uint64_t* b, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(saddr(b)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t* b, uint32_t parity) {
  uint32_t ok = 0;
  while (!ok)
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(ok) : "r"(saddr(b)), "r"(parity) : "memory");
}
__device__ __forceinline__ void tma2d(void* dst, const CUtensorMap* map, int c0, int c1, uint64_t* b) {
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
               ::"r"(saddr(dst)), "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(saddr(b)) : "memory");
}

// 1. layout: one box [box_rows x E] at (c0, r0) of a [rows x cols] tensor, dumped byte for byte.
__global__ void layout_probe(const __grid_constant__ CUtensorMap map, int c0, int r0, uint32_t bytes, uint16_t* out) {
  extern __shared__ __align__(1024) unsigned char sm[];
  __shared__ uint64_t bar;
  if (threadIdx.x == 0) { mbar_init(&bar); }
  __syncthreads();
  if (threadIdx.x == 0) { mbar_expect(&bar, bytes); tma2d(sm, &map, c0, r0, &bar); }
  mbar_wait(&bar, 0);
  for (uint32_t i = threadIdx.x; i < bytes / 2; i += blockDim.x) out[i] = reinterpret_cast<uint16_t*>(sm)[i];
}

static uint32_t swz(uint32_t o, int w) { return o ^ (((o >> 7) & uint32_t(w / 16 - 1)) << 4); }

static int check_layout(int w, int rows, int cols, int box_rows, int c0, int r0) {
  const int E = w / 2;
  std::vector<uint16_t> g(size_t(rows) * cols);
  for (size_t i = 0; i < g.size(); ++i) g[i] = uint16_t(1 + i % 60000);
  uint16_t *dg, *dout;
  const uint32_t bytes = uint32_t(box_rows) * w;
  cudaMalloc(&dg, g.size() * 2);
  cudaMalloc(&dout, bytes);
  cudaMemcpy(dg, g.data(), g.size() * 2, cudaMemcpyHostToDevice);
  CUtensorMap map;
  if (make_map(&map, dg, cols, rows, E, box_rows, w)) return 1;
  layout_probe<<<1, 128, bytes>>>(map, c0, r0, bytes, dout);
  cudaError_t err = cudaDeviceSynchronize();
  std::vector<uint16_t> o(bytes / 2);
  cudaMemcpy(o.data(), dout, bytes, cudaMemcpyDeviceToHost);
  int bad = 0;
  for (int r = 0; r < box_rows; ++r)
    for (int c = 0; c < E; ++c) {
      int gr = r0 + r, gc = c0 + c;
      uint16_t want = (gr < rows && gc < cols && gr >= 0 && gc >= 0) ? g[size_t(gr) * cols + gc] : 0;
      uint32_t at = swz(uint32_t(r * w + c * 2), w) / 2;
      bad += o[at] != want;
    }
  std::printf("tma_probe layout W=%3d box %3d x %2d at (%d, %d) of %d x %d: %d wrong elements %s %s\n", w, box_rows, E,
              c0, r0, rows, cols, bad, bad ? "MISMATCH" : "MATCH", err == cudaSuccess ? "" : cudaGetErrorString(err));
  cudaFree(dg); cudaFree(dout);
  return bad || err != cudaSuccess;
}

__device__ __forceinline__ uint64_t desc(const void* p, uint32_t lbo, uint32_t sbo, int w) {
  const uint64_t type = w == 128 ? 1 : w == 64 ? 2 : 3;
  return uint64_t((saddr(p) & 0x3FFFFu) >> 4) | (uint64_t((lbo >> 4) & 0x3FFF) << 16) |
         (uint64_t((sbo >> 4) & 0x3FFF) << 32) | (type << 62);
}

template <int TA, int TB>
__device__ __forceinline__ void wgmma_n128(float* d, uint64_t a, uint64_t b) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, %67, %68;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(a), "l"(b), "r"(1), "n"(TA), "n"(TB));
}

// 2. One warpgroup: D[64 x 128] = A[64 x K] B[K x 128], K = 128, both operands loaded by TMA from row-major global
// arrays. ta: A stored [K][M] (MN-major) else [M][K]; tb: B stored [K][N] (MN-major) else B^T [N][K].
template <int TA, int TB>
__global__ void gemm_probe(const __grid_constant__ CUtensorMap ma, const __grid_constant__ CUtensorMap mb, float* D,
                           int w, int swap) {
  constexpr int M = 64, N = 128, K = 128;
  extern __shared__ __align__(1024) unsigned char sm[];
  __shared__ uint64_t bar;
  const int E = w / 2;
  unsigned char* sa = sm;
  unsigned char* sb = sm + M * K * 2;
  if (threadIdx.x == 0) mbar_init(&bar);
  __syncthreads();
  if (threadIdx.x == 0) {
    mbar_expect(&bar, (M * K + N * K) * 2);
    const int ra = TA ? K : M, ca = TA ? M : K, rb = TB ? K : N, cb = TB ? N : K;
    for (int j = 0; j < ca / E; ++j) tma2d(sa + j * ra * w, &ma, j * E, 0, &bar);
    for (int j = 0; j < cb / E; ++j) tma2d(sb + j * rb * w, &mb, j * E, 0, &bar);
  }
  mbar_wait(&bar, 0);
  float d[N / 2];
  for (int i = 0; i < N / 2; ++i) d[i] = 0.0f;
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
  for (int k0 = 0; k0 < K; k0 += 16) {
    uint32_t lboA = TA ? K * w : 16, sboA = 8 * w, lboB = TB ? K * w : 16, sboB = 8 * w;
    if (swap && TA) { uint32_t t = lboA; lboA = sboA; sboA = t; }
    if (swap && TB) { uint32_t t = lboB; lboB = sboB; sboB = t; }
    const unsigned char* pa = TA ? sa + k0 * w : sa + (k0 / E) * M * w + (k0 % E) * 2;
    const unsigned char* pb = TB ? sb + k0 * w : sb + (k0 / E) * N * w + (k0 % E) * 2;
    wgmma_n128<TA, TB>(d, desc(pa, lboA, sboA, w), desc(pb, lboB, sboB, w));
  }
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  for (int i = 0; i < N / 2; ++i) asm volatile("" : "+f"(d[i])::"memory");
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  for (int i = 0; i < N / 2; ++i) {
    int row = warp * 16 + (lane >> 2) + ((i >> 1) & 1) * 8, col = (i >> 2) * 8 + 2 * (lane & 3) + (i & 1);
    D[row * N + col] = d[i];
  }
}

template <int TA, int TB>
static int check_gemm(int w, int swap) {
  constexpr int M = 64, N = 128, K = 128;
  const int E = w / 2;
  std::mt19937 rng(7 + w + 2 * TA + TB);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<__nv_bfloat16> a(M * K), b(K * N);  // a[m][k] (or [k][m]), b[k][n] (or [n][k]) as stored
  for (auto& x : a) x = __float2bfloat16(u(rng));
  for (auto& x : b) x = __float2bfloat16(u(rng));
  auto A = [&](int m, int k) { return double(__bfloat162float(TA ? a[k * M + m] : a[m * K + k])); };
  auto B = [&](int k, int n) { return double(__bfloat162float(TB ? b[k * N + n] : b[n * K + k])); };
  __nv_bfloat16 *da, *db;
  float* dd;
  cudaMalloc(&da, a.size() * 2); cudaMalloc(&db, b.size() * 2); cudaMalloc(&dd, M * N * 4);
  cudaMemcpy(da, a.data(), a.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), b.size() * 2, cudaMemcpyHostToDevice);
  cudaMemset(dd, 0, M * N * 4);
  CUtensorMap ma, mb;
  int bad = make_map(&ma, da, TA ? M : K, TA ? K : M, E, TA ? K : M, w) +
            make_map(&mb, db, TB ? N : K, TB ? K : N, E, TB ? K : N, w);
  const int smem = (M * K + N * K) * 2;
  cudaFuncSetAttribute(gemm_probe<TA, TB>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  gemm_probe<TA, TB><<<1, 128, smem>>>(ma, mb, dd, w, swap);
  cudaError_t err = cudaDeviceSynchronize();
  std::vector<float> d(M * N);
  cudaMemcpy(d.data(), dd, d.size() * 4, cudaMemcpyDeviceToHost);
  double worst = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double ref = 0;
      for (int k = 0; k < K; ++k) ref += A(m, k) * B(k, n);
      worst = std::fmax(worst, std::fabs(ref - d[m * N + n]));
    }
  bool ok = !bad && err == cudaSuccess && worst < 1e-3;
  std::printf("tma_probe wgmma W=%3d a:%s b:%s%s  max|D - ref| = %.3g  %s %s\n", w, TA ? "MN-major" : "K-major ",
              TB ? "MN-major" : "K-major ", swap ? " (LBO/SBO swapped)" : "", worst, ok ? "MATCH" : "MISMATCH",
              err == cudaSuccess ? "" : cudaGetErrorString(err));
  cudaFree(da); cudaFree(db); cudaFree(dd);
  if (err != cudaSuccess) { cudaDeviceReset(); }
  return ok ? 0 : 1;
}

int main() {
  cudaDriverEntryPointQueryResult q;
  if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", reinterpret_cast<void**>(&encode), 12000,
                                       cudaEnableDefault, &q) != cudaSuccess || !encode) {
    std::printf("tma_probe: no cuTensorMapEncodeTiled\n");
    return 2;
  }
  int bad = 0;
  for (int w : {128, 64, 32}) {
    bad += check_layout(w, 200, 192, 64, 0, 0);
    bad += check_layout(w, 200, 192, 128, w / 2, 96);           // rows past the bottom read as zero
    bad += check_layout(w, 200, 200, 16, 200 - w / 2 + 8, 40);  // columns past the right edge read as zero
  }
  for (int w : {128, 64, 32}) {
    bad += check_gemm<0, 0>(w, 0);
    bad += check_gemm<0, 1>(w, 0);
    bad += check_gemm<1, 0>(w, 0);
    bad += check_gemm<1, 1>(w, 0);
  }
  check_gemm<0, 1>(128, 1);
  check_gemm<1, 0>(128, 1);
  std::printf("tma_probe: %d of the conventions spakc uses MISMATCH\n", bad);
  return bad ? 1 : 0;
}
