//===- PadVocab.cpp - the spak-pad-vocab pass ------------------------------===//
//
// Rounds the class dimension of a cross-entropy's logits up to a multiple of
// law `pad_vocab` (rule apply `pad_vocab`), as nanoGPT pads GPT-2's 50257 to
// 50304: the lm_head weight (and its bias) get zero rows after the real ones,
// the logits get padding columns, and the cross_entropy carries `classes` =
// the real vocabulary so those columns take no part in the softmax, the loss
// or the gradient (dlogits = 0 there, hence zero gradients for the padding
// rows). Every matmul over the logits then has rows of a 16-byte multiple. A vocabulary below one multiple
// (MicroGPT's 27) is left as it is.
//
// The parameter keeps its real extent as the argument attribute
// `spak.valid_rows`: the trainer draws the initial values of those rows only
// (the padding rows are zeros), and saves / loads / counts the real rows, so
// checkpoints and the RNG stream are the same with and without padding. @infer
// gets `spak.classes` (the trainer samples from the first `classes` logits).
//
//===----------------------------------------------------------------------===//
#include "spak/Rules/Laws.h"
#include "spak/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace spak {
#define GEN_PASS_DEF_SPAKPADVOCAB
#include "spak/Transforms/Passes.h.inc"
} // namespace spak

using namespace mlir;
using namespace spak::graph;

namespace {

constexpr llvm::StringLiteral kApply = "pad_vocab";
constexpr llvm::StringLiteral kValidRowsAttr = "spak.valid_rows";
constexpr llvm::StringLiteral kClassesAttr = "spak.classes";

RankedTensorType withDim(RankedTensorType t, unsigned dim, int64_t size) {
  SmallVector<int64_t> shape(t.getShape());
  shape[dim] = size;
  return RankedTensorType::get(shape, t.getElementType(), t.getEncoding());
}

struct PadVocabPass : spak::impl::SpakPadVocabBase<PadVocabPass> {
  using Base::Base;

  std::string ruleName, ruleLoc;

  /// The enabled rule whose apply is `pad_vocab`, if any.
  bool findRule(ModuleOp module) {
    RuleAttr r = findEnabledRule(module, kApply);
    if (!r)
      return false;
    ruleName = r.getName().str();
    ruleLoc = r.getLoc().str();
    return true;
  }

