// EmitRunTest.cpp — the correctness checks of the emitters: tile IR (tests/lit/target/Inputs/*.mlir) is emitted to
// portable C++, compiled with the host compiler (-Wall -Wextra -Werror), run on random inputs, and compared with a
// float64 reference computed here. The same modules' CUDA emission is compiled with nvcc for sm_90a and sm_120 when
// the toolkit is found (no GPU is needed for that).
#include "TargetTestUtil.h"

#include "spak/Conversion/Passes.h"
#include "spak/Dialect/Graph/Graph.h"

#include "mlir/Pass/PassManager.h"

#include <catch2/catch.hpp>

#include <cstring>

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

/// Parses a spak_graph module and lowers it with the spak-graph-to-tile pipeline (the lowerings under test).
mlir::OwningOpRef<mlir::ModuleOp> lowerGraph(IrContext &ir, const std::string &text) {
  mlir::DialectRegistry registry;
  spak::graph::registerGraphDialect(registry);
  ir.ctx.appendDialectRegistry(registry);
  ir.ctx.loadAllAvailableDialects();
  auto module = ir.parseString(text);
  if (!module)
    return {};
  mlir::PassManager pm(&ir.ctx);
  spak::tile::buildGraphToTilePipeline(pm);
  if (mlir::failed(pm.run(*module)))
    return {};
  return module;
}

/// embed_grad lowered by GraphToTileBackward.cpp: C = 16 (a full row tile) and C = 20 (a masked 32-wide tile).
const char *kEmbedGradGraph = R"mlir(
func.func @eg16(%dy: tensor<1x?x16xf32>, %ids: tensor<1x?xi32>) -> tensor<27x16xf32> {
  %0 = spak_graph.embed_grad %dy, %ids {vocab = 27 : i64} : (tensor<1x?x16xf32>, tensor<1x?xi32>) -> tensor<27x16xf32>
  return %0 : tensor<27x16xf32>
}
func.func @eg20(%dy: tensor<1x?x20xf32>, %ids: tensor<1x?xi32>) -> tensor<27x20xf32> {
  %0 = spak_graph.embed_grad %dy, %ids {vocab = 27 : i64} : (tensor<1x?x20xf32>, tensor<1x?xi32>) -> tensor<27x20xf32>
  return %0 : tensor<27x20xf32>
}
)mlir";

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

