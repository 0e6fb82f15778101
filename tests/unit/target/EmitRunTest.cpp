// EmitRunTest.cpp — the correctness checks of the emitters: tile IR (tests/lit/target/Inputs/*.mlir) is emitted to
// portable C++, compiled with the host compiler (-Wall -Wextra -Werror), run on random inputs, and compared with a
// float64 reference computed here. The same modules' CUDA emission is compiled with nvcc for sm_90a and sm_120 when
// the toolkit is found (no GPU is needed for that).
#include "TargetTestUtil.h"

#include <catch2/catch.hpp>

using namespace spak_test;
using spak::target::TargetKind;

namespace {

/// Emits `input` to C++, appends `mainBody` (inside main(argc, argv) with argv[1] = the work dir), compiles, runs.
void emitCompileRun(const std::string &input, const fs::path &dir, const std::string &mainBody) {
  IrContext ir;
  auto module = ir.parseFile(inputPath(input));
  INFO(ir.diags);
  REQUIRE(module);
  std::string code = emitToString(*module, TargetKind::Cpp);
  INFO(ir.diags);
  REQUIRE(!code.empty());
  std::string program = code + harnessPrologue() +
                        "int main(int argc, char** argv) {\n"
                        "  if (argc < 2) return 2;\n"
                        "  const std::string dir = argv[1];\n"
                        "  std::vector<unsigned char> workspace(1 << 22);\n"
                        "  spak_gen::StepContext ctx;\n"
                        "  ctx.base = workspace.data();\n"
                        "  ctx.capacity = workspace.size();\n" +
                        mainBody + "  return 0;\n}\n";
  std::string log;
  bool compiled = compileHost(dir, program, log);
  INFO("compile log:\n" << log);
  REQUIRE(compiled);
  int rc = run("'" + (dir / "prog").string() + "' '" + dir.string() + "'", dir / "run.log");
  INFO("run log:\n" << readText(dir / "run.log"));
  REQUIRE(rc == 0);
}

} // namespace

TEST_CASE("cpp: tiled matmul and linear with masked tails match float64", "[target][cpp][run]") {
  const int64_t M = 37, K = 29, N = 45;  // no dimension is a multiple of its tile (16, 8, 16)
  fs::path dir = workDir("matmul");
  auto a = randomFloats(M * K, 1), b = randomFloats(K * N, 2), w = randomFloats(N * K, 3), bias = randomFloats(N, 4);
  writeFloats(dir / "a.bin", a);
  writeFloats(dir / "b.bin", b);
  writeFloats(dir / "w.bin", w);
  writeFloats(dir / "bias.bin", bias);
  emitCompileRun("matmul.mlir", dir, R"(
  auto a = spak_test_read(dir + "/a.bin", 37 * 29 * 4), b = spak_test_read(dir + "/b.bin", 29 * 45 * 4);
  auto w = spak_test_read(dir + "/w.bin", 45 * 29 * 4), bias = spak_test_read(dir + "/bias.bin", 45 * 4);
  spak_gen::Buf<float, 2> A{reinterpret_cast<float*>(a.data()), {37, 29}};
  spak_gen::Buf<float, 2> B{reinterpret_cast<float*>(b.data()), {29, 45}};
  spak_gen::Buf<float, 2> W{reinterpret_cast<float*>(w.data()), {45, 29}};
  spak_gen::Buf<float, 1> Bias{reinterpret_cast<float*>(bias.data()), {45}};
  auto c = spak_gen::matmul(ctx, A, B);
  if (c.dim[0] != 37 || c.dim[1] != 45) return 4;
  spak_test_write(dir + "/c.bin", c.data, 37 * 45 * 4);
  auto y = spak_gen::linear(ctx, A, W, Bias);
  spak_test_write(dir + "/y.bin", y.data, 37 * 45 * 4);
)");
  std::vector<double> refC(M * N), refY(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0, t = bias[n];
      for (int64_t k = 0; k < K; ++k) {
        s += double(a[m * K + k]) * b[k * N + n];
        t += double(a[m * K + k]) * w[n * K + k];
      }
      refC[m * N + n] = s;
      refY[m * N + n] = t;
    }
  double errC = maxRelError(readArray<float>(dir / "c.bin", M * N), refC, 1.0);
  double errY = maxRelError(readArray<float>(dir / "y.bin", M * N), refY, 1.0);
  INFO("matmul max rel error " << errC << ", linear max rel error " << errY);
  CHECK(errC < 1e-5);
  CHECK(errY < 1e-5);
}

