//===- spakc.cpp - the spakc compiler driver ---------------------------------------------------------------------===//
//
//   spakc check FILE [--target NAME] [--rules-dir DIR]
//   spakc compile FILE --emit=STAGE [-o OUT]          print one stage (ast, graph, train, tile, cpp, cuda)
//   spakc compile FILE -o DIR [--target cpp|cuda|all]  write the generated CMake project (kernels + trainer)
//   spakc train FILE [-o DIR] [--target cpp|cuda] [-- TRAINER ARGS]   compile, build with cmake, run the trainer
//   spakc --help | --version
//
// The pipeline (docs/architecture.md):
//   .dsl --(front end: parse, imports, Sema)--> AST --(MLIRGen)--> graph (@forward, @infer)
//        --(spak-shape-inference, spak-autodiff, spak-optimizer-step, spak-fusion)--> train graph (@train_step)
//        --(spak-apply-laws, spak-stability-floor, spak-pow2-masking, spak-lower-graph-to-tile)--> tile
//        --(SpakTarget emitters)--> cpp / cuda / project
// A `.mlir` input enters the pipeline at the stage its content is in (graph, train graph or tile). MLIR's pass
// manager and context options (--mlir-print-ir-after-all, --mlir-timing, --mlir-disable-threading, ...) are accepted.
//
//===----------------------------------------------------------------------------------------------------------------===//
#include "spak/dsl/Parser.h"
#include "spak/dsl/Sema.h"

#include "spak/Conversion/Passes.h"
#include "spak/Dialect/Graph/Graph.h"
#include "spak/Dialect/Tile/IR/Tile.h"
#include "spak/MLIRGen/MLIRGen.h"
#include "spak/Target/Driver.h"
#include "spak/Target/Target.h"
#include "spak/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#ifndef SPAKC_VERSION
#define SPAKC_VERSION "0.1.0"
#endif