TEST_CASE("cpp: lowered embed_grad sums each row in token order (no atomics) across chunks", "[target][cpp][run]") {
  // T = 300 tokens: three 128-token chunks (the last partial), few distinct ids so ids repeat within and across
  // chunks, an id that occurs once (26), one in the last chunk only (25), and one id outside the vocabulary.
  const int64_t T = 300, V = 27;
  fs::path dir = workDir("embed_grad_lowered");
  std::vector<int32_t> ids(T);
  std::mt19937 gen(11);
  for (auto &id : ids) id = int32_t(gen() % 6);
  ids[7] = 26;
  ids[290] = 25;
  ids[200] = 31;  // outside [0, 27): adds nothing, sets the status flag
  {
    std::ofstream f(dir / "ids.bin", std::ios::binary);
    f.write(reinterpret_cast<const char *>(ids.data()), T * sizeof(int32_t));
  }
  auto dy16 = randomFloats(T * 16, 12), dy20 = randomFloats(T * 20, 13);
  writeFloats(dir / "dy16.bin", dy16);
  writeFloats(dir / "dy20.bin", dy20);

  IrContext ir;
  auto module = lowerGraph(ir, kEmbedGradGraph);
  INFO(ir.diags);
  REQUIRE(module);
  std::string code = emitToString(*module, TargetKind::Cpp);
  INFO(ir.diags);
  REQUIRE(!code.empty());
  CHECK(code.find("/* atomic_add") == std::string::npos);  // what the cpp emitter writes for an atomic_add
  std::string program = code + harnessPrologue() + R"(
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string dir = argv[1];
  std::vector<unsigned char> workspace(1 << 22, 0x7f);  // dirty: nothing may rely on zeroed scratch
  spak_gen::StepContext ctx;
  ctx.base = workspace.data();
  ctx.capacity = workspace.size();
  auto ids = spak_test_read(dir + "/ids.bin", 300 * 4);
  auto dy16 = spak_test_read(dir + "/dy16.bin", 300 * 16 * 4), dy20 = spak_test_read(dir + "/dy20.bin", 300 * 20 * 4);
  spak_gen::Buf<int32_t, 2> Ids{reinterpret_cast<int32_t*>(ids.data()), {1, 300}};
  int32_t status[1] = {0};
  auto g16 = spak_gen::eg16(ctx, spak_gen::Buf<float, 3>{reinterpret_cast<float*>(dy16.data()), {1, 300, 16}}, Ids,
                            spak_gen::Buf<int32_t, 1>{status, {1}});
  spak_test_write(dir + "/g16.bin", g16.data, 27 * 16 * 4);
  if (status[0] != 1) return 5;
  status[0] = 0;
  ctx.reset();
  auto g20 = spak_gen::eg20(ctx, spak_gen::Buf<float, 3>{reinterpret_cast<float*>(dy20.data()), {1, 300, 20}}, Ids,
                            spak_gen::Buf<int32_t, 1>{status, {1}});
  spak_test_write(dir + "/g20.bin", g20.data, 27 * 20 * 4);
  if (status[0] != 1) return 6;
  return 0;
}
)";
  std::string log;
  bool compiled = compileHost(dir, program, log);
  INFO("compile log:\n" << log);
  REQUIRE(compiled);
  int rc = run("'" + (dir / "prog").string() + "' '" + dir.string() + "'", dir / "run.log");
  INFO("run log:\n" << readText(dir / "run.log"));
  REQUIRE(rc == 0);  // 5 / 6: the bad id did not set the status flag

  for (int64_t C : {16, 20}) {
    const std::vector<float> &dy = C == 16 ? dy16 : dy20;
    auto got = readArray<float>(dir / (C == 16 ? "g16.bin" : "g20.bin"), V * C);
    // float64 reference, and the documented float32 order: per 128-token chunk the rows of an id in token order,
    // then the chunk sums in chunk order.
    std::vector<double> ref(V * C, 0.0);
    std::vector<float> ordered(V * C, 0.0f);
    for (int64_t c0 = 0; c0 < T; c0 += 128) {
      std::vector<float> chunk(V * C, 0.0f);
      for (int64_t t = c0; t < std::min(T, c0 + 128); ++t) {
        if (ids[t] < 0 || ids[t] >= V) continue;
        for (int64_t d = 0; d < C; ++d) {
          ref[ids[t] * C + d] += dy[t * C + d];
          chunk[ids[t] * C + d] += dy[t * C + d];
        }
      }
      for (int64_t v = 0; v < V; ++v) {
        bool present = false;
        for (int64_t t = c0; t < std::min(T, c0 + 128); ++t) present |= ids[t] == v;
        if (present)
          for (int64_t d = 0; d < C; ++d) ordered[v * C + d] += chunk[v * C + d];
      }
    }
    double err = maxRelError(got, ref, 1.0);
    INFO("C = " << C << ": max rel error vs float64 " << err);
    CHECK(err < 1e-5);
    // Bit-identical to the documented order (so the result is the same on every run and target).
    int64_t mismatches = 0;
    for (int64_t i = 0; i < V * C; ++i) mismatches += std::memcmp(&got[i], &ordered[i], sizeof(float)) != 0;
    INFO("C = " << C << ": elements differing from the in-order float32 sum: " << mismatches);
    CHECK(mismatches == 0);
    // Rows of ids that never occur (6..24) are exactly zero.
    for (int64_t v = 6; v < 25; ++v)
      for (int64_t d = 0; d < C; ++d) CHECK(got[v * C + d] == 0.0f);
  }
}