TEST_CASE("cpp: row softmax with the stability floor and masked rmsnorm match float64", "[target][cpp][run]") {
  const int64_t R = 13, C = 27, R2 = 10, C2 = 20;  // 13 rows = 3 * 4 + 1: a masked tail program
  fs::path dir = workDir("rows");
  // Logits up to +-60: exp overflows float without the max subtraction.
  auto x = randomFloats(R * C, 5, 60.0f), x2 = randomFloats(R2 * C2, 6), w = randomFloats(C2, 7);
  writeFloats(dir / "x.bin", x);
  writeFloats(dir / "x2.bin", x2);
  writeFloats(dir / "w.bin", w);
  emitCompileRun("rows.mlir", dir, R"(
  auto x = spak_test_read(dir + "/x.bin", 13 * 27 * 4), x2 = spak_test_read(dir + "/x2.bin", 10 * 20 * 4);
  auto w = spak_test_read(dir + "/w.bin", 20 * 4);
  spak_gen::Buf<float, 2> X{reinterpret_cast<float*>(x.data()), {13, 27}};
  spak_gen::Buf<float, 2> X2{reinterpret_cast<float*>(x2.data()), {10, 20}};
  spak_gen::Buf<float, 1> Wt{reinterpret_cast<float*>(w.data()), {20}};
  auto y = spak_gen::softmax(ctx, X);
  spak_test_write(dir + "/y.bin", y.data, 13 * 27 * 4);
  auto y2 = spak_gen::rmsnorm(ctx, X2, Wt);
  spak_test_write(dir + "/y2.bin", y2.data, 10 * 20 * 4);
)");
  std::vector<double> refY(R * C), refY2(R2 * C2);
  for (int64_t r = 0; r < R; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int64_t c = 0; c < C; ++c) mx = std::max(mx, double(x[r * C + c]));
    for (int64_t c = 0; c < C; ++c) sum += std::exp(double(x[r * C + c]) - mx);
    for (int64_t c = 0; c < C; ++c) refY[r * C + c] = std::exp(double(x[r * C + c]) - mx) / sum;
  }
  for (int64_t r = 0; r < R2; ++r) {
    double ss = 0;
    for (int64_t c = 0; c < C2; ++c) ss += double(x2[r * C2 + c]) * x2[r * C2 + c];
    double inv = 1.0 / std::sqrt(ss / C2 + 1e-5);
    for (int64_t c = 0; c < C2; ++c) refY2[r * C2 + c] = x2[r * C2 + c] * inv * w[c];
  }
  auto y = readArray<float>(dir / "y.bin", R * C);
  double errY = maxRelError(y, refY, 1e-6);
  double errY2 = maxRelError(readArray<float>(dir / "y2.bin", R2 * C2), refY2, 1e-3);
  INFO("softmax max rel error " << errY << ", rmsnorm max rel error " << errY2);
  CHECK(errY < 1e-5);
  CHECK(errY2 < 1e-5);
  // Rows sum to one (the padded lanes, at the floor, contributed nothing).
  for (int64_t r = 0; r < R && y.size() == size_t(R * C); ++r) {
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += y[r * C + c];
    CHECK(std::fabs(s - 1.0) < 1e-5);
  }
}

