// TargetTestUtil.h — helpers for the emitter tests: parse tile IR, emit it, write/compile/run generated code,
// exchange float arrays with the generated program through binary files, compare against float64 references.
#pragma once

#include "spak/Dialect/Tile/IR/Tile.h"
#include "spak/Target/Target.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace spak_test {

namespace fs = std::filesystem;

/// An MLIR context with the dialects tile IR uses; diagnostics are collected into `diags`.
struct IrContext {
  mlir::MLIRContext ctx;
  std::string diags;
  std::unique_ptr<mlir::ScopedDiagnosticHandler> handler;
  IrContext() {
    mlir::DialectRegistry registry;
    registry.insert<mlir::func::FuncDialect, mlir::arith::ArithDialect, mlir::scf::SCFDialect>();
    spak::tile::registerTileDialect(registry);
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
    handler = std::make_unique<mlir::ScopedDiagnosticHandler>(&ctx, [this](mlir::Diagnostic &d) {
      diags += d.str() + "\n";
      return mlir::success();
    });
  }
  mlir::OwningOpRef<mlir::ModuleOp> parseFile(const std::string &path) {
    return mlir::parseSourceFile<mlir::ModuleOp>(path, &ctx);
  }
  mlir::OwningOpRef<mlir::ModuleOp> parseString(const std::string &text) {
    return mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
  }
};

inline std::string inputPath(const std::string &name) {
  return std::string(SPAK_SOURCE_DIR) + "/tests/lit/target/Inputs/" + name;
}

/// A fresh, empty work folder for one test.
inline fs::path workDir(const std::string &name) {
  fs::path p = fs::path(SPAK_BINARY_DIR) / "tests" / "unit" / "target" / "work" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

inline std::string emitToString(mlir::ModuleOp m, spak::target::TargetKind kind) {
  std::string s;
  llvm::raw_string_ostream os(s);
  spak::target::EmitOptions o;
  o.spakcVersion = "test";
  o.inputHash = "sha256:feed";
  o.rulesDigest = "sha256:beef";
  bool ok = succeeded(kind == spak::target::TargetKind::Cuda ? spak::target::emitCuda(m, o, os)
                                                              : spak::target::emitCpp(m, o, os));
  os.flush();
  return ok ? s : std::string();
}

inline void writeText(const fs::path &p, const std::string &text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

inline std::string readText(const fs::path &p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// Runs a shell command, returns its exit status; output goes to `log`.
inline int run(const std::string &cmd, const fs::path &log) {
  std::string full = cmd + " > '" + log.string() + "' 2>&1";
  int rc = std::system(full.c_str());
  return rc;
}

inline void writeFloats(const fs::path &p, const std::vector<float> &v) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char *>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

template <typename T> std::vector<T> readArray(const fs::path &p, size_t n) {
  std::vector<T> v(n);
  std::ifstream f(p, std::ios::binary);
  f.read(reinterpret_cast<char *>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
  if (static_cast<size_t>(f.gcount()) != n * sizeof(T))
    v.clear();
  return v;
}

inline std::vector<float> randomFloats(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto &x : v) x = d(gen);
  return v;
}

/// max_i |got_i - ref_i| / max(|ref_i|, floor); infinity when sizes differ or got has NaN.
inline double maxRelError(const std::vector<float> &got, const std::vector<double> &ref, double floor) {
  if (got.size() != ref.size())
    return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i]))
      return INFINITY;
    worst = std::max(worst, std::fabs(got[i] - ref[i]) / std::max(std::fabs(ref[i]), floor));
  }
  return worst;
}

/// The harness prologue every generated test program starts its main with: binary float I/O.
inline std::string harnessPrologue() {
  return R"(
#include <cstdio>
#include <vector>
static std::vector<char> spak_test_read(const std::string& path, size_t bytes) {
  std::vector<char> v(bytes);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f || std::fread(v.data(), 1, bytes, f) != bytes) { std::fprintf(stderr, "cannot read %s\n", path.c_str()); std::exit(3); }
  std::fclose(f);
  return v;
}
static void spak_test_write(const std::string& path, const void* data, size_t bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, bytes, f) != bytes) { std::fprintf(stderr, "cannot write %s\n", path.c_str()); std::exit(3); }
  std::fclose(f);
}
)";
}

/// Compiles `source` (emitted code + harness) with the host compiler, warnings as errors.
inline bool compileHost(const fs::path &dir, const std::string &source, std::string &log) {
  writeText(dir / "prog.cpp", source);
  std::string cmd = std::string("'") + SPAK_HOST_CXX + "' -std=c++17 -O2 -Wall -Wextra -Werror '" +
                    (dir / "prog.cpp").string() + "' -o '" + (dir / "prog").string() + "'";
  int rc = run(cmd, dir / "compile.log");
  log = readText(dir / "compile.log");
  return rc == 0;
}

} // namespace spak_test
