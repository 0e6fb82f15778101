//===- DedupKernels.cpp - merge structurally identical tile kernels -------===//
//
// spak-dedup-kernels: kernels are compared by their printed form with the
// symbol name blanked out and without locations, i.e. signature, grid, math,
// tile config (laws with provenance) and body must all match. The first
// kernel of each class (module order) survives; launches of the others are
// redirected to it (SymbolTable::replaceAllSymbolUses) and they are erased.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Tile/Transforms/Passes.h"

#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

namespace spak::tile {
#define GEN_PASS_DEF_DEDUPKERNELS
#include "spak/Dialect/Tile/Transforms/Passes.h.inc"
} // namespace spak::tile

using namespace mlir;
using namespace spak::tile;

namespace {

/// The kernel's printed form with its own symbol name replaced by a placeholder.
std::string canonicalText(KernelOp kernel) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OpPrintingFlags flags;
  flags.useLocalScope();
  flags.assumeVerified(); // the module was verified by the pass manager; re-verifying per kernel is quadratic
  kernel->print(os, flags);
  std::string name = "@" + kernel.getSymName().str() + "(";
  size_t at = text.find(name);
  if (at != std::string::npos)
    text.replace(at, name.size(), "@__kernel__(");
  return text;
}

struct DedupKernelsPass : spak::tile::impl::DedupKernelsBase<DedupKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::StringMap<KernelOp> firstOf;
    SmallVector<std::pair<KernelOp, KernelOp>> duplicates; // (duplicate, canonical)
    for (KernelOp k : module.getOps<KernelOp>()) {
      auto [it, inserted] = firstOf.try_emplace(canonicalText(k), k);
      if (!inserted)
        duplicates.push_back({k, it->second});
    }
    for (auto [dup, canon] : duplicates) {
      if (failed(SymbolTable::replaceAllSymbolUses(dup.getSymNameAttr(), canon.getSymNameAttr(), module)))
        return signalPassFailure();
      dup->erase();
    }
  }
};

} // namespace
