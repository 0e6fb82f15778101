//===- spak-translate.cpp - tile IR -> C++ / CUDA / CMake project ---------===//
//
// mlir-translate for spakc's emitters. Reads a module of spak_tile.kernel ops
// and host func.func's and prints:
//
//   --emit-cpp       one portable C++ translation unit (target cpp)
//   --emit-cuda      one CUDA C++ translation unit (target cuda)
//   --emit-project   writes a CMake project to --project-dir and prints what it
//                    wrote / left unchanged (--project-target=cpp|cuda|all)
//
// Header fields: --spakc-version, --input-hash, --rules-digest. The lit tests
// in tests/lit/target/ drive the emitters through this tool.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Tile/IR/Tile.h"
#include "spak/Target/Target.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"

using namespace mlir;

static llvm::cl::OptionCategory spakCat("spak-translate options");
static llvm::cl::opt<std::string> spakcVersion("spakc-version", llvm::cl::desc("spakc version for the header"),
                                               llvm::cl::init("dev"), llvm::cl::cat(spakCat));
static llvm::cl::opt<std::string> inputHash("input-hash", llvm::cl::desc("input hash for the header"),
                                            llvm::cl::init("none"), llvm::cl::cat(spakCat));
static llvm::cl::opt<std::string> rulesDigest("rules-digest", llvm::cl::desc("rules digest for the header"),
                                              llvm::cl::init("none"), llvm::cl::cat(spakCat));
static llvm::cl::opt<std::string> projectDir("project-dir", llvm::cl::desc("output folder of --emit-project"),
                                             llvm::cl::cat(spakCat));
static llvm::cl::opt<std::string> projectTarget("project-target",
                                                llvm::cl::desc("targets of --emit-project: cpp, cuda or all"),
                                                llvm::cl::init("cpp"), llvm::cl::cat(spakCat));
static llvm::cl::opt<std::string> runtimeDir("runtime-dir",
                                             llvm::cl::desc("runtime include folder copied into projects"),
                                             llvm::cl::cat(spakCat));

static spak::target::EmitOptions emitOptions() {
  spak::target::EmitOptions o;
  o.spakcVersion = spakcVersion;
  o.inputHash = inputHash;
  o.rulesDigest = rulesDigest;
  return o;
}

static void registerDialects(DialectRegistry &registry) {
  registry.insert<func::FuncDialect, arith::ArithDialect, scf::SCFDialect>();
  spak::tile::registerTileDialect(registry);
}

int main(int argc, char **argv) {
  TranslateFromMLIRRegistration cpp(
      "emit-cpp", "tile IR to portable C++ (target cpp)",
      [](ModuleOp m, llvm::raw_ostream &os) { return spak::target::emitCpp(m, emitOptions(), os); },
      registerDialects);
  TranslateFromMLIRRegistration cuda(
      "emit-cuda", "tile IR to CUDA C++ (target cuda)",
      [](ModuleOp m, llvm::raw_ostream &os) { return spak::target::emitCuda(m, emitOptions(), os); },
      registerDialects);
  TranslateFromMLIRRegistration project(
      "emit-project", "tile IR to a self-contained CMake project in --project-dir",
      [](ModuleOp m, llvm::raw_ostream &os) -> LogicalResult {
        spak::target::ProjectOptions p;
        p.outDir = projectDir;
        if (projectTarget == "cpp")
          p.targets = spak::target::ProjectOptions::Targets::Cpp;
        else if (projectTarget == "cuda")
          p.targets = spak::target::ProjectOptions::Targets::Cuda;
        else if (projectTarget == "all")
          p.targets = spak::target::ProjectOptions::Targets::All;
        else
          return m.emitError("--project-target must be cpp, cuda or all, got '") << projectTarget << "'";
        p.spakcVersion = spakcVersion;
        p.inputHash = inputHash;
        p.rulesDigest = rulesDigest;
        p.runtimeDir = runtimeDir;
        spak::target::ProjectReport report;
        if (failed(spak::target::writeProject(m, p, &report)))
          return failure();
        for (auto &f : report.written)
          os << "written " << f << "\n";
        for (auto &f : report.unchanged)
          os << "unchanged " << f << "\n";
        return success();
      },
      registerDialects);
  return failed(mlirTranslateMain(argc, argv, "spakc emitters: tile IR -> C++ / CUDA / CMake project"));
}
