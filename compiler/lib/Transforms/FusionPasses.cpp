//===- FusionPasses.cpp - the rule-driven fusion passes -------------------===//
//
// spak-fuse-norm-linear, spak-fuse-epilogues, spak-fuse-softmax-xent,
// spak-fuse-attention, spak-fuse-adam and the spak-fusion pipeline pass
// (Passes.td has what each reads and writes; docs/fusion.md the design).
// Every pass: decide from `spak.rules` (FusionUtils), then find its pattern
// among the top-level graph ops of each function and wrap each match in a
// spak_graph.fused region that records the rule.
//
//===----------------------------------------------------------------------===//
#include "FusionUtils.h"
#include "spak/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/MapVector.h"

namespace spak {
#define GEN_PASS_DEF_SPAKFUSENORMLINEAR
#define GEN_PASS_DEF_SPAKFUSEEPILOGUES
#define GEN_PASS_DEF_SPAKFUSESOFTMAXXENT
#define GEN_PASS_DEF_SPAKFUSEATTENTION
#define GEN_PASS_DEF_SPAKFUSEADAM
#define GEN_PASS_DEF_SPAKFUSION
#include "spak/Transforms/Passes.h.inc"
} // namespace spak

using namespace mlir;
using namespace spak;
using namespace spak::graph;
using namespace spak::fusion;

namespace {

// Default priorities: rules/fusion.dsl's, used when a rule is absent.
constexpr int64_t kNormLinearPriority = 10, kEpiloguePriority = 20, kXentPriority = 30,
                  kAttentionPriority = 40, kAdamPriority = 50;

/// Records (when asked: recordRefusal) that a fusion does not run at all: its rule is disabled or absent.
void refuseRule(ModuleOp module, StringRef kind, const Decision &d, ArrayRef<StringRef> applies) {
  if (d.rulePresent)
    recordRefusal(module, nullptr, kind, d, applies, "rule '" + d.rule + "' is disabled (enabled: false)");
  else
    recordRefusal(module, nullptr, kind, d, applies,
                  "no rule in the module applies '" + applies.front() + "'");
}

//===----------------------------------------------------------------------===//
// spak-fuse-norm-linear
//===----------------------------------------------------------------------===//

struct FuseNormLinearPass : spak::impl::SpakFuseNormLinearBase<FuseNormLinearPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (maxConsumers < 1) {
      module.emitError("spak-fuse-norm-linear: max-consumers must be at least 1, got ") << static_cast<int64_t>(maxConsumers);
      return signalPassFailure();
    }
    FailureOr<Decision> d = decide(module, normLinearApplies(), force, kNormLinearPriority);
    if (failed(d))
      return signalPassFailure();
    if (!d->fuse)
      return refuseRule(module, "norm_linear", *d, normLinearApplies());
    for (Operation *op : topLevelOps(module)) {
      auto norm = dyn_cast<RmsNormOp>(op);
      if (!norm)
        continue;
      // Linears reading the norm as their input, grouped by output width in program order.
      llvm::MapVector<int64_t, SmallVector<Operation *>> byWidth;
      SmallVector<Operation *> users(norm->getUsers().begin(), norm->getUsers().end());
      llvm::sort(users, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
      for (Operation *u : llvm::make_early_inc_range(users)) {
        auto lin = dyn_cast<LinearOp>(u);
        if (!lin || lin->getBlock() != norm->getBlock() || lin.getInput() != norm.getResult() ||
            lin.getWeight() == norm.getResult() || lin.getBias() == norm.getResult())
          continue;
        auto &group = byWidth[cast<RankedTensorType>(lin.getWeight().getType()).getDimSize(0)];
        if (llvm::is_contained(group, u))
          continue;
        group.push_back(u);
      }
      if (byWidth.empty())
        recordRefusal(module, norm, "norm_linear", *d, normLinearApplies(),
                      "no linear reads the rmsnorm output as its input (its users: " +
                          describeUsers(norm.getResult()) + ")");
      for (auto &[width, linears] : byWidth) {
        size_t chunk = sharePrologue ? static_cast<size_t>(maxConsumers) : 1;
        for (size_t i = 0; i < linears.size(); i += chunk) {
          ArrayRef<Operation *> part = ArrayRef<Operation *>(linears).slice(
              i, std::min(chunk, linears.size() - i));
          if (!fuse(norm, part, *d))
            for (Operation *lin : part) // A shared region would not dominate a use: one each.
              if (!fuse(norm, {lin}, *d))
                recordRefusal(module, lin, "norm_linear", *d, normLinearApplies(),
                              "a result of the fused region would be read before the region (dominance)");
        }
      }
    }
  }

