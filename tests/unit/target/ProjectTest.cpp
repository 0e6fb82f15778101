// ProjectTest.cpp — the project writer: layout (kernels/<family> files + manifest), header fields, idempotent
// writes (unchanged files keep their mtime), the driver seam, copied runtime headers, and an actual CMake build + run of the generated cpp project.
#include "TargetTestUtil.h"

#include <catch2/catch.hpp>

using namespace spak_test;
using spak::target::ProjectOptions;
using spak::target::ProjectReport;

namespace {

/// A stand-in for the trainer emitter: a main that runs the `matmul` host step on known data and prints a checksum.
/// It includes one runtime header, which the writer must copy (with its own includes).
mlir::LogicalResult testDriver(mlir::ModuleOp, const spak::target::DriverContext &dc, llvm::raw_ostream &os) {
  os << "#include \"" << dc.headerName << "\"\n#include \"spak/runtime/check.h\"\n#include <cstdio>\n#include <vector>\n";
  os << "// host functions:";
  for (auto &f : dc.hostFunctions) os << " " << f;
  os << "\nint main() {\n  return spak::rt::run_main([&] {\n"
        "    std::vector<unsigned char> ws(1 << 20);\n"
        "    spak_gen::StepContext ctx;\n    ctx.base = ws.data();\n    ctx.capacity = ws.size();\n"
        "    std::vector<float> a(37 * 29), b(29 * 45);\n"
        "    for (size_t i = 0; i < a.size(); ++i) a[i] = float(i % 7) - 3.0f;\n"
        "    for (size_t i = 0; i < b.size(); ++i) b[i] = float(i % 5) * 0.5f;\n"
        "    auto c = spak_gen::matmul(ctx, spak_gen::Buf<float, 2>{a.data(), {37, 29}},\n"
        "                              spak_gen::Buf<float, 2>{b.data(), {29, 45}});\n"
        "    double s = 0;\n    for (int64_t i = 0; i < 37 * 45; ++i) s += c.data[i];\n"
        "    std::printf(\"checksum %.1f\\n\", s);\n    return 0;\n  });\n}\n";
  return mlir::success();
}

double referenceChecksum() {
  double s = 0;
  for (int m = 0; m < 37; ++m)
    for (int n = 0; n < 45; ++n)
      for (int k = 0; k < 29; ++k) s += (float((m * 29 + k) % 7) - 3.0) * (float((k * 45 + n) % 5) * 0.5);
  return s;
}

} // namespace

