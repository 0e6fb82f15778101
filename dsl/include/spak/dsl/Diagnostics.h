//===- Diagnostics.h - clang-style diagnostics for the spakc front end ----------------------------------*- C++ -*-===//
//
// DiagnosticEngine collects errors, warnings and notes and prints them like clang:
//
//   path:line:col: error: message
//     source line
//         ^~~~
//   path:line:col: note: previous definition is here
//
// A note attaches to the diagnostic reported just before it. Source lines come from the SourceManager, which owns the
// text of every file the front end read. Colors are used only when enabled (spakc enables them when stderr is a tty).
//
//===----------------------------------------------------------------------------------------------------------------===//
#pragma once

#include "spak/dsl/AST.h"

#include <functional>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace spak::dsl {

/// Owns the text of every source file read during a run (so diagnostics can quote lines).
class SourceManager {
public:
  /// Registers `text` as the contents of `path` (replacing any previous text) and returns it.
  const std::string &add(const std::string &path, std::string text);
  /// The file's text, or nullptr if it was never added.
  const std::string *text(const std::string &path) const;
  /// Line `line` (1-based) of `path` without its newline; empty if unknown.
  std::string line(const std::string &path, uint32_t line) const;

private:
  std::map<std::string, std::string> files_;
};

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity = Severity::Error;
  SourceLoc loc; // may be invalid (no file position: printed as "spakc: error: ...")
  std::string message;
};

class DiagnosticEngine {
public:
  explicit DiagnosticEngine(SourceManager &sm) : sm_(sm) {}

  void error(const SourceLoc &loc, std::string message) { report(Severity::Error, loc, std::move(message)); }
  void warning(const SourceLoc &loc, std::string message) { report(Severity::Warning, loc, std::move(message)); }
  void note(const SourceLoc &loc, std::string message) { report(Severity::Note, loc, std::move(message)); }
  void report(Severity severity, const SourceLoc &loc, std::string message);

  unsigned errorCount() const { return errors_; }
  unsigned warningCount() const { return warnings_; }
  bool hasErrors() const { return errors_ != 0; }
  const std::vector<Diagnostic> &diagnostics() const { return diags_; }
  SourceManager &sourceManager() { return sm_; }

  /// Where diagnostics are printed as they are reported (nullptr = collect only; the default).
  void setOutput(std::ostream *os) { out_ = os; }
  void setColors(bool on) { colors_ = on; }
  /// Errors after this many are dropped (a "too many errors" error is printed once). 0 = unlimited.
  void setErrorLimit(unsigned n) { errorLimit_ = n; }

  /// Formats one diagnostic (with source line and caret) exactly as it is printed.
  std::string format(const Diagnostic &d) const;
  /// "2 errors, 1 warning generated." ("" when there is nothing to count).
  std::string summary() const;

private:
  SourceManager &sm_;
  std::vector<Diagnostic> diags_;
  std::ostream *out_ = nullptr;
  bool colors_ = false;
  unsigned errors_ = 0, warnings_ = 0;
  unsigned errorLimit_ = 0;
  bool suppressing_ = false; // the last error was dropped: drop its notes too
};

} // namespace spak::dsl
