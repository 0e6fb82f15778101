// test_regen.cpp — incremental regeneration in the project writer: per-kernel content hashes in kernels.manifest,
// a changed kernel rewrites only its family's file (other files keep content and mtime), the kernel report and its
// summary line, and the dry run (same report, nothing touched).
#include "TargetTestUtil.h"

#include <catch2/catch.hpp>

#include <thread>

using namespace spak_test;
using spak::target::ProjectOptions;
using spak::target::ProjectReport;

namespace {
std::string replaceAll(std::string s, const std::string &from, const std::string &to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}
bool contains(const std::vector<std::string> &v, const std::string &x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
} // namespace

TEST_CASE("a changed kernel rewrites only its file; the dry run reports it and touches nothing", "[rules][regen]") {
  IrContext ir;
  std::string text = readText(inputPath("rows.mlir"));
  auto before = ir.parseString(text);
  // Only softmax_0 uses the stability floor: a new floor changes that kernel and nothing else.
  auto after = ir.parseString(replaceAll(text, "-1.0e20", "-1.0e30"));
  REQUIRE(before);
  REQUIRE(after);
  fs::path dir = workDir("rules_regen");
  ProjectOptions opts;
  opts.outDir = (dir / "out").string();
  opts.targets = ProjectOptions::Targets::Cpp;
  opts.rulesDigest = "sha256:aa";
  opts.runtimeDir = std::string(SPAK_SOURCE_DIR) + "/runtime/include";
  ProjectReport first;
  INFO(ir.diags);
  REQUIRE(succeeded(spak::target::writeProject(*before, opts, &first)));
  fs::path out = dir / "out";
  CHECK(first.kernelsChanged == std::vector<std::string>{"softmax_0", "rmsnorm_0"});
  std::string manifest = readText(out / "cpp/kernels.manifest");
  CHECK(manifest.find("\nsoftmax_0 sha256:") != std::string::npos);
  CHECK(manifest.find(" kernels/softmax.cpp\n") != std::string::npos);
  CHECK(manifest.find("\nrmsnorm_0 sha256:") != std::string::npos);
  CHECK(manifest.find("sha256:aa") != std::string::npos); // the rules digest lives in the manifest
  std::string softmax = readText(out / "cpp/kernels/softmax.cpp");
  CHECK(softmax.find("sha256:aa") == std::string::npos); // ... not in the compiled sources
  CHECK(softmax.find("#include \"../model.h\"") != std::string::npos);
  CHECK(readText(out / "CMakeLists.txt").find("cpp/kernels/softmax.cpp") != std::string::npos);
  CHECK(readText(out / "cpp/kernels.cpp").find("#include \"kernels/rmsnorm.cpp\"") != std::string::npos);

  auto stampSoftmax = fs::last_write_time(out / "cpp/kernels/softmax.cpp");
  auto stampNorm = fs::last_write_time(out / "cpp/kernels/rmsnorm.cpp");
  auto stampHeader = fs::last_write_time(out / "cpp/model.h");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  // A new rules digest alone changes no kernel.
  opts.rulesDigest = "sha256:bb";
  ProjectReport digestOnly;
  REQUIRE(succeeded(spak::target::writeProject(*before, opts, &digestOnly)));
  CHECK(digestOnly.kernelsChanged.empty());
  CHECK(spak::target::kernelSummary(digestOnly) == "0 kernel(s) changed; 2 unchanged");
  CHECK(contains(digestOnly.written, "cpp/kernels.manifest"));
  CHECK_FALSE(contains(digestOnly.written, "cpp/kernels/softmax.cpp"));
  CHECK(fs::last_write_time(out / "cpp/kernels/softmax.cpp") == stampSoftmax);

  // Dry run of the changed module: reported, nothing written.
  opts.dryRun = true;
  ProjectReport dry;
  REQUIRE(succeeded(spak::target::writeProject(*after, opts, &dry)));
  CHECK(dry.dryRun);
  CHECK(dry.kernelsChanged == std::vector<std::string>{"softmax_0"});
  CHECK(spak::target::kernelSummary(dry) == "1 kernel(s) would change: softmax_0; 1 unchanged");
  CHECK(contains(dry.written, "cpp/kernels/softmax.cpp"));
  CHECK(readText(out / "cpp/kernels/softmax.cpp") == softmax);
  CHECK(fs::last_write_time(out / "cpp/kernels/softmax.cpp") == stampSoftmax);

  // The real write: only softmax's file (and the provenance files) change.
  opts.dryRun = false;
  ProjectReport real;
  REQUIRE(succeeded(spak::target::writeProject(*after, opts, &real)));
  CHECK(spak::target::kernelSummary(real) == "1 kernel(s) changed: softmax_0; 1 unchanged");
  CHECK(contains(real.written, "cpp/kernels/softmax.cpp"));
  CHECK(contains(real.unchanged, "cpp/kernels/rmsnorm.cpp"));
  CHECK(fs::last_write_time(out / "cpp/kernels/rmsnorm.cpp") == stampNorm);
  CHECK(fs::last_write_time(out / "cpp/model.h") == stampHeader);
  CHECK(fs::last_write_time(out / "cpp/kernels/softmax.cpp") != stampSoftmax);
  CHECK(readText(out / "cpp/kernels/softmax.cpp") != softmax);
}
