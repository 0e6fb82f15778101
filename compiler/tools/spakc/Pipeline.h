//===- Pipeline.h - spakc's compilation pipeline, shared by its commands ------------------------------*- C++ -*-===//
//
// The pieces every spakc command (check, compile, train, explain, tune) uses: the parsed command line (Options),
// the DSL diagnostics session, and `Compiler` — front end or .mlir parse → MLIRGen → passes up to a stage → the
// module, plus the input hash / rules digest that go into generated-file headers. Commands live in spakc.cpp and in
// one file per larger command.
//
//===----------------------------------------------------------------------------------------------------------------===//
#pragma once

#include "spak/dsl/Parser.h"
#include "spak/dsl/Sema.h"
#include "spak/Conversion/Passes.h"
#include "spak/Dialect/Graph/Graph.h"
#include "spak/Dialect/Tile/IR/Tile.h"
#include "spak/MLIRGen/MLIRGen.h"
#include "spak/Rules/Laws.h"
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

namespace spakc {

using namespace spak::dsl;

struct Options {
  std::string command; // check | compile | train
  std::string input;
  std::string emit;
  std::string output;     // -o (stage output file or project dir)
  std::string codeTarget; // cpp | cuda | all ("" = default)
  bool noFusion = false;
  bool noDedup = false;      // keep one kernel per op instance (no spak-dedup-kernels)
  bool dryRun = false;       // compile -o / tune: only report what would be written / run
  std::string kernel;        // explain --kernel NAME
  bool quiet = false;
  int64_t batch = 0;
  std::vector<std::string> mlirArgs;    // --mlir-* options, handed to llvm::cl
  std::vector<std::string> trainerArgs; // after `--` (train)
  std::vector<std::pair<std::string, int64_t>> laws; // --law NAME=VALUE overrides, in order
  LoadOptions load;
};

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

inline void progress(const Options &o, const std::string &msg) {
  if (!o.quiet) std::cerr << "spakc: " << msg << "\n";
}

//===-- hashing -----------------------------------------------------------------------------------------------------===//

inline std::string readFile(const std::string &path, bool &ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string sha256Hex(llvm::StringRef data) {
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

inline bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Where a module is in the pipeline.
enum class Level { Graph = 1, Train = 2, Tile = 3 };

inline Level detectLevel(mlir::ModuleOp m) {
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
    if (!o_.laws.empty()) { // command-line laws are part of the rules: they change the digest too
      for (const auto &[name, value] : o_.laws) rules += "--law " + name + "=" + std::to_string(value) + "\n";
      rulesDigest_ = sha256Hex(rules);
    }
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
    applyLawOverrides();
    level_ = Level::Graph;
    return true;
  }

  /// `--law NAME=VALUE`: replaces (or adds) the law in the module's spak.laws, with the flag as its provenance, so
  /// kernels, explain and the generated comments name it.
  void applyLawOverrides() {
    if (o_.laws.empty()) return;
    mlir::Builder b(&ctx_);
    llvm::SmallVector<mlir::NamedAttribute> laws;
    if (auto d = (*module_)->getAttrOfType<mlir::DictionaryAttr>(spak::rules::kLawsAttr)) laws.append(d.begin(), d.end());
    for (const auto &[name, value] : o_.laws) {
      auto attr = spak::tile::LawAttr::get(&ctx_, name, b.getI64IntegerAttr(value),
                                           "--law " + name + "=" + std::to_string(value));
      // An unscoped override applies to every kernel: the rules' laws scoped to one kind (`matmul.warps`) go.
      if (name.find('.') == std::string::npos)
        llvm::erase_if(laws, [&](mlir::NamedAttribute &na) {
          return na.getName().getValue().ends_with("." + name) && na.getName().getValue().count('.') == 1;
        });
      auto it = std::find_if(laws.begin(), laws.end(), [&](auto &na) { return na.getName() == name; });
      if (it != laws.end()) it->setValue(attr);
      else laws.push_back(b.getNamedAttr(name, attr));
    }
    (*module_)->setAttr(spak::rules::kLawsAttr, b.getDictionaryAttr(laws));
  }

  /// Runs the passes that bring the module to `target`.
  bool lowerTo(Level target) {
    if (level_ >= target) return true;
    mlir::PassManager pm(&ctx_, mlir::ModuleOp::getOperationName());
    if (mlir::failed(mlir::applyPassManagerCLOptions(pm))) return false;
    mlir::applyDefaultTimingPassManagerCLOptions(pm);
    if (level_ < Level::Train) {
      pm.addPass(spak::createSpakPadVocab());
      pm.addPass(spak::createSpakShapeInference());
      pm.addPass(spak::createSpakAutodiff());
      pm.addPass(spak::createSpakOptimizerStep());
      if (!o_.noFusion) pm.addPass(spak::createSpakFusion());
    }
    if (target >= Level::Tile) {
      spak::tile::buildGraphToTilePipeline(pm);
      if (!o_.noDedup) pm.addPass(spak::tile::createDedupKernels());
    }
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

inline int printModule(const Options &o, mlir::ModuleOp m) {
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
inline std::string defaultProjectDir(const Compiler &c, const std::string &input) {
  std::string name;
  if (c.program() && c.program()->system) name = c.program()->system->name;
  if (name.empty()) name = llvm::sys::path::stem(input).str();
  std::string lower;
  for (char ch : name) lower += static_cast<char>(std::isalnum(static_cast<unsigned char>(ch)) ? std::tolower(ch) : '_');
  return "out/" + lower;
}

inline std::string projectName(const Compiler &c, const std::string &input) {
  std::string dir = defaultProjectDir(c, input);
  return dir.substr(4);
}

inline bool writeProject(const Options &o, Compiler &c, const std::string &dir, const std::string &targets) {
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
  po.dryRun = o.dryRun;
  spak::target::ProjectReport report;
  if (mlir::failed(spak::target::writeProject(c.module(), po, &report))) return false;
  progress(o, fmt::format("project {} (target {}): {} file(s) {}, {} unchanged", dir, targets,
                          report.written.size(), o.dryRun ? "would be written" : "written",
                          report.unchanged.size()));
  for (const auto &w : report.written) progress(o, (o.dryRun ? "  would write " : "  wrote ") + w);
  for (const auto &r : report.removed) progress(o, (o.dryRun ? "  would remove " : "  removed ") + r);
  progress(o, spak::target::kernelSummary(report));
  return true;
}

inline bool commandWorks(const std::string &cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

inline int runShell(const Options &o, const std::string &cmd) {
  progress(o, "$ " + cmd);
  int rc = std::system(cmd.c_str());
  if (rc == -1) return 127;
  if (WIFEXITED(rc)) return WEXITSTATUS(rc);
  return 128 + (WIFSIGNALED(rc) ? WTERMSIG(rc) : 0);
}

inline std::string shellQuote(const std::string &s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

/// Commands implemented in their own files.
int runExplain(const Options &o);
int runTune(const Options &o);

} // namespace spakc