TEST_CASE("cpp: embedding backward (extract + atomic_add) accumulates repeated rows", "[target][cpp][run]") {
  const int64_t T = 50, V = 27, D = 16;
  fs::path dir = workDir("embed");
  std::vector<int32_t> ids(T);
  std::mt19937 gen(8);
  for (auto &id : ids) id = int32_t(gen() % 5);  // few distinct ids: many collisions
  ids[7] = 26;                                   // the last row too
  auto dout = randomFloats(T * D, 9);
  {
    std::ofstream f(dir / "ids.bin", std::ios::binary);
    f.write(reinterpret_cast<const char *>(ids.data()), T * sizeof(int32_t));
  }
  writeFloats(dir / "dout.bin", dout);
  emitCompileRun("embed.mlir", dir, R"(
  auto ids = spak_test_read(dir + "/ids.bin", 50 * 4), dout = spak_test_read(dir + "/dout.bin", 50 * 16 * 4);
  spak_gen::Buf<int32_t, 1> Ids{reinterpret_cast<int32_t*>(ids.data()), {50}};
  spak_gen::Buf<float, 2> Dout{reinterpret_cast<float*>(dout.data()), {50, 16}};
  // The workspace is dirty: the zeroing kernel must run first.
  for (auto& byte : workspace) byte = 0x7f;
  auto g = spak_gen::embed_backward(ctx, Ids, Dout);
  spak_test_write(dir + "/g.bin", g.data, 27 * 16 * 4);
)");
  std::vector<double> ref(V * D, 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d) ref[ids[t] * D + d] += dout[t * D + d];
  double err = maxRelError(readArray<float>(dir / "g.bin", V * D), ref, 1.0);
  INFO("embedding backward max rel error " << err);
  CHECK(err < 1e-5);
}

TEST_CASE("emitters reject what they cannot emit with a diagnostic", "[target][errors]") {
  IrContext ir;
  SECTION("a bf16 tile") {
    auto m = ir.parseString(R"(
      spak_tile.kernel @k(%b: !spak_tile.buffer<16xbf16>) attributes {grid = ["1"], math = "b = b"} {
        %c0 = arith.constant 0 : index
        %t = spak_tile.load %b[%c0] : !spak_tile.buffer<16xbf16> -> !spak_tile.tile<16xbf16>
        spak_tile.store %t, %b[%c0] : !spak_tile.tile<16xbf16>, !spak_tile.buffer<16xbf16>
        spak_tile.return
      })");
    REQUIRE(m);
    CHECK(emitToString(*m, TargetKind::Cpp).empty());
    CHECK(emitToString(*m, TargetKind::Cuda).empty());
    CHECK(ir.diags.find("bf16") != std::string::npos);
    CHECK(ir.diags.find("not supported") != std::string::npos);
  }
  SECTION("a view with two inferred dimensions") {
    auto m = ir.parseString(R"(
      func.func @f(%x: !spak_tile.buffer<?x16xf32>) -> !spak_tile.buffer<?x?xf32> {
        %v = spak_tile.view %x : !spak_tile.buffer<?x16xf32> to !spak_tile.buffer<?x?xf32>
        return %v : !spak_tile.buffer<?x?xf32>
      })");
    REQUIRE(m);
    CHECK(emitToString(*m, TargetKind::Cpp).empty());
    CHECK(ir.diags.find("ambiguous") != std::string::npos);
  }
  SECTION("an empty module") {
    auto m = ir.parseString("module {}");
    REQUIRE(m);
    CHECK(emitToString(*m, TargetKind::Cpp).empty());
    CHECK(ir.diags.find("nothing to emit") != std::string::npos);
  }
}

#ifdef SPAK_NVCC
TEST_CASE("cuda: emitted kernels compile with nvcc for sm_90a and sm_120", "[target][cuda][nvcc]") {
  for (const char *input : {"matmul.mlir", "rows.mlir", "embed.mlir"}) {
    DYNAMIC_SECTION(input) {
      IrContext ir;
      auto module = ir.parseFile(inputPath(input));
      REQUIRE(module);
      std::string code = emitToString(*module, TargetKind::Cuda);
      INFO(ir.diags);
      REQUIRE(!code.empty());
      fs::path dir = workDir(std::string("nvcc_") + input);
      writeText(dir / "k.cu", code);
      std::string cmd = std::string("'") + SPAK_NVCC + "' -std=c++17 -Werror all-warnings " +
                        "-gencode arch=compute_90a,code=sm_90a -gencode arch=compute_120,code=sm_120 -c '" +
                        (dir / "k.cu").string() + "' -o '" + (dir / "k.o").string() + "'";
      int rc = run(cmd, dir / "nvcc.log");
      INFO("nvcc log:\n" << readText(dir / "nvcc.log"));
      CHECK(rc == 0);
    }
  }
}
#endif