  /// A weight argument W [V, C] that can be padded: a `spak.param` argument of `fn` whose users are all linear
  /// (as the weight) or embed (as the table) ops, with every linear result feeding only cross_entropy (as its
  /// logits) or the function's return. Collects those linears.
  bool paddable(func::FuncOp fn, BlockArgument w, SmallVectorImpl<LinearOp> &linears, std::string &why) {
    if (!fn.getArgAttr(w.getArgNumber(), "spak.param")) {
      why = "the lm_head weight is not a parameter";
      return false;
    }
    auto wt = dyn_cast<RankedTensorType>(w.getType());
    if (!wt || wt.getRank() != 2 || wt.isDynamicDim(0)) {
      why = "the lm_head weight is not a static [V, C] tensor";
      return false;
    }
    for (OpOperand &use : w.getUses()) {
      Operation *user = use.getOwner();
      if (auto e = dyn_cast<EmbedOp>(user); e && e.getTable() == w)
        continue;
      auto lin = dyn_cast<LinearOp>(user);
      if (!lin || lin.getWeight() != w) {
        why = ("the weight is also read by " + user->getName().getStringRef()).str();
        return false;
      }
      for (OpOperand &lu : lin.getResult().getUses()) {
        Operation *o = lu.getOwner();
        if (!(isa<CrossEntropyOp>(o) && lu.getOperandNumber() == 0) && !isa<func::ReturnOp>(o)) {
          why = ("the logits are also read by " + o->getName().getStringRef()).str();
          return false;
        }
      }
      linears.push_back(lin);
    }
    return true;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!findRule(module))
      return;
    spak::tile::LawAttr law = spak::rules::lookupLaw(module, "pad_vocab");
    if (!law)
      return;
    int64_t multiple = law.getInt();
    if (multiple <= 1)
      return;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      // The weights of the linears whose logits feed a cross_entropy (forward) or are returned (@infer).
      llvm::SmallSetVector<BlockArgument, 2> weights;
      fn.walk([&](LinearOp lin) {
        auto w = dyn_cast<BlockArgument>(lin.getWeight());
        if (!w || w.getOwner() != &fn.getBody().front())
          return;
        bool logits = llvm::any_of(lin.getResult().getUses(), [](OpOperand &u) {
          return isa<CrossEntropyOp>(u.getOwner()) && u.getOperandNumber() == 0;
        });
        bool inferResult = fn->hasAttr("spak.infer") &&
                           llvm::any_of(lin.getResult().getUsers(), [](Operation *o) { return isa<func::ReturnOp>(o); });
        if (logits || inferResult)
          weights.insert(w);
      });
      for (BlockArgument w : weights)
        if (failed(pad(fn, w, multiple, law)))
          return signalPassFailure();
    }
  }

  LogicalResult pad(func::FuncOp fn, BlockArgument w, int64_t multiple, spak::tile::LawAttr law) {
    SmallVector<LinearOp> linears;
    std::string why;
    if (!paddable(fn, w, linears, why)) {
      fn.emitRemark() << "rule \"" << ruleName << "\" (" << ruleLoc << ") does not pad the vocabulary of @"
                      << fn.getSymName() << ": " << why;
      return success();
    }
    auto wt = cast<RankedTensorType>(w.getType());
    int64_t V = wt.getDimSize(0);
    // A vocabulary smaller than one multiple is left alone: it is one tile of the matmuls already (MicroGPT's 27
    // classes), and padding would only multiply its work.
    if (V % multiple == 0 || V < multiple)
      return success();
    int64_t Vp = (V + multiple - 1) / multiple * multiple;
    Builder b(fn.getContext());
    auto markValid = [&](BlockArgument arg) {
      arg.setType(withDim(cast<RankedTensorType>(arg.getType()), 0, Vp));
      fn.setArgAttr(arg.getArgNumber(), kValidRowsAttr, b.getI64IntegerAttr(V));
    };
    markValid(w);
    // Ids at or above V are errors, as before the padding (the embed kernels flag them in spak.status).
    for (Operation *user : w.getUsers())
      if (isa<EmbedOp>(user))
        user->setAttr(kValidRowsAttr, b.getI64IntegerAttr(V));
    llvm::SmallPtrSet<Value, 2> biases;
    for (LinearOp lin : linears) {
      if (Value bias = lin.getBias()) {
        auto barg = dyn_cast<BlockArgument>(bias);
        auto bt = dyn_cast<RankedTensorType>(bias.getType());
        if (!barg || barg.getOwner() != w.getOwner() || !bt || bt.getRank() != 1 ||
            !fn.getArgAttr(barg.getArgNumber(), "spak.param") ||
            !llvm::all_of(barg.getUsers(), [](Operation *o) { return isa<LinearOp>(o); }))
          return lin.emitError() << "rule \"" << ruleName << "\" (" << ruleLoc
                                 << "): the lm_head bias must be a [V] parameter read only by the lm_head to pad it";
        if (biases.insert(bias).second)
          markValid(barg);
      }
      auto rt = cast<RankedTensorType>(lin.getResult().getType());
      lin.getResult().setType(withDim(rt, rt.getRank() - 1, Vp));
      for (Operation *user : lin.getResult().getUsers())
        if (auto ce = dyn_cast<CrossEntropyOp>(user))
          ce.setClassesAttr(b.getI64IntegerAttr(V));
      lin->setAttr("spak.padded_by", b.getStringAttr(ruleName + " (" + ruleLoc + "): classes " + std::to_string(V) +
                                                     " -> " + std::to_string(Vp) + ", law pad_vocab = " +
                                                     std::to_string(multiple) + " (" + law.getProvenance().str() +
                                                     ")"));
    }
    if (fn->hasAttr("spak.infer"))
      fn->setAttr(kClassesAttr, b.getI64IntegerAttr(V));
    // The signature follows the new argument and result types.
    Block &body = fn.getBody().front();
    SmallVector<Type> results(fn.getResultTypes());
    for (Operation &op : body)
      if (auto ret = dyn_cast<func::ReturnOp>(op))
        for (auto [i, v] : llvm::enumerate(ret.getOperands()))
          results[i] = v.getType();
    fn.setType(FunctionType::get(fn.getContext(), body.getArgumentTypes(), results));
    return success();
  }
};

} // namespace