  static bool fuse(RmsNormOp norm, ArrayRef<Operation *> linears, const Decision &d) {
    SmallVector<Operation *> ops = {norm};
    SmallVector<Value> outs;
    for (Operation *lin : linears) {
      ops.push_back(lin);
      outs.push_back(lin->getResult(0));
    }
    return static_cast<bool>(buildRegion(ops, outs, "norm_linear", d));
  }
};

//===----------------------------------------------------------------------===//
// spak-fuse-epilogues
//===----------------------------------------------------------------------===//

struct FuseEpiloguesPass : spak::impl::SpakFuseEpiloguesBase<FuseEpiloguesPass> {
  using Base::Base;

  /// Rule epilogue(gelu_grad): `gelu_grad(matmul(dy, w), x)` (the data gradient through a linear that a gelu
  /// feeds: dh = dy · w, then dpre = dh · gelu'(x)) becomes `spak_graph.fused "matmul_gelu_grad"`: the matmul
  /// kernel multiplies its accumulator by gelu'(x) before the store, so dh never reaches memory.
  void fuseGeluGrad(ModuleOp module, const Decision &d) {
    if (!d.fuse) {
      refuseRule(module, "matmul_gelu_grad", d, geluGradEpilogueApplies());
      return;
    }
    if (!geluGrad) {
      recordRefusal(module, nullptr, "matmul_gelu_grad", d, geluGradEpilogueApplies(), "pass option gelu-grad=false");
      return;
    }
    bool any = false;
    for (Operation *op : topLevelOps(module)) {
      auto gg = dyn_cast<GeluGradOp>(op);
      if (!gg)
        continue;
      any = true;
      auto mm = gg->getOperand(0).getDefiningOp<MatmulOp>();
      auto wT = mm ? dyn_cast<RankedTensorType>(mm->getOperand(1).getType()) : RankedTensorType();
      std::string why;
      if (!mm)
        why = "its gradient operand is not a matmul result";
      else if (mm->getBlock() != gg->getBlock())
        why = "the matmul is in another block";
      else if (mm.getTransposeA() || mm.getTransposeB())
        why = "the matmul transposes an operand (only dy · w, w [K, N], is fused)";
      else if (!wT || wT.getRank() != 2)
        why = "the matmul's second operand is not a rank-2 weight";
      else if (!mm.getResult().hasOneUse())
        why = "the matmul result has other users (" + describeUsers(mm.getResult()) + ")";
      else if (gg->getOperand(1).getType() != mm.getResult().getType())
        why = "gelu_grad's input is not shaped like the matmul result";
      if (!why.empty()) {
        recordRefusal(module, gg, "matmul_gelu_grad", d, geluGradEpilogueApplies(), why);
        continue;
      }
      if (!buildRegion({mm, gg}, {gg.getResult()}, "matmul_gelu_grad", d))
        recordRefusal(module, gg, "matmul_gelu_grad", d, geluGradEpilogueApplies(),
                      "a result of the fused region would be read before the region (dominance)");
    }
    if (!any)
      recordRefusal(module, nullptr, "matmul_gelu_grad", d, geluGradEpilogueApplies(),
                    "no gelu_grad in the module (no gelu, or no backward pass)");
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Decision> dg = decide(module, geluEpilogueApplies(), force, kEpiloguePriority);
    FailureOr<Decision> dr = decide(module, residualEpilogueApplies(), force, kEpiloguePriority);
    FailureOr<Decision> dgg = decide(module, geluGradEpilogueApplies(), force, kEpiloguePriority);
    if (failed(dg) || failed(dr) || failed(dgg))
      return signalPassFailure();
    fuseGeluGrad(module, *dgg);
    bool doGelu = gelu && dg->fuse, doResidual = residual && dr->fuse;
    if (!dg->fuse)
      refuseRule(module, "linear_bias_gelu", *dg, geluEpilogueApplies());
    else if (!gelu)
      recordRefusal(module, nullptr, "linear_bias_gelu", *dg, geluEpilogueApplies(), "pass option gelu=false");
    if (!dr->fuse)
      refuseRule(module, "linear_residual", *dr, residualEpilogueApplies());
    else if (!residual)
      recordRefusal(module, nullptr, "linear_residual", *dr, residualEpilogueApplies(),
                    "pass option residual=false");
    if (!doGelu && !doResidual)
      return;
    for (Operation *op : topLevelOps(module)) {
      auto lin = dyn_cast<LinearOp>(op);
      if (!lin)
        continue;
      Value y = lin.getResult();
      SmallVector<Operation *> users(y.getUsers().begin(), y.getUsers().end());
      llvm::sort(users, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
      Operation *consumer = nullptr;
      bool isGelu = false;
      if (doGelu)
        for (Operation *u : users)
          if (isa<GeluOp>(u) && u->getBlock() == lin->getBlock()) {
            consumer = u;
            isGelu = true;
            break;
          }
      if (!consumer && doResidual)
        for (Operation *u : users) {
          auto add = dyn_cast<AddOp>(u);
          if (!add || add->getBlock() != lin->getBlock() || add.getLhs() == add.getRhs())
            continue;
          Value r = add.getLhs() == y ? add.getRhs() : add.getLhs();
          if (r.getType() == y.getType() && add.getResult().getType() == y.getType()) {
            consumer = u;
            break;
          }
        }
      if (!consumer) {
        // Attribute the refusal to the enabled rule(s) whose consumer is missing.
        std::string users = describeUsers(y);
        if (doGelu)
          recordRefusal(module, lin, "linear_bias_gelu", *dg, geluEpilogueApplies(),
                        "no gelu reads the linear output (its users: " + users + ")");
        if (doResidual)
          recordRefusal(module, lin, "linear_residual", *dr, residualEpilogueApplies(),
                        "no add of a same-shaped residual reads the linear output (its users: " + users +
                            ")");
        continue;
      }
      SmallVector<Value> outs = {consumer->getResult(0)};
      if (llvm::any_of(y.getUsers(), [&](Operation *u) { return u != consumer; }))
        outs.push_back(y); // read elsewhere (e.g. by gelu_grad): the kernel stores it too
      if (!buildRegion({lin, consumer}, outs, isGelu ? "linear_bias_gelu" : "linear_residual",
                       isGelu ? *dg : *dr))
        recordRefusal(module, lin, isGelu ? "linear_bias_gelu" : "linear_residual", isGelu ? *dg : *dr,
                      isGelu ? geluEpilogueApplies() : residualEpilogueApplies(),
                      "a result of the fused region would be read before the region (dominance)");
    }
  }
};

//===----------------------------------------------------------------------===//
// spak-fuse-softmax-xent
//===----------------------------------------------------------------------===//

struct FuseSoftmaxXentPass : spak::impl::SpakFuseSoftmaxXentBase<FuseSoftmaxXentPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Decision> d = decide(module, softmaxXentApplies(), force, kXentPriority);
    if (failed(d))
      return signalPassFailure();
    if (!d->fuse)
      return refuseRule(module, "softmax_xent", *d, softmaxXentApplies());
    for (Operation *op : topLevelOps(module)) {
      auto ce = dyn_cast<CrossEntropyOp>(op);
      if (!ce)
        continue;
      CrossEntropyGradOp grad;
      for (Operation *u : ce.getLogits().getUsers()) {
        auto g = dyn_cast<CrossEntropyGradOp>(u);
        if (g && g->getBlock() == ce->getBlock() && g.getLogits() == ce.getLogits() &&
            g.getTargets() == ce.getTargets()) {
          grad = g;
          break;
        }
      }
      if (!grad)
        recordRefusal(module, ce, "softmax_xent", *d, softmaxXentApplies(),
                      "no cross_entropy_grad of the same logits and targets in this function");
      else if (!buildRegion({ce, grad}, {ce.getResult(), grad.getResult()}, "softmax_xent", *d))
        recordRefusal(module, ce, "softmax_xent", *d, softmaxXentApplies(),
                      "a result of the fused region would be read before the region (dominance)");
    }
  }
};