TEST_CASE("project writer: layout, headers, idempotence, cmake build of the cpp target", "[target][project]") {
  IrContext ir;
  auto module = ir.parseFile(inputPath("matmul.mlir"));
  REQUIRE(module);
  fs::path dir = workDir("project");
  ProjectOptions opts;
  opts.outDir = (dir / "out").string();
  opts.targets = ProjectOptions::Targets::All;
  opts.projectName = "mm";
  opts.spakcVersion = "9.9.9";
  opts.inputHash = "sha256:0123";
  opts.rulesDigest = "sha256:4567";
  opts.runtimeDir = std::string(SPAK_SOURCE_DIR) + "/runtime/include";
  opts.driver = testDriver;

  ProjectReport first;
  INFO(ir.diags);
  REQUIRE(succeeded(spak::target::writeProject(*module, opts, &first)));
  CHECK(first.unchanged.empty());
  fs::path out = dir / "out";
  for (const char *f : {"CMakeLists.txt", "cpp/model.h", "cpp/kernels.cpp", "cpp/step.cpp", "cpp/main.cpp",
                        "cuda/model.cuh", "cuda/kernels.cu", "cuda/step.cu", "cuda/main.cu",
                        "runtime/spak/runtime/check.h"}) {
    INFO(f);
    CHECK(fs::exists(out / f));
  }
  // The provenance files name spakc version, input hash, rules digest and target in their header; the compiled
  // sources name the hash of their own content instead (a rules edit must not touch them: docs/rules.md).
  for (const char *f : {"cpp/kernels.cpp", "cpp/kernels.manifest", "cuda/kernels.cu", "CMakeLists.txt"}) {
    std::string text = readText(out / f);
    INFO(f << ":\n" << text.substr(0, 400));
    CHECK(text.find("spakc 9.9.9") < 200);
    CHECK(text.find("sha256:0123") < 300);
    CHECK(text.find("sha256:4567") < 300);
    CHECK(text.find("target:") < 400);
  }
  for (const char *f : {"cpp/model.h", "cpp/step.cpp", "cuda/step.cu", "cpp/main.cpp"}) {
    std::string text = readText(out / f);
    INFO(f << ":\n" << text.substr(0, 400));
    CHECK(text.find("spakc 9.9.9") < 200);
    CHECK(text.find("sha256:0123") == std::string::npos);
    CHECK(text.find("sha256:4567") == std::string::npos);
    CHECK(text.find("content: sha256:") < 500);
  }
  std::string cmake = readText(out / "CMakeLists.txt");
  CHECK(cmake.find("set(CMAKE_CUDA_ARCHITECTURES 90a)") < cmake.find("\nproject("));
  // kernels.cu #includes one file per kernel family; the launches are in those.
  CHECK(readText(out / "cuda/kernels.cu").find("#include \"kernels/") != std::string::npos);
  CHECK(readText(out / "cuda/kernels/matmul.cu").find("<<<") != std::string::npos);

  // Second write: nothing changes, nothing is touched.
  auto stamp = fs::last_write_time(out / "cpp/kernels.cpp");
  ProjectReport second;
  REQUIRE(succeeded(spak::target::writeProject(*module, opts, &second)));
  CHECK(second.written.empty());
  CHECK(second.unchanged.size() == first.written.size());
  CHECK(fs::last_write_time(out / "cpp/kernels.cpp") == stamp);

  // A changed header field rewrites the files that carry it.
  opts.inputHash = "sha256:89ab";
  ProjectReport third;
  REQUIRE(succeeded(spak::target::writeProject(*module, opts, &third)));
  CHECK(std::find(third.written.begin(), third.written.end(), "cpp/kernels.cpp") != third.written.end());
  CHECK(std::find(third.unchanged.begin(), third.unchanged.end(), "cpp/model.h") != third.unchanged.end());
  CHECK(third.kernelsChanged.empty());
  CHECK(std::find(third.unchanged.begin(), third.unchanged.end(), "runtime/spak/runtime/check.h") !=
        third.unchanged.end());

  // The generated project builds with plain CMake (cpp target) and the trainer stand-in gets the right answer.
  fs::path build = dir / "build";
  int rc = run("cmake -S '" + out.string() + "' -B '" + build.string() + "' -DSPAK_TARGET=cpp -DCMAKE_CXX_COMPILER='" +
                   SPAK_HOST_CXX + "' && cmake --build '" + build.string() + "' -j2",
               dir / "build.log");
  INFO("build log:\n" << readText(dir / "build.log"));
  REQUIRE(rc == 0);
  rc = run("'" + (build / "train").string() + "'", dir / "train.log");
  std::string output = readText(dir / "train.log");
  INFO("train output: " << output);
  REQUIRE(rc == 0);
  double got = 0;
  REQUIRE(std::sscanf(output.c_str(), "checksum %lf", &got) == 1);
  CHECK(std::fabs(got - referenceChecksum()) < 1e-6 * std::fabs(referenceChecksum()) + 1.0);
}

TEST_CASE("project writer reports an unwritable output folder", "[target][project][errors]") {
  IrContext ir;
  auto module = ir.parseFile(inputPath("embed.mlir"));
  REQUIRE(module);
  fs::path dir = workDir("project_err");
  writeText(dir / "file", "not a folder");
  ProjectOptions opts;
  opts.outDir = (dir / "file" / "out").string();
  CHECK(failed(spak::target::writeProject(*module, opts)));
  CHECK(ir.diags.find("project writer") != std::string::npos);
}
