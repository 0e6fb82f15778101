//===- DedupKernels.cpp - merge structurally identical tile kernels -------===//
//
// spak-dedup-kernels: two kernels are merged when they are identical apart
// from their symbol name and locations, i.e. signature, grid, math, tile
// config (laws with provenance), argument attributes and body all match. The
// first kernel of each class (module order) survives; launches of the others
// are redirected to it (SymbolTable::replaceAllSymbolUses) and they are
// erased.
//
// Comparison is structural, not textual (printing every kernel cost ~5 s on
// GPT-2 124M): each kernel gets a hash of its attributes (minus sym_name)
// and of every nested op — name, properties, discardable attributes, result
// and block-argument types, operands as (defining position) numbers, region
// and block shape, successors — and kernels whose hashes collide are
// confirmed with OperationEquivalence (locations ignored). This is the same
// relation as "same printed form without the name": attributes are uniqued,
// so equal attributes are the same pointer, and the printer shows every
// attribute of the kernel except sym_name. The one printed-form subtlety is
// mirrored: an arg_attrs/res_attrs array holding only empty dictionaries
// prints like an absent one, so the two compare equal here too.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Tile/Transforms/Passes.h"

#include "mlir/IR/AttrTypeSubElements.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/Hashing.h"

namespace spak::tile {
#define GEN_PASS_DEF_DEDUPKERNELS
#include "spak/Dialect/Tile/Transforms/Passes.h.inc"
} // namespace spak::tile

using namespace mlir;
using namespace spak::tile;

namespace {

/// An array of dictionaries that are all empty prints like no array at all.
bool isAllEmptyDicts(Attribute a) {
  auto arr = dyn_cast<ArrayAttr>(a);
  if (!arr)
    return false;
  return llvm::all_of(arr, [](Attribute e) {
    auto d = dyn_cast<DictionaryAttr>(e);
    return d && d.empty();
  });
}

/// The kernel's own attributes as the printer shows them: everything but sym_name, with all-empty
/// arg_attrs/res_attrs dropped. Sorted by name (a DictionaryAttr's order), so two lists compare elementwise.
SmallVector<NamedAttribute> kernelAttrs(KernelOp kernel) {
  SmallVector<NamedAttribute> out;
  StringAttr symName = kernel.getSymNameAttrName();
  StringAttr argAttrs = kernel.getArgAttrsAttrName(), resAttrs = kernel.getResAttrsAttrName();
  for (NamedAttribute na : kernel->getAttrDictionary()) {
    if (na.getName() == symName)
      continue;
    if ((na.getName() == argAttrs || na.getName() == resAttrs) && isAllEmptyDicts(na.getValue()))
      continue;
    out.push_back(na);
  }
  return out;
}

/// Structural hash of a kernel. Values are numbered in definition order (block arguments, then op results,
/// walking regions in order), so two kernels that differ only in names and locations hash the same.
struct KernelHasher {
  llvm::DenseMap<Value, unsigned> valueIds;
  llvm::DenseMap<Block *, unsigned> blockIds;
  llvm::hash_code h{0};

  unsigned id(Value v) {
    auto it = valueIds.find(v);
    // A value from outside the kernel (kernels are IsolatedFromAbove, so not expected): hash its identity.
    return it == valueIds.end() ? static_cast<unsigned>(llvm::hash_value(v.getAsOpaquePointer())) | 0x80000000u
                                : it->second;
  }

  void region(Region &r) {
    h = llvm::hash_combine(h, r.getBlocks().size());
    for (Block &b : r)
      blockIds.try_emplace(&b, blockIds.size());
    for (Block &b : r) {
      h = llvm::hash_combine(h, b.getNumArguments());
      for (BlockArgument a : b.getArguments()) {
        valueIds.try_emplace(a, valueIds.size());
        h = llvm::hash_combine(h, a.getType().getAsOpaquePointer());
      }
      for (Operation &op : b)
        operation(&op);
    }
  }