namespace {

using namespace spak::dsl;

/// The stages `compile --emit=` accepts, in pipeline order.
const std::vector<std::string> kStages = {"ast", "graph", "train", "tile", "cpp", "cuda"};
int stageIndex(const std::string &s) {
  for (size_t i = 0; i < kStages.size(); ++i)
    if (kStages[i] == s) return static_cast<int>(i);
  return -1;
}

struct Options {
  std::string command; // check | compile | train
  std::string input;
  std::string emit;
  std::string output;     // -o (stage output file or project dir)
  std::string codeTarget; // cpp | cuda | all ("" = default)
  bool noFusion = false;
  bool quiet = false;
  int64_t batch = 0;
  std::vector<std::string> mlirArgs;    // --mlir-* options, handed to llvm::cl
  std::vector<std::string> trainerArgs; // after `--` (train)
  LoadOptions load;
};

const char *kUsage = R"(USAGE: spakc <command> FILE [options]

Commands:
  check FILE                    parse FILE and its imports, run semantic checks, report diagnostics
  compile FILE --emit=STAGE     run the pipeline up to STAGE and print it (or write it to -o FILE)
  compile FILE -o DIR           write a self-contained CMake project: kernels, host step, trainer, runtime headers
  train FILE [-- ARGS]          compile to DIR (default out/<model>), build it with cmake, run the trainer with ARGS

Stages (--emit):
  ast     the checked AST of the main file
  graph   spak_graph dialect from MLIRGen (@forward with the loss, @infer with the logits)
  train   + shape inference, autodiff (@backward), optimizer step (@train_step), rule-driven fusion
  tile    spak_tile dialect: laws applied, stability floor, pow2 masking, one spak_tile.kernel per (fused) op
  cpp     the portable C++ translation unit emitted from the tile IR
  cuda    the CUDA C++ translation unit emitted from the tile IR
FILE may be a .dsl file or a .mlir file holding any of the graph / train / tile stages.

Options:
  --emit=STAGE            stage to stop after (see above)
  -o PATH                 output file (--emit) or project directory (no --emit; default for train: out/<model>)
  --target NAME           cpp | cuda | all: code target of the project (compile default: all; train default: cuda when
                          a GPU and nvcc are present, else cpp). Any other NAME selects the hardware target, a
                          `target NAME` in the rules dir's targets/*.dsl (e.g. sm_90). May be given once of each kind.
  --rules-dir DIR         the rule library for imports and targets (default: $SPAK_RULES_DIR, else the source tree's rules/)
  --no-fusion             do not run the fusion passes (every op becomes its own kernel)
  --batch N               batch size of the data arguments (default: the train block's `batch`)
  --no-unused-warnings    do not warn about blocks the compiler does not use
  -q, --quiet             no progress lines on stderr
  --mlir-*                MLIR options, e.g. --mlir-print-ir-after-all, --mlir-timing, --mlir-disable-threading
  --help                  show this help
  --version               print the version

Exit status: 0 on success (warnings allowed), 1 on any error.
)";

int usageError(const std::string &msg) {
  std::cerr << "spakc: error: " << msg << "\n" << "run 'spakc --help' for usage\n";
  return 1;
}

bool isCodeTarget(const std::string &t) { return t == "cpp" || t == "cuda" || t == "all"; }

/// Returns -1 to continue, else an exit code.
int parseArgs(int argc, char **argv, Options &o) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string &flag, std::string &out) -> bool {
      if (a == flag) {
        if (i + 1 >= argc) return false;
        out = argv[++i];
        return true;
      }
      out = a.substr(flag.size() + 1);
      return true;
    };
    auto is = [&](const std::string &flag) { return a == flag || a.rfind(flag + "=", 0) == 0; };
    if (a == "--") {
      for (++i; i < argc; ++i) o.trainerArgs.push_back(argv[i]);
      break;
    }
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--version") {
      std::cout << "spakc " << SPAKC_VERSION << "\n";
      return 0;
    }
    if (is("--emit")) {
      if (!value("--emit", o.emit) || o.emit.empty()) return usageError("--emit needs a stage name");
    } else if (a == "-o" || a.rfind("-o=", 0) == 0) {
      if (!value("-o", o.output) || o.output.empty()) return usageError("-o needs a path");
    } else if (is("--target")) {
      std::string t;
      if (!value("--target", t) || t.empty()) return usageError("--target needs a name");
      std::string &slot = isCodeTarget(t) ? o.codeTarget : o.load.target;
      if (!slot.empty()) return usageError("--target " + t + " conflicts with --target " + slot);
      slot = t;
    } else if (is("--rules-dir")) {
      if (!value("--rules-dir", o.load.rulesDir) || o.load.rulesDir.empty())
        return usageError("--rules-dir needs a directory");
    } else if (is("--batch")) {
      std::string v;
      if (!value("--batch", v)) return usageError("--batch needs a number");
      char *end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || n <= 0 || n > (1 << 20)) return usageError("--batch expects a positive integer, got '" + v + "'");
      o.batch = n;
    } else if (a == "--no-fusion") {
      o.noFusion = true;
    } else if (a == "-q" || a == "--quiet") {
      o.quiet = true;
    } else if (a == "--no-unused-warnings") {
      o.load.warnUnused = false;
    } else if (a.rfind("--mlir-", 0) == 0 || a.rfind("-mlir-", 0) == 0) {
      o.mlirArgs.push_back(a);
    } else if (a.size() > 1 && a[0] == '-') {
      return usageError("unknown option '" + a + "'");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty()) return usageError("no command given (expected 'check', 'compile' or 'train')");
  o.command = positional[0];
  if (o.command != "check" && o.command != "compile" && o.command != "train")
    return usageError("unknown command '" + o.command + "' (expected 'check', 'compile' or 'train')");
  if (positional.size() < 2) return usageError("no input file");
  if (positional.size() > 2) return usageError("more than one input file ('" + positional[2] + "')");
  o.input = positional[1];
  if (o.command != "compile" && !o.emit.empty()) return usageError("'" + o.command + "' does not take --emit");
  if (o.command != "train" && !o.trainerArgs.empty()) return usageError("arguments after '--' are for 'train' only");
  if (o.command == "compile") {
    if (o.emit.empty() && o.output.empty())
      return usageError("'compile' needs --emit=STAGE or -o DIR (the project directory)");
    if (!o.emit.empty() && stageIndex(o.emit) < 0) {
      std::string list;
      for (const auto &s : kStages) list += (list.empty() ? "" : ", ") + s;
      return usageError("unsupported stage '--emit=" + o.emit + "' (supported stages: " + list + ")");
    }
    if (!o.emit.empty() && !o.codeTarget.empty())
      return usageError("--target " + o.codeTarget + " applies to the project (-o DIR), not to --emit");
  }
  if (o.command == "train" && o.codeTarget == "all")
    return usageError("'train' runs one target: --target cpp or --target cuda");
  return -1;
}

struct Session {
  SourceManager sm;
  DiagnosticEngine diags{sm};
  Session() {
    diags.setOutput(&std::cerr);
    diags.setColors(isatty(STDERR_FILENO) != 0);
    diags.setErrorLimit(50);
  }
  int finish(int rc) {
    std::string s = diags.summary();
    if (!s.empty()) std::cerr << s << "\n";
    return diags.hasErrors() ? 1 : rc;
  }
};

