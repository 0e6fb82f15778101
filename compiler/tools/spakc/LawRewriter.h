//===- LawRewriter.h - line-preserving edits of a target rules file ------------------------------------*- C++ -*-===//
//
// What `spakc tune` writes back into rules/targets/<target>.dsl, without reformatting anything else:
//   setLaw(text, "tile_m", "32")    `  law tile_m = 64            // rows ...` → `  law tile_m = 32            // rows ...`
//                                   (only the value token changes; the padding before the comment is kept when the
//                                   new value is not longer than the free space, so comment columns stay aligned)
//   appendFact(text, "sm_90", fact) inserts the fact block before the closing `}` of `target sm_90 ... {`, with the
//                                   indentation of the block's other entries
// Comments, blank lines, other laws and other targets are untouched. Both are plain string functions (unit-tested in
// tests/unit/rules); they fail (return false with a message) rather than guess when the file does not have the
// expected shape: one `law NAME = VALUE` line per law, the target's `{` on its header line.
//
//===----------------------------------------------------------------------------------------------------------------===//
#pragma once

#include <cctype>
#include <string>
#include <vector>

namespace spakc::rewrite {

namespace detail {
inline std::vector<std::string> splitLines(const std::string &text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      if (start < text.size()) lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start + 1)); // keeps the '\n'
    start = nl + 1;
  }
  return lines;
}
inline std::string join(const std::vector<std::string> &lines) {
  std::string s;
  for (const auto &l : lines) s += l;
  return s;
}
inline bool isIdent(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
/// Position after `word` at `pos` when the text there is exactly that word (not a prefix of a longer name).
inline size_t matchWord(const std::string &line, size_t pos, const std::string &word) {
  if (line.compare(pos, word.size(), word) != 0) return std::string::npos;
  size_t end = pos + word.size();
  if (end < line.size() && isIdent(line[end])) return std::string::npos;
  return end;
}
inline size_t skipSpace(const std::string &line, size_t pos) {
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  return pos;
}
} // namespace detail

/// Sets the value of `law NAME = VALUE` (the first such line outside comments). Returns false with `error` set when
/// there is no such line.
inline bool setLaw(std::string &text, const std::string &law, const std::string &value, std::string &error) {
  using namespace detail;
  std::vector<std::string> lines = splitLines(text);
  for (std::string &line : lines) {
    size_t p = skipSpace(line, 0);
    size_t q = matchWord(line, p, "law");
    if (q == std::string::npos) continue;
    q = skipSpace(line, q);
    size_t r = matchWord(line, q, law);
    if (r == std::string::npos) continue;
    r = skipSpace(line, r);
    if (r >= line.size() || line[r] != '=') continue;
    size_t vStart = skipSpace(line, r + 1);
    size_t vEnd = vStart;
    while (vEnd < line.size() && !std::isspace(static_cast<unsigned char>(line[vEnd])) &&
           line.compare(vEnd, 2, "//") != 0)
      ++vEnd;
    // Keep what follows (padding + comment) in the same column when it fits.
    size_t pad = vEnd;
    while (pad < line.size() && (line[pad] == ' ' || line[pad] == '\t')) ++pad;
    std::string oldValue = line.substr(vStart, vEnd - vStart);
    std::string rest = line.substr(vEnd);
    bool hasComment = pad < line.size() && line.compare(pad, 2, "//") == 0;
    if (hasComment && value.size() != oldValue.size()) {
      size_t spaces = pad - vEnd;
      long adjusted = static_cast<long>(spaces) + static_cast<long>(oldValue.size()) - static_cast<long>(value.size());
      rest = std::string(static_cast<size_t>(std::max(1L, adjusted)), ' ') + line.substr(pad);
    }
    line = line.substr(0, vStart) + value + rest;
    text = join(lines);
    return true;
  }
  error = "no line 'law " + law + " = ...' in the rules file";
  return false;
}

/// Inserts `block` (lines without indentation, '\n'-terminated) before the closing brace of `target NAME ...{`,
/// indented like the block's entries. Returns false with `error` set when the target block is not found.
inline bool appendToTarget(std::string &text, const std::string &target, const std::string &block,
                           std::string &error) {
  using namespace detail;
  std::vector<std::string> lines = splitLines(text);
  size_t header = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t p = skipSpace(lines[i], 0);
    size_t q = matchWord(lines[i], p, "target");
    if (q == std::string::npos) continue;
    q = skipSpace(lines[i], q);
    if (matchWord(lines[i], q, target) == std::string::npos) continue;
    if (lines[i].find('{') == std::string::npos) continue;
    header = i;
    break;
  }
  if (header == lines.size()) {
    error = "no 'target " + target + " ... {' line in the rules file";
    return false;
  }
  // The closing brace: depth counting outside comments and strings.
  int depth = 0;
  size_t close = lines.size();
  std::string indent = "  ";
  bool indentSeen = false;
  for (size_t i = header; i < lines.size() && close == lines.size(); ++i) {
    const std::string &l = lines[i];
    if (i > header && !indentSeen) {
      size_t p = skipSpace(l, 0);
      if (p < l.size() && l[p] != '\n' && l[p] != '}') {
        indent = l.substr(0, p);
        indentSeen = true;
      }
    }
    bool inString = false;
    for (size_t c = 0; c < l.size(); ++c) {
      if (inString) {
        if (l[c] == '\\') ++c;
        else if (l[c] == '"') inString = false;
        continue;
      }
      if (l[c] == '"') inString = true;
      else if (l.compare(c, 2, "//") == 0) break;
      else if (l[c] == '{') ++depth;
      else if (l[c] == '}' && --depth == 0) {
        close = i;
        break;
      }
    }
  }
  if (close == lines.size()) {
    error = "the block of target '" + target + "' is not closed";
    return false;
  }
  std::string ins;
  for (const std::string &l : splitLines(block)) ins += (l == "\n" ? "" : indent) + l;
  if (!ins.empty() && ins.back() != '\n') ins += "\n";
  // A closing brace sharing its line with an entry (`  law x = 1 }`) would need a split; refuse to guess.
  size_t p = skipSpace(lines[close], 0);
  if (lines[close][p] != '}') {
    error = "the closing brace of target '" + target + "' shares its line with an entry";
    return false;
  }
  lines.insert(lines.begin() + static_cast<long>(close), ins);
  text = join(lines);
  return true;
}

} // namespace spakc::rewrite
