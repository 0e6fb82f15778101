// Helpers shared by the DSL unit tests: parse/load strings and inspect diagnostics.
#pragma once
#include "spak/dsl/Parser.h"
#include "spak/dsl/Sema.h"

#include <string>

struct Fixture {
  spak::dsl::SourceManager sm;
  spak::dsl::DiagnosticEngine diags{sm};

  std::unique_ptr<spak::dsl::File> parse(const std::string &text, const std::string &path = "test.dsl") {
    return spak::dsl::parseFile(path, text, diags);
  }
  std::unique_ptr<spak::dsl::Program> load(const std::string &text, spak::dsl::LoadOptions opts = {},
                                           const std::string &path = std::string(SPAK_SOURCE_DIR) + "/t/test.dsl") {
    if (opts.rulesDir.empty()) opts.rulesDir = std::string(SPAK_SOURCE_DIR) + "/rules";
    return spak::dsl::loadProgramFromString(path, text, opts, diags);
  }
  /// "line:col: message" of every error, joined by '\n'.
  std::string errors() const {
    std::string s;
    for (const auto &d : diags.diagnostics())
      if (d.severity == spak::dsl::Severity::Error)
        s += std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col) + ": " + d.message + "\n";
    return s;
  }
  bool hasError(const std::string &needle) const { return errors().find(needle) != std::string::npos; }
};
