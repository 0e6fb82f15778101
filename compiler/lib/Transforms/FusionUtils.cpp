//===- FusionUtils.cpp - rule lookup and region building for fusion -------===//
//
// See FusionUtils.h. The decision reads only `spak.rules`; region building is
// the one place that rewrites IR for every fusion pass.
//
//===----------------------------------------------------------------------===//
#include "FusionUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace spak;
using namespace spak::graph;

namespace spak::fusion {

ArrayRef<StringRef> normLinearApplies() {
  static const StringRef a[] = {"fuse_norm_into_linear", "fuse(rmsnorm,linear)"};
  return a;
}
ArrayRef<StringRef> geluEpilogueApplies() {
  static const StringRef a[] = {"epilogue(bias,gelu)", "epilogue(gelu)"};
  return a;
}
ArrayRef<StringRef> residualEpilogueApplies() {
  static const StringRef a[] = {"epilogue(residual)"};
  return a;
}
ArrayRef<StringRef> geluGradEpilogueApplies() {
  static const StringRef a[] = {"epilogue(gelu_grad)"};
  return a;
}
ArrayRef<StringRef> softmaxXentApplies() {
  static const StringRef a[] = {"fuse_softmax_xent"};
  return a;
}
ArrayRef<StringRef> attentionApplies() {
  static const StringRef a[] = {"online_softmax"};
  return a;
}
ArrayRef<StringRef> adamApplies() {
  static const StringRef a[] = {"multi_tensor_update"};
  return a;
}

FailureOr<Decision> decide(ModuleOp module, ArrayRef<StringRef> applies, bool force,
                           int64_t defaultPriority) {
  Decision d;
  d.priority = defaultPriority;
  Attribute raw = module->getAttr(kRulesAttr);
  if (raw) {
    auto list = dyn_cast<ArrayAttr>(raw);
    if (!list)
      return module.emitError() << "'" << kRulesAttr << "' must be an array of #spak_graph.rule, got "
                                << raw;
    RuleAttr best;
    for (auto [i, a] : llvm::enumerate(list)) {
      auto rule = dyn_cast<RuleAttr>(a);
      if (!rule)
        return module.emitError() << "'" << kRulesAttr << "' entry #" << i
                                  << " is not a #spak_graph.rule: " << a;
      if (!llvm::is_contained(applies, spak::graph::normalizeRuleApply(rule.getApply())))
        continue;
      if (!best || (!best.getEnabled() && rule.getEnabled()))
        best = rule;
    }
    if (best) {
      d.rulePresent = true;
      d.fuse = best.getEnabled();
      d.rule = best.getName().str();
      d.loc = best.getLoc().str();
      d.priority = best.getPriority();
    }
  }
  if (force && !d.fuse) {
    d.fuse = true;
    d.rule = "option:force";
    d.loc = "option:force";
  }
  return d;
}

/// "file:line:col" of the first file location in `loc` (fused locations: the first part).
static std::string locString(Location loc) {
  std::string out;
  loc->walk([&](Location l) {
    if (auto f = dyn_cast<FileLineColLoc>(l)) {
      out = (f.getFilename().getValue() + ":" + Twine(f.getLine()) + ":" + Twine(f.getColumn())).str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return out;
}

void recordRefusal(ModuleOp module, Operation *at, StringRef kind, const Decision &decision,
                   ArrayRef<StringRef> applies, const Twine &reason) {
  if (!module->hasAttr(kRecordRefusalsAttr))
    return;
  Builder b(module.getContext());
  std::string func;
  if (at)
    if (auto f = at->getParentOfType<func::FuncOp>())
      func = f.getSymName().str();
  SmallVector<NamedAttribute> fields = {
      b.getNamedAttr("rule", b.getStringAttr(decision.rule)),
      b.getNamedAttr("rule_loc", b.getStringAttr(decision.loc)),
      b.getNamedAttr("apply", b.getStringAttr(applies.empty() ? StringRef() : applies.front())),
      b.getNamedAttr("kind", b.getStringAttr(kind)),
      b.getNamedAttr("op", b.getStringAttr(at ? at->getName().getStringRef() : StringRef())),
      b.getNamedAttr("loc", b.getStringAttr(at ? locString(at->getLoc()) : std::string())),
      b.getNamedAttr("func", b.getStringAttr(func)),
      b.getNamedAttr("reason", b.getStringAttr(reason.str()))};
  SmallVector<Attribute> list;
  if (auto old = module->getAttrOfType<ArrayAttr>(kRefusedAttr))
    list.append(old.begin(), old.end());
  list.push_back(b.getDictionaryAttr(fields));
  module->setAttr(kRefusedAttr, b.getArrayAttr(list));
}

std::string describeUsers(Value v) {
  SmallVector<std::string> names;
  for (Operation *u : v.getUsers()) {
    std::string n = u->getName().getStringRef().str();
    if (auto dot = n.find('.'); dot != std::string::npos)
      n = n.substr(dot + 1);
    if (!llvm::is_contained(names, n))
      names.push_back(n);
  }
  std::string out;
  for (auto &n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

SmallVector<Operation *> topLevelOps(ModuleOp module) {
  SmallVector<Operation *> out;
  for (auto func : module.getOps<func::FuncOp>())
    for (Block &block : func.getBody())
      for (Operation &op : block)
        out.push_back(&op);
  return out;
}

FusedOp buildRegion(ArrayRef<Operation *> ops, ArrayRef<Value> outputs, StringRef kind,
                    const Decision &decision) {
  assert(!ops.empty() && "a region needs ops");
  Block *block = ops.front()->getBlock();
  Operation *last = ops.front();
  for (Operation *op : ops) {
    if (op->getBlock() != block)
      return nullptr;
    if (last->isBeforeInBlock(op))
      last = op;
  }
  llvm::SmallPtrSet<Operation *, 8> members(ops.begin(), ops.end());

  // Every use of an output outside the set must come after `last`.
  for (Value out : outputs)
    for (Operation *user : out.getUsers()) {
      if (members.contains(user))
        continue;
      Operation *anc = block->findAncestorOpInBlock(*user);
      if (!anc || anc == last || anc->isBeforeInBlock(last))
        return nullptr;
    }

  // Region operands: values the ops read that they do not define, in order.
  llvm::SetVector<Value> inputs;
  SmallVector<Location> locs;
  for (Operation *op : ops) {
    locs.push_back(op->getLoc());
    for (Value v : op->getOperands())
      if (!v.getDefiningOp() || !members.contains(v.getDefiningOp()))
        inputs.insert(v);
  }

  OpBuilder b(last->getContext());
  b.setInsertionPointAfter(last);
  SmallVector<Type> resultTypes;
  for (Value v : outputs)
    resultTypes.push_back(v.getType());
  Location loc = FusedLoc::get(b.getContext(), locs);
  auto fused = FusedOp::create(b, loc, resultTypes, inputs.getArrayRef(), kind, decision.rule,
                               decision.loc);
  Block &body = fused.getBodyBlock();
  IRMapping map;
  for (auto [v, arg] : llvm::zip(inputs, body.getArguments()))
    map.map(v, arg);
  b.setInsertionPointToStart(&body);
  for (Operation *op : ops)
    b.clone(*op, map);
  SmallVector<Value> yielded;
  for (Value v : outputs)
    yielded.push_back(map.lookup(v));
  YieldOp::create(b, loc, yielded);

  for (auto [o, res] : llvm::zip(outputs, fused.getResults())) {
    Value out = o;
    out.replaceUsesWithIf(res, [&](OpOperand &use) { return !members.contains(use.getOwner()); });
  }
  // Erase the originals consumers-first; the ones still read elsewhere stay.
  SmallVector<Operation *> order(ops.begin(), ops.end());
  llvm::sort(order, [](Operation *a, Operation *b) { return b->isBeforeInBlock(a); });
  for (Operation *op : order)
    if (op->use_empty())
      op->erase();
  return fused;
}

} // namespace spak::fusion
