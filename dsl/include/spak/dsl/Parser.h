//===- Parser.h - .dsl text → AST (ANTLR4 inside, plain AST outside) ------------------------------------*- C++ -*-===//
//
// parseFile lexes and parses one file with the ANTLR4 grammar dsl/grammar/Spak.g4 and converts the parse tree to
// the plain AST of AST.h. Syntax errors are reported through `diags` (several per run: ANTLR's recovery keeps going);
// no ANTLR exception ever leaves this function. The result is nullptr only if nothing usable could be built; with
// syntax errors a partial File may still be returned (callers check diags.hasErrors()).
//
// dumpAST prints the readable, deterministic, indented dump used by `spakc compile --emit=ast`.
//
//===----------------------------------------------------------------------------------------------------------------===//
#pragma once

#include "spak/dsl/AST.h"
#include "spak/dsl/Diagnostics.h"

#include <iosfwd>
#include <memory>
#include <string>

namespace spak::dsl {

/// Parses `text` as the contents of `path`. Registers the text with diags.sourceManager().
std::unique_ptr<File> parseFile(const std::string &path, std::string text, DiagnosticEngine &diags);

/// Limits that keep hostile input from exhausting the stack (reported as errors, never crashes).
constexpr unsigned kMaxNestingDepth = 200;

/// Writes an indented dump of `file` (every node with line:col).
void dumpAST(const File &file, std::ostream &os);
void dumpExpr(const Expr &e, std::ostream &os, unsigned indent = 0);

} // namespace spak::dsl
