//===- spakc.cpp - the spakc compiler driver ---------------------------------------------------------------------===//
//
//   spakc check FILE [--target NAME] [--rules-dir DIR]
//   spakc compile FILE --emit=STAGE [-o OUT] [--target NAME] [--rules-dir DIR]
//   spakc --help | --version
//
// Structure: parseArgs() → Options; main() dispatches on the subcommand; `compile` runs the stages in order and stops
// after the one named by --emit. Each stage is one function (runFrontEnd, emitAST, ...). To add an MLIR stage
// (graph, tile, cpp, cuda): add its name to kStages, write `int emitX(const Options&, Program&)` and dispatch it in
// runCompile(); the front end hands over a spak::dsl::Program (see dsl/include/spak/dsl/Sema.h).
//
//===----------------------------------------------------------------------------------------------------------------===//
#include "spak/dsl/Parser.h"
#include "spak/dsl/Sema.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#ifndef SPAKC_VERSION
#define SPAKC_VERSION "0.1.0"
#endif

namespace {

using namespace spak::dsl;

/// The stages `compile --emit=` accepts today, in pipeline order.
const std::vector<std::string> kStages = {"ast"};

struct Options {
  std::string command; // check | compile
  std::string input;
  std::string emit;
  std::string output; // -o ("" or "-" = stdout)
  LoadOptions load;
};

const char *kUsage = R"(USAGE: spakc <command> FILE [options]

Commands:
  check FILE              parse FILE and its imports, run semantic checks, report diagnostics
  compile FILE --emit=S   run the pipeline up to stage S and write its output

Options:
  --emit=STAGE            stage to stop after (supported: ast)
  -o FILE                 write the output to FILE (default: stdout)
  --target NAME           select the hardware target (a `target NAME` in the rules dir's targets/*.dsl, e.g. sm_90)
  --rules-dir DIR         the rule library for imports and targets (default: $SPAK_RULES_DIR, else the source tree's rules/)
  --no-unused-warnings    do not warn about blocks the compiler does not use
  --help                  show this help
  --version               print the version

Exit status: 0 on success (warnings allowed), 1 on any error.
)";

int usageError(const std::string &msg) {
  std::cerr << "spakc: error: " << msg << "\n" << "run 'spakc --help' for usage\n";
  return 1;
}

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
    } else if (a == "-o") {
      if (!value("-o", o.output)) return usageError("-o needs a file name");
    } else if (is("--target")) {
      if (!value("--target", o.load.target) || o.load.target.empty()) return usageError("--target needs a name");
    } else if (is("--rules-dir")) {
      if (!value("--rules-dir", o.load.rulesDir) || o.load.rulesDir.empty())
        return usageError("--rules-dir needs a directory");
    } else if (a == "--no-unused-warnings") {
      o.load.warnUnused = false;
    } else if (a.size() > 1 && a[0] == '-') {
      return usageError("unknown option '" + a + "'");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty()) return usageError("no command given (expected 'check' or 'compile')");
  o.command = positional[0];
  if (o.command != "check" && o.command != "compile")
    return usageError("unknown command '" + o.command + "' (expected 'check' or 'compile')");
  if (positional.size() < 2) return usageError("no input file");
  if (positional.size() > 2) return usageError("more than one input file ('" + positional[2] + "')");
  o.input = positional[1];
  if (o.command == "check" && !o.emit.empty()) return usageError("'check' does not take --emit");
  if (o.command == "compile") {
    if (o.emit.empty()) return usageError("'compile' needs --emit=STAGE (supported: ast)");
    bool known = false;
    for (const auto &s : kStages) known |= s == o.emit;
    if (!known) {
      std::string list;
      for (const auto &s : kStages) list += (list.empty() ? "" : ", ") + s;
      return usageError("unsupported stage '--emit=" + o.emit + "' (supported stages: " + list + ")");
    }
  }
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

//===-- stages ------------------------------------------------------------------------------------------------------===//

/// Stage 1: parse + imports + Sema.
std::unique_ptr<Program> runFrontEnd(const Options &o, Session &s, bool runSema = true) {
  LoadOptions lo = o.load;
  lo.runSema = runSema;
  return loadProgram(o.input, lo, s.diags);
}

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

/// --emit=ast: the AST dump of the main file (after Sema, so its diagnostics are reported too).
int emitAST(const Options &o, const Program &prog) {
  std::unique_ptr<std::ofstream> file;
  std::ostream *os = openOutput(o, file);
  if (!os) return 1;
  dumpAST(*prog.main, *os);
  return 0;
}

int runCheck(const Options &o) {
  Session s;
  auto prog = runFrontEnd(o, s);
  return s.finish(prog ? 0 : 1);
}

int runCompile(const Options &o) {
  Session s;
  auto prog = runFrontEnd(o, s);
  if (!prog || s.diags.hasErrors()) return s.finish(1);
  int rc = 1;
  if (o.emit == "ast") rc = emitAST(o, *prog);
  return s.finish(rc);
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  int rc = parseArgs(argc, argv, o);
  if (rc >= 0) return rc;
  try {
    if (o.command == "check") return runCheck(o);
    return runCompile(o);
  } catch (const std::exception &e) {
    std::cerr << "spakc: error: internal error: " << e.what() << "\n";
    return 1;
  }
}
