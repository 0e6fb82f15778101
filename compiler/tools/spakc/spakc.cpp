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
#include "Pipeline.h"
#include "spak/Rules/Laws.h"
#include "TuneOptions.h"

namespace {

using namespace spakc;

/// The stages `compile --emit=` accepts, in pipeline order.
const std::vector<std::string> kStages = {"ast", "graph", "train", "tile", "cpp", "cuda"};
int stageIndex(const std::string &s) {
  for (size_t i = 0; i < kStages.size(); ++i)
    if (kStages[i] == s) return static_cast<int>(i);
  return -1;
}


const char *kUsage = R"(USAGE: spakc <command> FILE [options]

Commands:
  check FILE                    parse FILE and its imports, run semantic checks, report diagnostics
  compile FILE --emit=STAGE     run the pipeline up to STAGE and print it (or write it to -o FILE)
  compile FILE -o DIR           write a self-contained CMake project: kernels, host step, trainer, runtime headers
  train FILE [-- ARGS]          compile to DIR (default out/<model>), build it with cmake, run the trainer with ARGS
  explain FILE [--kernel NAME]  for every kernel: the rules and laws that shaped it (file:line), fusions fired/refused
  tune FILE [--dry-run|--prepare|--ingest DIR]  sweep the DSL's tuning space on the GPU, write the winning laws back

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
  --law NAME=VALUE        override one law of the target for this run (repeatable; e.g. --law mma_bits=32 for exact
                          fp32 mma on the GPU); kernels name the flag as the law's provenance, the rules digest changes.
                          KIND.NAME (matmul, attention, row, elementwise; e.g. --law attention.warps=8) sets the law
                          for one kernel kind; a plain NAME applies to every kernel (the rules' KIND.NAME laws too)
  --no-fusion             do not run the fusion passes (every op becomes its own kernel)
  --no-dedup              keep one kernel per op instance (identical kernels are merged by default)
  --dry-run               compile -o: list the files that would change, write nothing; tune: print the sweep plan
  --prepare               tune: write the sweep folder (-o DIR: projects, plan.json, run-sweep.sh), run nothing
  --ingest DIR            tune: read DIR's plan and results (--results FILE), write the winning laws back
  --force                 tune --ingest: accept a plan made for other rules / another version of the model
  --kernel NAME           explain: only this kernel
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
    } else if (is("--law")) {
      std::string v;
      if (!value("--law", v)) return usageError("--law needs NAME=VALUE, e.g. --law mma_bits=32");
      size_t eq = v.find('=');
      std::string name = eq == std::string::npos ? v : v.substr(0, eq);
      std::string num = eq == std::string::npos ? "" : v.substr(eq + 1);
      if (std::string why = spak::rules::checkScopedLaw(name); !why.empty())
        return usageError("--law " + v + ": " + why);
      llvm::StringRef base = name;
      spak::rules::KernelKind kind;
      spak::rules::splitScopedLaw(name, kind, base);  // `--law matmul.warps=8`: base is `warps`
      if (!spak::rules::findLawDefault(base)) {
        std::string known;
        for (const auto &d : spak::rules::lawDefaults()) known += (known.empty() ? "" : ", ") + d.name.str();
        return usageError("--law " + v + ": unknown law '" + name + "' (laws: " + known + ")");
      }
      char *end = nullptr;
      long long n = num.empty() ? 0 : std::strtoll(num.c_str(), &end, 10);
      if (num.empty() || *end || n <= 0)
        return usageError("--law " + v + ": the value must be a positive integer (NAME=VALUE, e.g. --law " + name + "=" +
                          std::to_string(spak::rules::findLawDefault(base)->value) + ")");
      o.laws.push_back({name, n});
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
    } else if (a == "--dry-run") {
      o.dryRun = true;
    } else if (a == "--prepare") {
      tuneOptions().prepare = true;
    } else if (a == "--force") {
      tuneOptions().force = true;
    } else if (is("--ingest")) {
      if (!value("--ingest", tuneOptions().ingest) || tuneOptions().ingest.empty())
        return usageError("--ingest needs the sweep directory (the -o DIR of 'tune --prepare')");
    } else if (is("--results")) {
      if (!value("--results", tuneOptions().results) || tuneOptions().results.empty())
        return usageError("--results needs a file (results.jsonl of run-sweep.sh)");
    } else if (is("--kernel")) {
      if (!value("--kernel", o.kernel) || o.kernel.empty()) return usageError("--kernel needs a kernel name");
    } else if (a == "--no-dedup") {
      o.noDedup = true;
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
  if (positional.empty()) return usageError("no command given (expected check, compile, train, explain or tune)");
  o.command = positional[0];
  if (o.command != "check" && o.command != "compile" && o.command != "train" && o.command != "explain" &&
      o.command != "tune")
    return usageError("unknown command '" + o.command + "' (expected check, compile, train, explain or tune)");
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
  if (!o.kernel.empty() && o.command != "explain") return usageError("--kernel is for 'explain' only");
  if (o.dryRun && o.command != "compile" && o.command != "tune")
    return usageError("--dry-run is for 'compile -o DIR' and 'tune' only");
  if (o.dryRun && o.command == "compile" && !o.emit.empty()) return usageError("--dry-run applies to -o DIR, not to --emit");
  if (tuneOptions().any() && o.command != "tune")
    return usageError("--prepare, --ingest, --results and --force are for 'tune' only");
  if (o.command == "train" && o.codeTarget == "all")
    return usageError("'train' runs one target: --target cpp or --target cuda");
  return -1;
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
#ifdef SPAKC_HAVE_EXPLAIN
    if (o.command == "explain") return runExplain(o);
#endif
#ifdef SPAKC_HAVE_TUNE
    if (o.command == "tune") return runTune(o);
#endif
    if (o.command == "explain" || o.command == "tune") {
      std::cerr << "spakc: error: '" << o.command << "' is not part of this build of spakc\n";
      return 1;
    }
    return runCompile(o);
  } catch (const std::exception &e) {
    std::cerr << "spakc: error: internal error: " << e.what() << "\n";
    return 1;
  }
}
