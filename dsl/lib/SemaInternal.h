//===- SemaInternal.h - private interface between Loader.cpp and Sema.cpp ---------------------------------------===//
#pragma once

#include "spak/dsl/Sema.h"

#include <functional>

namespace spak::dsl::detail {

/// Where each loaded file came from: the import that first brought it in (invalid for the main file and for target
/// files found through --target).
struct LoadedFile {
  const File *file = nullptr;
  SourceLoc importedAt;
  bool viaTargetOption = false;
};

struct SemaContext {
  Program &prog;
  DiagnosticEngine &diags;
  const LoadOptions &opts;
  std::vector<LoadedFile> files; // main first, then imports in load order
  /// Loads the rules-dir target file that declares `name` (for --target); returns its File or nullptr.
  std::function<const File *(const std::string &name, std::vector<std::string> &available)> findTarget;
};

void runSema(SemaContext &ctx);

} // namespace spak::dsl::detail
