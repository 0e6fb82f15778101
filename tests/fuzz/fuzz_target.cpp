// The DSL front-end fuzz target: one input = one .dsl file, run through parse + imports + Sema + AST dump.
// Used by libFuzzer (SPAK_ENABLE_FUZZ, clang) and by the portable mutation driver (fuzz_driver.cpp, any compiler).
// Invariants checked: nothing escapes the library (no exception, no crash), and a null Program comes with an error.
#include "spak/dsl/Parser.h"
#include "spak/dsl/Sema.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#ifndef SPAK_SOURCE_DIR
#define SPAK_SOURCE_DIR "."
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace spak::dsl;
  std::string text(reinterpret_cast<const char *>(data), size);
  try {
    SourceManager sm;
    DiagnosticEngine diags(sm);
    LoadOptions opts;
    opts.rulesDir = SPAK_SOURCE_DIR "/rules";
    // A path in a folder that does not exist: relative imports fall through to the rules dir.
    auto prog = loadProgramFromString("/nonexistent-fuzz-dir/input.dsl", text, opts, diags);
    if (!prog && !diags.hasErrors()) {
      std::fprintf(stderr, "fuzz: loadProgram returned null without reporting an error\n");
      std::abort();
    }
    std::ostringstream sink;
    if (prog) dumpAST(*prog->main, sink);
    for (const auto &d : diags.diagnostics()) sink << diags.format(d);
    sink << diags.summary();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "fuzz: exception escaped the front end: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz: unknown exception escaped the front end\n");
    std::abort();
  }
  return 0;
}
