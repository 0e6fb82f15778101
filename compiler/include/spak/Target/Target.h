//===- Target.h - spakc emitters: tile IR -> C++ / CUDA / CMake project ---===//
//
// The public entry points of the SpakTarget library. Emission walks a module
// of `spak_tile.kernel` ops and host `func.func`s (sequences of
// `spak_tile.alloc` / `view` / `dim` / `launch` over buffers) and writes:
//
//   emitCpp   one portable C++17 translation unit (kernels loop over their
//             grid on the CPU; the CI reference target)
//   emitCuda  one CUDA C++ translation unit (`__global__` kernels, one CTA per
//             program instance, `<<<grid, block, smem, stream>>>` launches)
//   writeProject  a self-contained CMake project (kernels, host step file,
//             copied runtime headers, CMakeLists.txt, optional trainer main)
//
// The layout of the generated code is documented in docs/codegen.md.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_TARGET_TARGET_H
#define SPAK_TARGET_TARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <string>
#include <vector>

namespace spak::target {

/// Which code an emitter writes.
enum class TargetKind { Cpp, Cuda };

/// "cpp" / "cuda".
llvm::StringRef targetName(TargetKind kind);

/// What goes into the header comment of every generated file, and a few knobs.
struct EmitOptions {
  std::string spakcVersion = "unknown"; ///< e.g. "0.1.0"
  std::string inputHash = "none";       ///< hash of the .dsl/.mlir input
  std::string rulesDigest = "none";     ///< digest of the rules files used
  /// CUDA only: the architectures the header names (the project's CMake decides what is built).
  std::string cudaArch = "90a";
};

/// One emitted translation unit, split in the three parts the project writer
/// puts in separate files. `prelude` is the shared header (types, kernel
/// declarations, host function declarations); `kernels` and `host` each start
/// with `#include "<headerName>"` when written as separate files.
struct EmittedUnit {
  TargetKind kind;
  std::string prelude; ///< includes, buffer/context types, declarations
  std::string kernels; ///< kernel definitions (and launch wrappers)
  std::string host;    ///< host step functions (one per func.func)
  /// Host functions, in module order, for the driver emitter.
  std::vector<std::string> hostFunctions;
  /// One entry per kernel, in module order: its name and its definition(s), the pieces `kernels` concatenates
  /// (the project writer puts each in its own file).
  struct KernelSource {
    std::string name;
    std::string text;
  };
  std::vector<KernelSource> kernelSources;
};

/// Emits the parts of one target. Fails with a diagnostic on the op that
/// cannot be emitted (an unsupported op or type), never crashes.
mlir::FailureOr<EmittedUnit> emitUnit(mlir::ModuleOp module, TargetKind kind,
                                      const EmitOptions &options);

/// The whole unit as one self-contained source (header comment, prelude,
/// kernels, host functions): what `spak-translate --emit-cpp` prints.
mlir::LogicalResult emitCpp(mlir::ModuleOp module, const EmitOptions &options,
                            llvm::raw_ostream &os);
mlir::LogicalResult emitCuda(mlir::ModuleOp module, const EmitOptions &options,
                             llvm::raw_ostream &os);

/// The header comment every generated file starts with (`//` lines).
std::string headerComment(const EmitOptions &options, llvm::StringRef target,
                          llvm::StringRef what);

//===----------------------------------------------------------------------===//
// Project writer
//===----------------------------------------------------------------------===//

/// What the driver (trainer `main`) emitter gets to work with.
struct DriverContext {
  TargetKind kind;
  std::string headerName;               ///< the prelude header to #include ("model.h" / "model.cuh")
  std::vector<std::string> hostFunctions; ///< names of the emitted host step functions
  EmitOptions emit;
};

/// Emits a trainer `main.cpp` (docs/trainer-cli.md). Plugged in by spakc; the
/// project writer writes its output to `<outDir>/<target>/main.<ext>` and
/// builds the `train` executable from it. It may include runtime headers as
/// "spak/runtime/<x>.h"; the writer copies the ones it includes.
using DriverEmitter = std::function<mlir::LogicalResult(
    mlir::ModuleOp, const DriverContext &, llvm::raw_ostream &)>;

struct ProjectOptions {
  std::string outDir;                   ///< created if missing
  enum class Targets { Cpp, Cuda, All } targets = Targets::Cpp;
  std::string projectName = "model";    ///< CMake project / library name
  std::string spakcVersion = "unknown";
  std::string inputHash = "none";
  std::string rulesDigest = "none";
  std::string runtimeDir;               ///< the runtime/include folder holding spak/runtime/*.h
  std::string cudaArchitectures = "90a"; ///< CMAKE_CUDA_ARCHITECTURES default
  DriverEmitter driver;                 ///< optional: writes main.cpp / main.cu
  bool dryRun = false;                  ///< report what would be written/removed; touch nothing
};

/// What writeProject did, file by file (paths relative to outDir).
struct ProjectReport {
  std::vector<std::string> written;   ///< created or changed (dry run: would be)
  std::vector<std::string> unchanged; ///< same content: not rewritten, mtime kept
  std::vector<std::string> removed;   ///< kernel files of kernels no longer in the module (dry run: would be)
  bool dryRun = false;
  /// Per kernel (by name, over every written target): its file(s) changed / did not / it is gone. Module order.
  std::vector<std::string> kernelsChanged, kernelsUnchanged, kernelsRemoved;
};

/// "N kernel(s) changed: a, b; M unchanged[; K removed: c]" (dry run: "would change").
std::string kernelSummary(const ProjectReport &report);

/// Writes the project. Idempotent: a file whose content did not change is not
/// rewritten. Errors (I/O, emission) are reported as diagnostics on the module.
mlir::LogicalResult writeProject(mlir::ModuleOp module, const ProjectOptions &options,
                                 ProjectReport *report = nullptr);

/// Writes `content` to `path` (creating parent folders) unless the file
/// already holds exactly that content; `changed` says whether it was written.
/// On failure returns false and sets `error` to a message naming the path.
bool writeFileIfChanged(llvm::StringRef path, llvm::StringRef content, bool &changed,
                        std::string &error);

} // namespace spak::target

#endif // SPAK_TARGET_TARGET_H