//===----------------------------------------------------------------------===//
// spak-fuse-attention
//===----------------------------------------------------------------------===//

struct FuseAttentionPass : spak::impl::SpakFuseAttentionBase<FuseAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Decision> d = decide(module, attentionApplies(), force, kAttentionPriority);
    if (failed(d))
      return signalPassFailure();
    if (!d->fuse)
      refuseRule(module, "flash_attention", *d, attentionApplies());
    for (Operation *op : topLevelOps(module)) {
      bool fwd = isa<AttentionOp>(op), bwd = isa<AttentionGradOp>(op);
      if (!fwd && !bwd)
        continue;
      if (d->fuse) {
        op->removeAttr(kUnfusedAttr);
        Builder b(op->getContext());
        op->setAttr(kFusionAttr,
                    b.getDictionaryAttr({b.getNamedAttr("kind", b.getStringAttr(fwd ? "flash_attention"
                                                                                    : "flash_attention_grad")),
                                         b.getNamedAttr("rule", b.getStringAttr(d->rule)),
                                         b.getNamedAttr("rule_loc", b.getStringAttr(d->loc))}));
      } else if (decompose && fwd) {
        op->removeAttr(kFusionAttr);
        op->setAttr(kUnfusedAttr, StringAttr::get(op->getContext(), attentionApplies().front()));
      }
    }
  }
};

//===----------------------------------------------------------------------===//
// spak-fuse-adam
//===----------------------------------------------------------------------===//

