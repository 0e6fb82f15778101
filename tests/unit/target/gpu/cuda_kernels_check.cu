// cuda_kernels_check.cu — runs the CUDA emission of tests/lit/target/Inputs/{matmul,rows,embed}.mlir on a GPU and
// compares with float64 references (max rel error < 1e-5, same metric as the cpp tests in EmitRunTest.cpp).
// Not part of the CMake build (CI has no GPU); run_on_gpu.sh emits the kernels here and builds/runs this on the
// device machine:  nvcc -std=c++17 -gencode arch=compute_90a,code=sm_90a -DSPAK_CASE=<1|2|3> -o check this.cu
#include <cmath>
#include <cstdio>
#include <vector>

#if SPAK_CASE == 1
#include "gen/matmul.cu"
#elif SPAK_CASE == 2
#include "gen/rows.cu"
#else
#include "gen/embed.cu"
#endif

static uint32_t lcg = 12345;
static float rnd(float scale = 1.0f) {
  lcg = lcg * 1664525u + 1013904223u;
  return scale * ((lcg >> 8) * (2.0f / 16777216.0f) - 1.0f);
}

template <typename T> static T* upload(const std::vector<T>& h) {
  T* d = nullptr;
  SPAK_CUDA_CHECK(cudaMalloc(&d, h.size() * sizeof(T)));
  SPAK_CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
template <typename T> static std::vector<T> download(const T* d, size_t n) {
  std::vector<T> h(n);
  SPAK_CUDA_CHECK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}
static double relErr(const std::vector<float>& got, const std::vector<double>& ref, double floor) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    worst = std::max(worst, std::fabs(got[i] - ref[i]) / std::max(std::fabs(ref[i]), floor));
  }
  return worst;
}
static int report(const char* what, double err) {
  std::printf("%-28s max rel error %.3g  %s\n", what, err, err < 1e-5 ? "ok" : "FAIL");
  return err < 1e-5 ? 0 : 1;
}

int main() {
  return [&]() -> int {
    spak_gen::StepContext ctx;
    ctx.capacity = size_t(64) << 20;
    SPAK_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ctx.base), ctx.capacity));
    SPAK_CUDA_CHECK(cudaStreamCreate(&ctx.stream));
    int bad = 0;
#if SPAK_CASE == 1
    const int64_t M = 1001, K = 29, N = 45;
    std::vector<float> a(M * K), b(K * N), w(N * K), bias(N);
    for (auto* v : {&a, &b, &w, &bias}) for (auto& x : *v) x = rnd();
    auto c = spak_gen::matmul(ctx, {upload(a), {M, K}}, {upload(b), {K, N}});
    auto y = spak_gen::linear(ctx, {upload(a), {M, K}}, {upload(w), {N, K}}, {upload(bias), {N}});
    SPAK_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    std::vector<double> rc(M * N), ry(M * N);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0, t = bias[n];
        for (int64_t k = 0; k < K; ++k) { s += double(a[m * K + k]) * b[k * N + n]; t += double(a[m * K + k]) * w[n * K + k]; }
        rc[m * N + n] = s; ry[m * N + n] = t;
      }
    bad += report("matmul 1001x29 * 29x45", relErr(download(c.data, M * N), rc, 1.0));
    bad += report("linear 1001x29 * 45x29^T + b", relErr(download(y.data, M * N), ry, 1.0));
#elif SPAK_CASE == 2
    const int64_t R = 1001, C = 27, C2 = 20;
    std::vector<float> x(R * C), x2(R * C2), w(C2);
    for (auto& v : x) v = rnd(60.0f);
    for (auto& v : x2) v = rnd();
    for (auto& v : w) v = rnd();
    auto y = spak_gen::softmax(ctx, {upload(x), {R, C}});
    auto y2 = spak_gen::rmsnorm(ctx, {upload(x2), {R, C2}}, {upload(w), {C2}});
    SPAK_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    std::vector<double> ry(R * C), ry2(R * C2);
    for (int64_t r = 0; r < R; ++r) {
      double mx = -INFINITY, sum = 0, ss = 0;
      for (int64_t c = 0; c < C; ++c) mx = std::max(mx, double(x[r * C + c]));
      for (int64_t c = 0; c < C; ++c) sum += std::exp(double(x[r * C + c]) - mx);
      for (int64_t c = 0; c < C; ++c) ry[r * C + c] = std::exp(double(x[r * C + c]) - mx) / sum;
      for (int64_t c = 0; c < C2; ++c) ss += double(x2[r * C2 + c]) * x2[r * C2 + c];
      for (int64_t c = 0; c < C2; ++c) ry2[r * C2 + c] = x2[r * C2 + c] / std::sqrt(ss / C2 + 1e-5) * w[c];
    }
    bad += report("softmax 1001x27 (floor)", relErr(download(y.data, R * C), ry, 1e-6));
    bad += report("rmsnorm 1001x20", relErr(download(y2.data, R * C2), ry2, 1e-3));
#else
    const int64_t T = 5000, V = 27, D = 16;
    std::vector<int32_t> ids(T);
    std::vector<float> dout(T * D);
    for (auto& id : ids) { lcg = lcg * 1664525u + 1013904223u; id = int32_t((lcg >> 8) % V); }
    for (auto& v : dout) v = rnd();
    auto g = spak_gen::embed_backward(ctx, {upload(ids), {T}}, {upload(dout), {T, D}});
    SPAK_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    std::vector<double> rg(V * D, 0.0);
    for (int64_t t = 0; t < T; ++t) for (int64_t d = 0; d < D; ++d) rg[ids[t] * D + d] += dout[t * D + d];
    // 5000 float atomics into 27 rows: summation order varies; compare with the row scale.
    bad += report("embedding backward T=5000", relErr(download(g.data, V * D), rg, 10.0));
#endif
    return bad;
  }();
}
