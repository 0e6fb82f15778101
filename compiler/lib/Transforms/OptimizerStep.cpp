//===- OptimizerStep.cpp - the spak-optimizer-step pass -------------------===//
//
// Builds @train_step from @backward and the module's `spak.train` dictionary:
//   (params..., m..., v..., step, inputs...) -> (loss, params'..., m'..., v'... [, grad_norm])
// The backward body is inlined, the gradients optionally clipped by their
// global norm, and every parameter updated by one spak_graph.adam op.
// `step` (spak.step) is tensor<2xi32> = [s, total_steps]: the 0-based step and
// the learning-rate schedule's length, both read at run time (the trainer's
// --steps); the adam ops' total_steps attribute (the .dsl's steps) is the
// length used when the run-time value is <= 0.
//
//===----------------------------------------------------------------------===//
#include "spak/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

#include <cmath>

namespace spak {
#define GEN_PASS_DEF_SPAKOPTIMIZERSTEP
#include "spak/Transforms/Passes.h.inc"
} // namespace spak

using namespace mlir;
using namespace spak::graph;

namespace {

/// The optimizer configuration after defaults and overrides.
struct TrainConfig {
  std::string optimizer;
  double lr = -1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.0, minLr = 0.0, gradClip = 0.0;
  std::string schedule = "constant";
  int64_t warmup = 0, steps = 0;
};

class ConfigReader {
public:
  ConfigReader(ModuleOp module, DictionaryAttr dict) : module(module), dict(dict) {}

  LogicalResult number(StringRef key, double &out, bool required = false) {
    Attribute a = dict.get(key);
    if (!a)
      return required ? module.emitError() << "spak.train: missing required key '" << key << "'" : success();
    if (auto f = dyn_cast<FloatAttr>(a))
      out = f.getValueAsDouble();
    else if (auto i = dyn_cast<IntegerAttr>(a))
      out = (double)i.getInt();
    else
      return module.emitError() << "spak.train: '" << key << "' must be a number, got " << a;
    return success();
  }

  LogicalResult integer(StringRef key, int64_t &out) {
    Attribute a = dict.get(key);
    if (!a)
      return success();
    if (auto i = dyn_cast<IntegerAttr>(a))
      out = i.getInt();
    else if (auto f = dyn_cast<FloatAttr>(a); f && f.getValueAsDouble() == std::floor(f.getValueAsDouble()))
      out = (int64_t)f.getValueAsDouble();
    else
      return module.emitError() << "spak.train: '" << key << "' must be an integer, got " << a;
    return success();
  }