struct FuseAdamPass : spak::impl::SpakFuseAdamBase<FuseAdamPass> {
  using Base::Base;

  /// The op's own attributes (hyper-parameters), without dotted spak.* annotations.
  static DictionaryAttr hyperParams(Operation *op) {
    SmallVector<NamedAttribute> out;
    for (NamedAttribute a : op->getAttrs())
      if (!a.getName().getValue().contains('.'))
        out.push_back(a);
    return DictionaryAttr::get(op->getContext(), out);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (maxTensors < 0) {
      module.emitError("spak-fuse-adam: max-tensors must be >= 0, got ") << static_cast<int64_t>(maxTensors);
      return signalPassFailure();
    }
    FailureOr<Decision> d = decide(module, adamApplies(), force, kAdamPriority);
    if (failed(d))
      return signalPassFailure();
    if (!d->fuse)
      return refuseRule(module, "multi_tensor_adam", *d, adamApplies());
    // Group per block by (step counter, attributes), in program order.
    using Key = std::tuple<Block *, Value, DictionaryAttr>;
    llvm::MapVector<Key, SmallVector<Operation *>> groups;
    for (Operation *op : topLevelOps(module))
      if (auto adam = dyn_cast<AdamOp>(op))
        groups[{op->getBlock(), adam.getStep(), hyperParams(op)}].push_back(op);
    for (auto &[key, ops] : groups) {
      size_t chunk = maxTensors == 0 ? ops.size() : static_cast<size_t>(maxTensors);
      for (size_t i = 0; i < ops.size(); i += chunk) {
        ArrayRef<Operation *> part = ArrayRef<Operation *>(ops).slice(i, std::min(chunk, ops.size() - i));
        SmallVector<Value> outs;
        for (Operation *op : part)
          outs.append(op->result_begin(), op->result_end());
        if (!buildRegion(part, outs, "multi_tensor_adam", *d)) {
          part.front()->emitRemark("rule '")
              << d->rule << "' not applied: a result of these adam ops is read before the last of them";
          recordRefusal(module, part.front(), "multi_tensor_adam", *d, adamApplies(),
                        "a result of these adam ops is read before the last of them (dominance)");
        }
      }
    }
  }
};

//===----------------------------------------------------------------------===//
// spak-fusion: all of them in rule-priority order
//===----------------------------------------------------------------------===//

struct FusionPipelinePass : spak::impl::SpakFusionBase<FusionPipelinePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    struct Step {
      int64_t priority;
      std::function<std::unique_ptr<Pass>()> make;
    };
    SmallVector<Step> steps;
    auto add = [&](ArrayRef<StringRef> applies, int64_t def, std::function<std::unique_ptr<Pass>()> make) {
      FailureOr<Decision> d = decide(module, applies, false, def);
      if (failed(d))
        return false;
      steps.push_back({d->priority, std::move(make)});
      return true;
    };
    bool f = force;
    // The epilogue pass serves three rules: it runs at the smallest of their priorities.
    FailureOr<Decision> dg = decide(module, geluEpilogueApplies(), false, kEpiloguePriority);
    FailureOr<Decision> dr = decide(module, residualEpilogueApplies(), false, kEpiloguePriority);
    FailureOr<Decision> dgg = decide(module, geluGradEpilogueApplies(), false, kEpiloguePriority);
    if (failed(dg) || failed(dr) || failed(dgg))
      return signalPassFailure();
    bool ok = add(normLinearApplies(), kNormLinearPriority,
                  [f] { return createSpakFuseNormLinear(SpakFuseNormLinearOptions{f}); });
    steps.push_back({std::min({dg->priority, dr->priority, dgg->priority}),
                     [f] { return createSpakFuseEpilogues(SpakFuseEpiloguesOptions{f}); }});
    ok = ok && add(softmaxXentApplies(), kXentPriority,
                   [f] { return createSpakFuseSoftmaxXent(SpakFuseSoftmaxXentOptions{f}); });
    ok = ok && add(attentionApplies(), kAttentionPriority,
                   [f] { return createSpakFuseAttention(SpakFuseAttentionOptions{f}); });
    ok = ok && add(adamApplies(), kAdamPriority,
                   [f] { return createSpakFuseAdam(SpakFuseAdamOptions{f}); });
    if (!ok)
      return signalPassFailure();
    std::stable_sort(steps.begin(), steps.end(),
                     [](const Step &a, const Step &b) { return a.priority < b.priority; });
    OpPassManager pm(ModuleOp::getOperationName());
    for (Step &s : steps)
      pm.addPass(s.make());
    if (failed(runPipeline(pm, module)))
      signalPassFailure();
  }
};

} // namespace