void progress(const Options &o, const std::string &msg) {
  if (!o.quiet) std::cerr << "spakc: " << msg << "\n";
}

//===-- hashing -----------------------------------------------------------------------------------------------------===//

std::string readFile(const std::string &path, bool &ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string sha256Hex(llvm::StringRef data) {
  llvm::SHA256 h;
  h.update(data);
  return "sha256:" + llvm::toHex(h.final(), /*LowerCase=*/true);
}

//===-- stages ------------------------------------------------------------------------------------------------------===//

/// Opens the -o output (stdout when empty or "-").
std::ostream *openOutput(const Options &o, std::unique_ptr<std::ofstream> &file) {
  if (o.output.empty() || o.output == "-") return &std::cout;
  file = std::make_unique<std::ofstream>(o.output, std::ios::binary);
  if (!*file) {
    std::cerr << "spakc: error: cannot write '" << o.output << "'\n";
    return nullptr;
  }
  return file.get();
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Where a module is in the pipeline.
enum class Level { Graph = 1, Train = 2, Tile = 3 };

Level detectLevel(mlir::ModuleOp m) {
  bool hasGraphOps = false, hasTrainStep = false;
  m.walk([&](mlir::Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "spak_graph") hasGraphOps = true;
    if (auto f = llvm::dyn_cast<mlir::func::FuncOp>(op))
      if (f->hasAttr("spak.train_step") || f.getSymName() == "train_step") hasTrainStep = true;
  });
  if (!hasGraphOps) return Level::Tile;
  return hasTrainStep ? Level::Train : Level::Graph;
}

class Compiler {
public:
  explicit Compiler(const Options &o) : o_(o) {
    mlir::DialectRegistry registry;
    registry.insert<mlir::func::FuncDialect, mlir::arith::ArithDialect, mlir::tensor::TensorDialect,
                    mlir::scf::SCFDialect>();
    spak::graph::registerGraphDialect(registry);
    spak::tile::registerTileDialect(registry);
    ctx_.appendDialectRegistry(registry);
    spak::registerMLIRGenDialects(ctx_);
    ctx_.loadAllAvailableDialects();
    ctx_.printOpOnDiagnostic(false); // diagnostics point at the .dsl; no IR dumps in user-facing errors
    diagHandler_ = std::make_unique<mlir::SourceMgrDiagnosticHandler>(srcMgr_, &ctx_);
  }

  /// Front end + MLIRGen (.dsl), or parse (.mlir). Fills module_, level_, hashes.
  bool load(Session &s) {
    if (endsWith(o_.input, ".mlir")) {
      std::string err;
      auto buf = mlir::openInputFile(o_.input, &err);
      if (!buf) {
        std::cerr << "spakc: error: cannot open '" << o_.input << "': " << err << "\n";
        return false;
      }
      inputHash_ = sha256Hex(buf->getBuffer());
      srcMgr_.AddNewSourceBuffer(std::move(buf), llvm::SMLoc());
      module_ = mlir::parseSourceFile<mlir::ModuleOp>(srcMgr_, &ctx_);
      if (!module_) return false;
      level_ = detectLevel(*module_);
      if (auto d = (*module_)->getAttrOfType<mlir::StringAttr>("spak.rules_digest")) rulesDigest_ = d.str();
      return true;
    }
    auto prog = loadProgram(o_.input, o_.load, s.diags);
    if (!prog || s.diags.hasErrors()) return false;
    prog_ = std::move(prog);
    bool ok = false;
    inputHash_ = sha256Hex(readFile(prog_->main->path, ok));
    std::string rules;
    for (const auto &f : prog_->imports) {
      bool rok = false;
      rules += f->path + "\n" + readFile(f->path, rok) + "\n";
    }
    rulesDigest_ = prog_->imports.empty() ? "none (no rules imported)" : sha256Hex(rules);
    return true;
  }

  const Program *program() const { return prog_.get(); }

  bool generate(Session &s) {
    if (module_) return true;
    spak::MLIRGenOptions mo;
    mo.batch = o_.batch;
    module_ = spak::mlirGen(ctx_, *prog_, s.diags, mo);
    if (!module_) return false;
    (*module_)->setAttr("spak.rules_digest", mlir::StringAttr::get(&ctx_, rulesDigest_));
    level_ = Level::Graph;
    return true;
  }

  /// Runs the passes that bring the module to `target`.
  bool lowerTo(Level target) {
    if (level_ >= target) return true;
    mlir::PassManager pm(&ctx_, mlir::ModuleOp::getOperationName());
    if (mlir::failed(mlir::applyPassManagerCLOptions(pm))) return false;
    mlir::applyDefaultTimingPassManagerCLOptions(pm);
    if (level_ < Level::Train) {
      pm.addPass(spak::createSpakShapeInference());
      pm.addPass(spak::createSpakAutodiff());
      pm.addPass(spak::createSpakOptimizerStep());
      if (!o_.noFusion) pm.addPass(spak::createSpakFusion());
    }
    if (target >= Level::Tile) spak::tile::buildGraphToTilePipeline(pm);
    if (mlir::failed(pm.run(*module_))) return false;
    level_ = target;
    return true;
  }

  mlir::ModuleOp module() { return *module_; }
  const std::string &inputHash() const { return inputHash_; }
  const std::string &rulesDigest() const { return rulesDigest_; }

  spak::target::EmitOptions emitOptions() const {
    spak::target::EmitOptions e;
    e.spakcVersion = SPAKC_VERSION;
    e.inputHash = inputHash_;
    e.rulesDigest = rulesDigest_;
    return e;
  }

private:
  const Options &o_;
  mlir::MLIRContext ctx_;
  llvm::SourceMgr srcMgr_;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> diagHandler_;
  std::unique_ptr<Program> prog_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
  Level level_ = Level::Graph;
  std::string inputHash_ = "none", rulesDigest_ = "none";
};

int printModule(const Options &o, mlir::ModuleOp m) {
  std::unique_ptr<std::ofstream> file;
  std::ostream *os = openOutput(o, file);
  if (!os) return 1;
  std::string text;
  llvm::raw_string_ostream rs(text);
  mlir::OpPrintingFlags flags;
  m->print(rs, flags);
  rs << "\n";
  *os << text;
  return 0;
}

/// The default project directory: out/<system name, lower case>.
std::string defaultProjectDir(const Compiler &c, const std::string &input) {
  std::string name;
  if (c.program() && c.program()->system) name = c.program()->system->name;
  if (name.empty()) name = llvm::sys::path::stem(input).str();
  std::string lower;
  for (char ch : name) lower += static_cast<char>(std::isalnum(static_cast<unsigned char>(ch)) ? std::tolower(ch) : '_');
  return "out/" + lower;
}

std::string projectName(const Compiler &c, const std::string &input) {
  std::string dir = defaultProjectDir(c, input);
  return dir.substr(4);
}

bool writeProject(const Options &o, Compiler &c, const std::string &dir, const std::string &targets) {
  spak::target::ProjectOptions po;
  po.outDir = dir;
  po.targets = targets == "cpp"    ? spak::target::ProjectOptions::Targets::Cpp
               : targets == "cuda" ? spak::target::ProjectOptions::Targets::Cuda
                                   : spak::target::ProjectOptions::Targets::All;
  po.projectName = projectName(c, o.input);
  po.spakcVersion = SPAKC_VERSION;
  po.inputHash = c.inputHash();
  po.rulesDigest = c.rulesDigest();
#ifdef SPAK_HAVE_TRAINER_DRIVER
  po.driver = spak::target::trainerDriver();
#endif
  spak::target::ProjectReport report;
  if (mlir::failed(spak::target::writeProject(c.module(), po, &report))) return false;
  progress(o, fmt::format("project {} (target {}): {} file(s) written, {} unchanged", dir, targets,
                          report.written.size(), report.unchanged.size()));
  for (const auto &w : report.written) progress(o, "  wrote " + w);
  return true;
}

bool commandWorks(const std::string &cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

int runShell(const Options &o, const std::string &cmd) {
  progress(o, "$ " + cmd);
  int rc = std::system(cmd.c_str());
  if (rc == -1) return 127;
  if (WIFEXITED(rc)) return WEXITSTATUS(rc);
  return 128 + (WIFSIGNALED(rc) ? WTERMSIG(rc) : 0);
}

std::string shellQuote(const std::string &s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

int runCheck(const Options &o) {
  Session s;
  auto prog = loadProgram(o.input, o.load, s.diags);
  return s.finish(prog ? 0 : 1);
}

int runCompile(const Options &o) {
  Session s;
  if (o.emit == "ast") {
    if (endsWith(o.input, ".mlir")) return usageError("--emit=ast needs a .dsl input");
    auto prog = loadProgram(o.input, o.load, s.diags);
    if (!prog || s.diags.hasErrors()) return s.finish(1);
    std::unique_ptr<std::ofstream> file;
    std::ostream *os = openOutput(o, file);
    if (!os) return 1;
    dumpAST(*prog->main, *os);
    return s.finish(0);
  }
  Compiler c(o);
  if (!c.load(s) || !c.generate(s)) return s.finish(1);
  if (o.emit == "graph") return s.finish(printModule(o, c.module()));
  if (o.emit == "train") return s.finish(c.lowerTo(Level::Train) ? printModule(o, c.module()) : 1);
  if (!c.lowerTo(Level::Tile)) return s.finish(1);
  if (o.emit == "tile") return s.finish(printModule(o, c.module()));
  if (o.emit == "cpp" || o.emit == "cuda") {
    std::string text;
    llvm::raw_string_ostream rs(text);
    auto ok = o.emit == "cpp" ? spak::target::emitCpp(c.module(), c.emitOptions(), rs)
                              : spak::target::emitCuda(c.module(), c.emitOptions(), rs);
    if (mlir::failed(ok)) return s.finish(1);
    std::unique_ptr<std::ofstream> file;
    std::ostream *os = openOutput(o, file);
    if (!os) return 1;
    *os << text;
    return s.finish(0);
  }
  std::string targets = o.codeTarget.empty() ? "all" : o.codeTarget;
  return s.finish(writeProject(o, c, o.output, targets) ? 0 : 1);
}

/// spakc train: compile → cmake configure/build → run ./train.
int runTrain(const Options &o) {
  Session s;
  Compiler c(o);
  if (!c.load(s) || !c.generate(s)) return s.finish(1);
  progress(o, "lowering " + o.input + " (autodiff, optimizer step, fusion, graph → tile)");
  if (!c.lowerTo(Level::Tile)) return s.finish(1);
  std::string dir = o.output.empty() ? defaultProjectDir(c, o.input) : o.output;

  std::string target = o.codeTarget;
  bool haveNvcc = commandWorks("command -v nvcc") || llvm::sys::fs::exists("/usr/local/cuda/bin/nvcc");
  bool haveGpu = commandWorks("nvidia-smi -L");
  if (target.empty()) {
    target = haveGpu && haveNvcc ? "cuda" : "cpp";
    progress(o, target == "cuda" ? "a GPU and nvcc were found: training on the cuda target"
                                 : std::string("no usable GPU") + (haveGpu ? " toolchain (nvcc not found)" : " found") +
                                       ": training on the cpp target");
  } else {
    progress(o, "training on the " + target + " target (--target)");
  }
  if (!writeProject(o, c, dir, target)) return s.finish(1);

  std::string build = dir + "/build-" + target;
  std::string gen = commandWorks("command -v ninja") ? " -G Ninja" : "";
  if (!llvm::sys::fs::exists(build + "/CMakeCache.txt")) {
    if (int rc = runShell(o, "cmake" + gen + " -S " + shellQuote(dir) + " -B " + shellQuote(build) +
                                 " -DCMAKE_BUILD_TYPE=Release -DSPAK_TARGET=" + target + " >" +
                                 shellQuote(build + ".configure.log") + " 2>&1 || { cat " +
                                 shellQuote(build + ".configure.log") + "; exit 1; }"))
      return s.finish(rc == 0 ? 1 : rc);
  }
  if (int rc = runShell(o, "cmake --build " + shellQuote(build) + " -j " +
                               std::to_string(std::max(1u, std::thread::hardware_concurrency()))))
    return s.finish(rc);
  std::string cmd = shellQuote(build + "/train");
  for (const auto &a : o.trainerArgs) cmd += " " + shellQuote(a);
  std::cout.flush();
  int rc = runShell(o, cmd);
  return s.finish(rc);
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  int rc = parseArgs(argc, argv, o);
  if (rc >= 0) return rc;
  // MLIR's own options (--mlir-print-ir-after-all, --mlir-timing, ...) go through llvm::cl.
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  mlir::registerAsmPrinterCLOptions();
  std::vector<const char *> clArgs = {argv[0]};
  for (const auto &a : o.mlirArgs) clArgs.push_back(a.c_str());
  std::string clErr;
  llvm::raw_string_ostream clErrOs(clErr);
  if (!llvm::cl::ParseCommandLineOptions(static_cast<int>(clArgs.size()), clArgs.data(), "spakc", &clErrOs)) {
    std::cerr << "spakc: error: bad MLIR option: " << clErr;
    return 1;
  }
  try {
    if (o.command == "check") return runCheck(o);
    if (o.command == "train") return runTrain(o);
    return runCompile(o);
  } catch (const std::exception &e) {
    std::cerr << "spakc: error: internal error: " << e.what() << "\n";
    return 1;
  }
}