TEST_CASE("cpp: spak_tile.convert rounds f32 to bf16 to nearest even and back exactly", "[target][cpp][run]") {
  fs::path dir = workDir("convert_bf16");
  // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties to even (1); 1 + 3 * 2^-8 ties up to the even 1 + 2^-6;
  // just above a half rounds up; NaN stays NaN (quiet), infinities and bf16 values pass unchanged.
  emitCompileRun("convert-bf16.mlir", dir, R"(
  const float xs[8] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f, -2.5f, NAN, INFINITY, -0.0f, 3.0e-39f};
  spak_test_write(dir + "/x.bin", xs, sizeof xs);
  auto xb = spak_test_read(dir + "/x.bin", sizeof xs);
  const float* x = reinterpret_cast<const float*>(xb.data());
  uint16_t h[8] = {};
  float y[8] = {};
  spak_gen::launch_roundtrip(spak_gen::Grid{1, 1, 1}, x, h, y);
  const uint16_t want[8] = {0x3F80, 0x3F82, 0x3F81, 0xC020, 0, 0x7F80, 0x8000, 0x0021};
  for (int i = 0; i < 8; ++i) {
    if (i == 4) {
      if ((h[i] & 0x7F80) != 0x7F80 || (h[i] & 0x7F) == 0 || y[i] == y[i]) return 10 + i;  // NaN
      continue;
    }
    if (h[i] != want[i]) return 20 + i;
    uint32_t u = uint32_t(want[i]) << 16;
    float back;
    std::memcpy(&back, &u, 4);
    if (std::memcmp(&back, &y[i], 4) != 0) return 30 + i;
  }
)");
}

TEST_CASE("emitters reject what they cannot emit with a diagnostic", "[target][errors]") {
  IrContext ir;
  SECTION("an f16 tile") {  // bf16 is emitted (as its bits: spak-bf16-operands' copies), f16 is not
    auto m = ir.parseString(R"(
      spak_tile.kernel @k(%b: !spak_tile.buffer<16xf16>) attributes {grid = ["1"], math = "b = b"} {
        %c0 = arith.constant 0 : index
        %t = spak_tile.load %b[%c0] : !spak_tile.buffer<16xf16> -> !spak_tile.tile<16xf16>
        spak_tile.store %t, %b[%c0] : !spak_tile.tile<16xf16>, !spak_tile.buffer<16xf16>
        spak_tile.return
      })");
    REQUIRE(m);
    CHECK(emitToString(*m, TargetKind::Cpp).empty());
    CHECK(emitToString(*m, TargetKind::Cuda).empty());
    CHECK(ir.diags.find("f16") != std::string::npos);
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
TEST_CASE("cuda: the lowered (deterministic) embed_grad compiles with nvcc for sm_90a", "[target][cuda][nvcc]") {
  IrContext ir;
  auto module = lowerGraph(ir, kEmbedGradGraph);
  INFO(ir.diags);
  REQUIRE(module);
  std::string code = emitToString(*module, TargetKind::Cuda);
  INFO(ir.diags);
  REQUIRE(!code.empty());
  CHECK(code.find("atomicAdd") == std::string::npos);
  fs::path dir = workDir("nvcc_embed_grad_lowered");
  writeText(dir / "k.cu", code);
  std::string cmd = std::string("'") + SPAK_NVCC + "' -std=c++17 -Werror all-warnings " +
                    "-gencode arch=compute_90a,code=sm_90a -c '" + (dir / "k.cu").string() + "' -o '" +
                    (dir / "k.o").string() + "'";
  int rc = run(cmd, dir / "nvcc.log");
  INFO("nvcc log:\n" << readText(dir / "nvcc.log"));
  CHECK(rc == 0);
}

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
