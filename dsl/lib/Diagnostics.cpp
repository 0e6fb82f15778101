//===- Diagnostics.cpp - clang-style diagnostic formatting -------------------------------------------------------===//
#include "spak/dsl/Diagnostics.h"

#include <fmt/format.h>

#include <ostream>

namespace spak::dsl {

const std::string &SourceManager::add(const std::string &path, std::string text) {
  auto &slot = files_[path];
  slot = std::move(text);
  return slot;
}

const std::string *SourceManager::text(const std::string &path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

std::string SourceManager::line(const std::string &path, uint32_t line) const {
  const std::string *t = text(path);
  if (!t || line == 0) return {};
  size_t pos = 0;
  for (uint32_t l = 1; l < line; ++l) {
    pos = t->find('\n', pos);
    if (pos == std::string::npos) return {};
    ++pos;
  }
  size_t end = t->find('\n', pos);
  std::string s = t->substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

void DiagnosticEngine::report(Severity severity, const SourceLoc &loc, std::string message) {
  if (severity == Severity::Note) {
    if (suppressing_) return;
  } else {
    suppressing_ = false;
  }
  if (severity == Severity::Error) {
    if (errorLimit_ && errors_ >= errorLimit_) {
      suppressing_ = true;
      if (errors_ == errorLimit_) {
        ++errors_;
        Diagnostic d{Severity::Error, {}, "too many errors emitted, stopping now"};
        diags_.push_back(d);
        if (out_) *out_ << format(d);
      }
      return;
    }
    ++errors_;
  } else if (severity == Severity::Warning) {
    ++warnings_;
  }
  diags_.push_back(Diagnostic{severity, loc, std::move(message)});
  if (out_) *out_ << format(diags_.back()) << std::flush;
}

std::string DiagnosticEngine::format(const Diagnostic &d) const {
  const char *bold = colors_ ? "\033[1m" : "";
  const char *reset = colors_ ? "\033[0m" : "";
  const char *sevColor = "";
  const char *sevName = "error";
  switch (d.severity) {
  case Severity::Error: sevColor = colors_ ? "\033[1;31m" : ""; sevName = "error"; break;
  case Severity::Warning: sevColor = colors_ ? "\033[1;35m" : ""; sevName = "warning"; break;
  case Severity::Note: sevColor = colors_ ? "\033[1;30m" : ""; sevName = "note"; break;
  }
  std::string out;
  if (d.loc.valid())
    out += fmt::format("{}{}:{}:{}: {}", bold, d.loc.file, d.loc.line, d.loc.col, reset);
  else if (!d.loc.file.empty())
    out += fmt::format("{}{}: {}", bold, d.loc.file, reset);
  else
    out += fmt::format("{}spakc: {}", bold, reset);
  out += fmt::format("{}{}: {}{}{}{}\n", sevColor, sevName, reset, bold, d.message, reset);
  if (d.loc.valid()) {
    std::string src = sm_.line(d.loc.file, d.loc.line);
    if (!src.empty() || d.loc.col == 1) {
      // Tabs are kept in the caret line so the caret lines up with the source.
      std::string caret;
      for (uint32_t i = 1; i < d.loc.col && i - 1 < src.size(); ++i) caret += src[i - 1] == '\t' ? '\t' : ' ';
      for (uint32_t i = uint32_t(caret.size()) + 1; i < d.loc.col; ++i) caret += ' ';
      caret += '^';
      uint32_t len = d.loc.length;
      if (d.loc.col - 1 + len > src.size()) len = src.size() >= d.loc.col ? uint32_t(src.size() - d.loc.col + 1) : 1;
      for (uint32_t i = 1; i < len; ++i) caret += '~';
      const char *green = colors_ ? "\033[1;32m" : "";
      out += src + "\n" + green + caret + reset + "\n";
    }
  }
  return out;
}

std::string DiagnosticEngine::summary() const {
  if (!errors_ && !warnings_) return "";
  std::string s;
  if (warnings_ && !errors_) return fmt::format("{} warning{} generated.", warnings_, warnings_ == 1 ? "" : "s");
  s = fmt::format("{} error{}", errors_, errors_ == 1 ? "" : "s");
  if (warnings_) s += fmt::format(", {} warning{}", warnings_, warnings_ == 1 ? "" : "s");
  return s + " generated.";
}

} // namespace spak::dsl