  LogicalResult string(StringRef key, std::string &out) {
    Attribute a = dict.get(key);
    if (!a)
      return success();
    auto s = dyn_cast<StringAttr>(a);
    if (!s)
      return module.emitError() << "spak.train: '" << key << "' must be a string, got " << a;
    out = s.getValue().str();
    return success();
  }

private:
  ModuleOp module;
  DictionaryAttr dict;
};

struct OptimizerStepPass : spak::impl::SpakOptimizerStepBase<OptimizerStepPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(build()))
      signalPassFailure();
  }

  LogicalResult readConfig(ModuleOp module, TrainConfig &cfg) {
    auto dict = module->getAttrOfType<DictionaryAttr>(kTrainAttr);
    if (!dict)
      return module.emitError() << "spak-optimizer-step: the module has no '" << kTrainAttr
                                << "' dictionary (optimizer, lr, ...)";
    ConfigReader r(module, dict);
    cfg.optimizer = "adam";
    if (failed(r.string("optimizer", cfg.optimizer)) || failed(r.number("lr", cfg.lr, lr < 0)) ||
        failed(r.number("beta1", cfg.beta1)) || failed(r.number("beta2", cfg.beta2)) ||
        failed(r.number("eps", cfg.eps)) || failed(r.number("weight_decay", cfg.weightDecay)) ||
        failed(r.string("schedule", cfg.schedule)) || failed(r.integer("warmup", cfg.warmup)) ||
        failed(r.number("min_lr", cfg.minLr)) || failed(r.integer("steps", cfg.steps)) ||
        failed(r.number("grad_clip", cfg.gradClip)))
      return failure();
    if (!optimizer.empty())
      cfg.optimizer = optimizer;
    if (lr >= 0)
      cfg.lr = lr;
    if (steps >= 0)
      cfg.steps = steps;
    if (gradClip >= 0)
      cfg.gradClip = gradClip;

    if (cfg.optimizer != "adam" && cfg.optimizer != "adamw")
      return module.emitError() << "spak.train: optimizer must be \"adam\" or \"adamw\", got \"" << cfg.optimizer
                                << "\"";
    if (cfg.schedule != "constant" && cfg.schedule != "linear_decay" && cfg.schedule != "cosine")
      return module.emitError() << "spak.train: schedule must be \"constant\", \"linear_decay\" or \"cosine\", got \""
                                << cfg.schedule << "\"";
    if (cfg.schedule != "constant" && cfg.steps <= 0)
      return module.emitError() << "spak.train: schedule \"" << cfg.schedule << "\" needs steps > 0";
    if (!(cfg.gradClip >= 0.0) || !std::isfinite(cfg.gradClip))
      return module.emitError() << "spak.train: grad_clip must be >= 0 (0 disables clipping), got " << cfg.gradClip;
    if (cfg.optimizer == "adam" && cfg.weightDecay != 0.0)
      return module.emitError() << "spak.train: weight_decay " << cfg.weightDecay
                                << " needs optimizer \"adamw\" (decoupled weight decay)";
    return success(); // the remaining ranges are checked by the adam op's verifier
  }

  LogicalResult build() {
    ModuleOp module = getOperation();
    auto bwd = module.lookupSymbol<func::FuncOp>(backwardName);
    if (!bwd)
      return module.emitError() << "spak-optimizer-step: no @" << backwardName << " (run spak-autodiff first)";
    if (module.lookupSymbol(trainStepName))
      return module.lookupSymbol(trainStepName)->emitOpError()
             << "spak-optimizer-step: @" << trainStepName << " already exists";
    if (bwd.isExternal() || !bwd.getBody().hasOneBlock())
      return bwd.emitOpError() << "spak-optimizer-step: the backward function must have a single-block body";
    TrainConfig cfg;
    if (failed(readConfig(module, cfg)))
      return failure();

    // Parameters and data inputs of @backward, in argument order.
    SmallVector<unsigned> paramIdx, inputIdx;
    for (unsigned i = 0; i < bwd.getNumArguments(); ++i)
      (bwd.getArgAttr(i, kParamAttr) ? paramIdx : inputIdx).push_back(i);
    auto bwdType = bwd.getFunctionType();
    if (bwdType.getNumResults() != 1 + paramIdx.size())
      return bwd.emitOpError() << "spak-optimizer-step: expected (loss, one gradient per parameter) = "
                               << 1 + paramIdx.size() << " results, got " << bwdType.getNumResults();
    for (auto [k, i] : llvm::enumerate(paramIdx))
      if (bwdType.getResult(k + 1) != bwdType.getInput(i))
        return bwd.emitOpError() << "spak-optimizer-step: gradient #" << k << " has type "
                                 << bwdType.getResult(k + 1) << " but its parameter has type "
                                 << bwdType.getInput(i);

    MLIRContext *ctx = module.getContext();
    OpBuilder mb(ctx);
    mb.setInsertionPointAfter(bwd);
    auto stepType = RankedTensorType::get({2}, mb.getI32Type()); // [s, total_steps]
    SmallVector<Type> argTypes, resultTypes{bwdType.getResult(0)};
    for (int rep = 0; rep < 3; ++rep)
      for (unsigned i : paramIdx)
        argTypes.push_back(bwdType.getInput(i));
    argTypes.push_back(stepType);
    for (unsigned i : inputIdx)
      argTypes.push_back(bwdType.getInput(i));
    for (int rep = 0; rep < 3; ++rep)
      for (unsigned i : paramIdx)
        resultTypes.push_back(bwdType.getInput(i));
    if (cfg.gradClip > 0)
      resultTypes.push_back(RankedTensorType::get({}, cast<RankedTensorType>(bwdType.getResult(0)).getElementType()));

    auto fn = func::FuncOp::create(mb, bwd.getLoc(), trainStepName, FunctionType::get(ctx, argTypes, resultTypes));
    fn->setAttr(kTrainStepAttr, mb.getUnitAttr());
    size_t P = paramIdx.size();
    for (auto [k, i] : llvm::enumerate(paramIdx)) {
      auto name = bwd.getArgAttrOfType<StringAttr>(i, kParamAttr);
      fn.setArgAttrs(k, bwd.getArgAttrDict(i).getValue());
      fn.setArgAttr(P + k, kAdamMAttr, name);
      fn.setArgAttr(2 * P + k, kAdamVAttr, name);
      fn.setResultAttr(1 + k, kParamAttr, name);
      fn.setResultAttr(1 + P + k, kAdamMAttr, name);
      fn.setResultAttr(1 + 2 * P + k, kAdamVAttr, name);
    }
    fn.setArgAttr(3 * P, kStepAttr, mb.getUnitAttr());
    for (auto [k, i] : llvm::enumerate(inputIdx))
      if (auto attrs = bwd.getArgAttrDict(i))
        fn.setArgAttrs(3 * P + 1 + k, attrs.getValue());
    fn.setResultAttr(0, kLossAttr, mb.getUnitAttr());
    if (cfg.gradClip > 0)
      fn.setResultAttr(1 + 3 * P, kGradNormAttr, mb.getUnitAttr());

    // Inline @backward.
    Block *entry = fn.addEntryBlock();
    OpBuilder b = OpBuilder::atBlockBegin(entry);
    IRMapping map;
    for (auto [k, i] : llvm::enumerate(paramIdx))
      map.map(bwd.getArgument(i), entry->getArgument(k));
    for (auto [k, i] : llvm::enumerate(inputIdx))
      map.map(bwd.getArgument(i), entry->getArgument(3 * P + 1 + k));
    func::ReturnOp bwdRet;
    for (Operation &op : bwd.getBody().front()) {
      if (auto r = dyn_cast<func::ReturnOp>(op)) {
        bwdRet = r;
        break;
      }
      b.clone(op, map);
    }
    if (!bwdRet)
      return bwd.emitOpError() << "spak-optimizer-step: the backward function has no func.return";
    Location loc = bwdRet.getLoc();
    Value loss = map.lookup(bwdRet.getOperand(0));
    SmallVector<Value> grads;
    for (size_t k = 0; k < P; ++k)
      grads.push_back(map.lookup(bwdRet.getOperand(1 + k)));

    Value norm;
    if (cfg.gradClip > 0 && P > 0) {
      auto clip = ClipGradNormOp::create(b, loc, grads, b.getF64FloatAttr(cfg.gradClip));
      grads.assign(clip.getClipped().begin(), clip.getClipped().end());
      norm = clip.getNorm();
    } else if (cfg.gradClip > 0) {
      norm = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(cast<ShapedType>(resultTypes.back()), b.getFloatAttr(
              cast<ShapedType>(resultTypes.back()).getElementType(), 0.0)));
    }

    Value step = entry->getArgument(3 * P);
    SmallVector<Value> newParams, newM, newV;
    for (size_t k = 0; k < P; ++k) {
      Value p = entry->getArgument(k);
      // AdamW decays only matrices (rank >= 2), as nanoGPT's configure_optimizers.
      double wd = cfg.optimizer == "adamw" && cast<RankedTensorType>(p.getType()).getRank() >= 2 ? cfg.weightDecay
                                                                                                : 0.0;
      SmallVector<NamedAttribute> attrs{
          b.getNamedAttr("lr", b.getF64FloatAttr(cfg.lr)),
          b.getNamedAttr("beta1", b.getF64FloatAttr(cfg.beta1)),
          b.getNamedAttr("beta2", b.getF64FloatAttr(cfg.beta2)),
          b.getNamedAttr("eps", b.getF64FloatAttr(cfg.eps)),
          b.getNamedAttr("weight_decay", b.getF64FloatAttr(wd)),
          b.getNamedAttr("schedule", b.getStringAttr(cfg.schedule)),
          b.getNamedAttr("warmup", b.getI64IntegerAttr(cfg.warmup)),
          b.getNamedAttr("min_lr", b.getF64FloatAttr(cfg.minLr)),
          b.getNamedAttr("total_steps", b.getI64IntegerAttr(cfg.steps))};
      // Validate through the op's own shape function/verifier before building it.
      SmallVector<Type> inferred;
      Value operands[] = {p, grads[k], entry->getArgument(P + k), entry->getArgument(2 * P + k), step};
      auto dict = DictionaryAttr::get(ctx, attrs);
      AdamOp::Properties props;
      if (failed(AdamOp::setPropertiesFromAttr(props, dict, [&] { return emitError(loc); })) ||
          failed(AdamOp::inferReturnTypes(ctx, loc, ValueRange(operands), dict, OpaqueProperties(&props),
                                          RegionRange(), inferred))) {
        fn.erase();
        return failure();
      }
      auto adam = AdamOp::create(b, loc, ValueRange(operands), attrs);
      newParams.push_back(adam.getNewParam());
      newM.push_back(adam.getNewM());
      newV.push_back(adam.getNewV());
    }
    SmallVector<Value> results{loss};
    results.append(newParams);
    results.append(newM);
    results.append(newV);
    if (norm)
      results.push_back(norm);
    func::ReturnOp::create(b, loc, results);
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*entry)))
      if (isOpTriviallyDead(&op))
        op.erase();
    return success();
  }
};

} // namespace