  void operation(Operation *op) {
    h = llvm::hash_combine(h, op->getName().getAsOpaquePointer(), op->getDiscardableAttrDictionary(),
                           op->hashProperties(), op->getNumOperands(), op->getNumResults(), op->getNumRegions(),
                           op->getNumSuccessors());
    for (Value v : op->getOperands())
      h = llvm::hash_combine(h, id(v));
    for (Block *s : op->getSuccessors()) {
      auto it = blockIds.find(s);
      h = llvm::hash_combine(h, it == blockIds.end() ? ~0u : it->second);
    }
    for (OpResult r : op->getResults()) {
      valueIds.try_emplace(r, valueIds.size());
      h = llvm::hash_combine(h, r.getType().getAsOpaquePointer());
    }
    for (Region &r : op->getRegions())
      region(r);
  }

  static llvm::hash_code of(KernelOp kernel) {
    KernelHasher k;
    for (NamedAttribute na : kernelAttrs(kernel))
      k.h = llvm::hash_combine(k.h, na.getName(), na.getValue());
    k.h = llvm::hash_combine(k.h, kernel->getNumRegions());
    for (Region &r : kernel->getRegions())
      k.region(r);
    return k.h;
  }
};

/// Same kernel apart from its name and locations (the relation the printed-form comparison used to compute).
bool equivalentKernels(KernelOp a, KernelOp b) {
  if (kernelAttrs(a) != kernelAttrs(b))
    return false;
  Operation *x = a, *y = b;
  if (x->getNumRegions() != y->getNumRegions() || x->getNumOperands() != 0 || y->getNumOperands() != 0 ||
      x->getNumResults() != 0 || y->getNumResults() != 0)
    return false;
  llvm::DenseMap<Value, Value> same; // a's value → b's value
  auto check = [&](Value l, Value r) { return success(l == r || same.lookup(l) == r); };
  auto mark = [&](Value l, Value r) { same[l] = r; };
  for (auto [rx, ry] : llvm::zip(x->getRegions(), y->getRegions()))
    if (!OperationEquivalence::isRegionEquivalentTo(&rx, &ry, check, mark, OperationEquivalence::IgnoreLocations))
      return false;
  return true;
}

struct DedupKernelsPass : spak::tile::impl::DedupKernelsBase<DedupKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // hash → the surviving kernels with that hash (more than one only on a collision).
    llvm::DenseMap<llvm::hash_code, SmallVector<KernelOp, 1>> classes;
    SmallVector<std::pair<KernelOp, KernelOp>> duplicates; // (duplicate, canonical)
    for (KernelOp k : module.getOps<KernelOp>()) {
      SmallVector<KernelOp, 1> &candidates = classes[KernelHasher::of(k)];
      KernelOp canon;
      for (KernelOp c : candidates)
        if (equivalentKernels(c, k)) {
          canon = c;
          break;
        }
      if (canon)
        duplicates.push_back({k, canon});
      else
        candidates.push_back(k);
    }
    if (duplicates.empty())
      return;
    // One walk of the module renames every use (SymbolTable::replaceAllSymbolUses per duplicate would walk the
    // whole module once per removed kernel).
    llvm::DenseMap<StringAttr, StringAttr> renamed;
    for (auto [dup, canon] : duplicates)
      renamed[dup.getSymNameAttr()] = canon.getSymNameAttr();
    for (auto [dup, canon] : duplicates)
      dup->erase();
    AttrTypeReplacer replacer;
    // Like replaceAllSymbolUses: only the root of a reference is renamed (skip: nested references stay).
    replacer.addReplacement([&](SymbolRefAttr ref) -> std::optional<std::pair<Attribute, WalkResult>> {
      auto it = renamed.find(ref.getRootReference());
      Attribute out = it == renamed.end() ? Attribute(ref)
                                          : Attribute(SymbolRefAttr::get(it->second, ref.getNestedReferences()));
      return std::make_pair(out, WalkResult::skip());
    });
    module.walk([&](Operation *op) {
      if (op != module.getOperation())
        replacer.replaceElementsIn(op, /*replaceAttrs=*/true, /*replaceLocs=*/false, /*replaceTypes=*/false);
    });
  }
};

} // namespace
