//===- Autodiff.cpp - the spak-autodiff pass (reverse-mode VJPs) ----------===//
//
// Builds @backward from @forward: clones the forward body, seeds d loss = 1,
// walks the ops in reverse and emits each op's vector-Jacobian product for the
// operands that depend on a parameter ("active" values). Contributions to one
// value are summed (tied weights); gradients of broadcast operands are reduced
// back to the operand shape. The VJP table is documented in docs/dialects/graph.md.
//
//===----------------------------------------------------------------------===//
#include "spak/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

namespace spak {
#define GEN_PASS_DEF_SPAKAUTODIFF
#include "spak/Transforms/Passes.h.inc"
} // namespace spak

using namespace mlir;
using namespace spak::graph;

namespace {

RankedTensorType rankedType(Value v) { return cast<RankedTensorType>(v.getType()); }

class BackwardBuilder {
public:
  BackwardBuilder(OpBuilder &b, const DenseSet<Value> &active) : b(b), active(active) {}

  /// Seeds and runs the reverse sweep over `ops` (the cloned forward body).
  LogicalResult run(ArrayRef<Operation *> ops, Value loss) {
    auto lossType = rankedType(loss);
    auto one = DenseElementsAttr::get(lossType, b.getFloatAttr(lossType.getElementType(), 1.0));
    adj[loss] = arith::ConstantOp::create(b, loss.getLoc(), one);
    for (Operation *op : llvm::reverse(ops)) {
      if (!llvm::any_of(op->getResults(), [&](Value r) { return adj.count(r); }))
        continue;
      if (!llvm::any_of(op->getOperands(), [&](Value v) { return active.contains(v); }))
        continue;
      if (failed(vjp(op)))
        return failure();
    }
    return success();
  }

  /// The accumulated adjoint of `v`, or null if nothing reached it.
  Value adjoint(Value v) const { return adj.lookup(v); }

private:
  OpBuilder &b;
  const DenseSet<Value> &active;
  DenseMap<Value, Value> adj;

  bool isActive(Value v) const { return active.contains(v); }

  void accumulate(Value v, Value g) {
    if (!isActive(v) || !g)
      return;
    auto it = adj.find(v);
    if (it == adj.end())
      adj[v] = g;
    else
      it->second = AddOp::create(b, v.getLoc(), it->second, g);
  }

  /// The adjoint of result `r`, or zeros of its shape if it got none (e.g. an unused split part).
  Value adjOrZeros(Value r) {
    if (Value g = adj.lookup(r))
      return g;
    return ZerosLikeOp::create(b, r.getLoc(), r);
  }

  /// Reduce a gradient of a broadcast result back to the operand type `target`:
  /// sum the leading extra dimensions, then the dimensions that are a static 1
  /// in the operand but not in the gradient.
  Value sumToType(Location loc, Value g, RankedTensorType target) {
    auto gt = rankedType(g);
    int64_t lead = gt.getRank() - target.getRank();
    if (lead > 0) {
      SmallVector<int64_t> axes;
      for (int64_t i = 0; i < lead; ++i)
        axes.push_back(i);
      g = ReduceSumOp::create(b, loc, g, b.getDenseI64ArrayAttr(axes), b.getBoolAttr(false));
      gt = rankedType(g);
    }
    SmallVector<int64_t> ones;
    for (int64_t i = 0; i < target.getRank(); ++i)
      if (target.getDimSize(i) == 1 && gt.getDimSize(i) != 1)
        ones.push_back(i);
    if (!ones.empty())
      g = ReduceSumOp::create(b, loc, g, b.getDenseI64ArrayAttr(ones), b.getBoolAttr(true));
    return g;
  }

  /// Reshape attribute reproducing `type` (one dynamic dim becomes -1).
  FailureOr<DenseI64ArrayAttr> reshapeTo(Operation *op, RankedTensorType type) {
    SmallVector<int64_t> shape;
    int dyn = 0;
    for (int64_t d : type.getShape()) {
      shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
      dyn += ShapedType::isDynamic(d);
    }
    if (dyn > 1)
      return op->emitOpError() << "autodiff: cannot invert a reshape to " << type
                               << " with more than one dynamic dimension";
    return b.getDenseI64ArrayAttr(shape);
  }

  LogicalResult vjp(Operation *op);
  LogicalResult vjpLinear(LinearOp op, Value g);
  LogicalResult vjpMatmul(MatmulOp op, Value g);
};

LogicalResult BackwardBuilder::vjpLinear(LinearOp op, Value g) {
  Location loc = op.getLoc();
  Value x = op.getInput(), w = op.getWeight();
  auto gt = rankedType(g);
  int64_t N = rankedType(w).getDimSize(0), K = rankedType(w).getDimSize(1);
  auto flat = [&](Value v, int64_t cols) -> Value {
    if (rankedType(v).getRank() == 2)
      return v;
    return ReshapeOp::create(b, loc, v, b.getDenseI64ArrayAttr({-1, cols}));
  };
  if (isActive(x)) {
    // dx[..., k] = sum_n g[..., n] w[n, k]
    Value dx;
    if (gt.getRank() >= 2) {
      dx = MatmulOp::create(b, loc, g, w, false, false);
    } else {
      Value g2 = ReshapeOp::create(b, loc, g, b.getDenseI64ArrayAttr({1, N}));
      Value d2 = MatmulOp::create(b, loc, g2, w, false, false);
      dx = ReshapeOp::create(b, loc, d2, b.getDenseI64ArrayAttr({K}));
    }
    accumulate(x, dx);
  }
  if (isActive(w)) {
    // dw[n, k] = sum_rows g[r, n] x[r, k]
    Value g2 = gt.getRank() == 1 ? ReshapeOp::create(b, loc, g, b.getDenseI64ArrayAttr({1, N})).getResult()
                                 : flat(g, N);
    Value x2 = gt.getRank() == 1 ? ReshapeOp::create(b, loc, x, b.getDenseI64ArrayAttr({1, K})).getResult()
                                 : flat(x, K);
    accumulate(w, MatmulOp::create(b, loc, g2, x2, true, false));
  }
  if (Value bias = op.getBias(); bias && isActive(bias)) {
    if (gt.getRank() == 1) {
      accumulate(bias, g);
    } else {
      SmallVector<int64_t> axes;
      for (int64_t i = 0; i + 1 < gt.getRank(); ++i)
        axes.push_back(i);
      accumulate(bias, ReduceSumOp::create(b, loc, g, b.getDenseI64ArrayAttr(axes), b.getBoolAttr(false)));
    }
  }
  return success();
}

LogicalResult BackwardBuilder::vjpMatmul(MatmulOp op, Value g) {
  Location loc = op.getLoc();
  Value A = op.getLhs(), B = op.getRhs();
  bool ta = op.getTransposeA(), tb = op.getTransposeB();
  // C = op(A) op(B); see docs/dialects/graph.md for the four transpose cases.
  if (isActive(A)) {
    Value dA = !ta ? MatmulOp::create(b, loc, g, B, false, !tb).getResult()
                   : MatmulOp::create(b, loc, B, g, tb, true).getResult();
    accumulate(A, sumToType(loc, dA, rankedType(A)));
  }
  if (isActive(B)) {
    Value dB = !tb ? MatmulOp::create(b, loc, A, g, !ta, false).getResult()
                   : MatmulOp::create(b, loc, g, A, true, ta).getResult();
    accumulate(B, sumToType(loc, dB, rankedType(B)));
  }
  return success();
}

LogicalResult BackwardBuilder::vjp(Operation *op) {
  Location loc = op->getLoc();
  Value g = op->getNumResults() == 1 ? adj.lookup(op->getResult(0)) : Value();
  auto f64 = [&](double v) { return b.getF64FloatAttr(v); };
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](AddOp o) {
        accumulate(o.getLhs(), sumToType(loc, g, rankedType(o.getLhs())));
        accumulate(o.getRhs(), sumToType(loc, g, rankedType(o.getRhs())));
        return success();
      })
      .Case([&](SubOp o) {
        accumulate(o.getLhs(), sumToType(loc, g, rankedType(o.getLhs())));
        if (isActive(o.getRhs()))
          accumulate(o.getRhs(), sumToType(loc, ScaleOp::create(b, loc, g, f64(-1.0)), rankedType(o.getRhs())));
        return success();
      })
      .Case([&](MulOp o) {
        if (isActive(o.getLhs()))
          accumulate(o.getLhs(), sumToType(loc, MulOp::create(b, loc, g, o.getRhs()), rankedType(o.getLhs())));
        if (isActive(o.getRhs()))
          accumulate(o.getRhs(), sumToType(loc, MulOp::create(b, loc, g, o.getLhs()), rankedType(o.getRhs())));
        return success();
      })
      .Case([&](ScaleOp o) {
        accumulate(o.getInput(), ScaleOp::create(b, loc, g, o.getFactorAttr()));
        return success();
      })
      .Case([&](ReluOp o) {
        accumulate(o.getInput(), ReluGradOp::create(b, loc, g, o.getInput()));
        return success();
      })
      .Case([&](GeluOp o) {
        accumulate(o.getInput(), GeluGradOp::create(b, loc, g, o.getInput()));
        return success();
      })
      .Case([&](DropoutOp o) {
        // The mask depends only on (seed, offset, index): the VJP is the same dropout.
        accumulate(o.getInput(), DropoutOp::create(b, loc, g, o.getOffset(), o.getPAttr(), o.getSeedAttr()));
        return success();
      })
      .Case([&](EmbedOp o) -> LogicalResult {
        int64_t V = rankedType(o.getTable()).getDimSize(0);
        if (ShapedType::isDynamic(V))
          return o.emitOpError() << "autodiff: the embedding table needs a static number of rows";
        accumulate(o.getTable(), EmbedGradOp::create(b, loc, g, o.getIds(), b.getI64IntegerAttr(V)));
        return success();
      })
      .Case([&](LinearOp o) { return vjpLinear(o, g); })
      .Case([&](MatmulOp o) { return vjpMatmul(o, g); })
      .Case([&](RmsNormOp o) {
        accumulate(o.getInput(), RmsNormGradOp::create(b, loc, g, o.getInput(), o.getEpsAttr()));
        return success();
      })
      .Case([&](LayerNormOp o) {
        auto grads = LayerNormGradOp::create(b, loc, g, o.getInput(), o.getWeight(), o.getEpsAttr());
        accumulate(o.getInput(), grads.getGradInput());
        accumulate(o.getWeight(), grads.getGradWeight());
        accumulate(o.getBias(), grads.getGradBias());
        return success();
      })
      .Case([&](SoftmaxOp o) {
        accumulate(o.getInput(), SoftmaxGradOp::create(b, loc, g, o.getResult(), o.getAxisAttr()));
        return success();
      })
      .Case([&](AttentionOp o) {
        auto grads = AttentionGradOp::create(b, loc, g, o.getQ(), o.getK(), o.getV(), o.getHeadsAttr(),
                                             o.getCausalAttr(), o.getScaleAttr());
        accumulate(o.getQ(), grads.getGradQ());
        accumulate(o.getK(), grads.getGradK());
        accumulate(o.getV(), grads.getGradV());
        return success();
      })
      .Case([&](CrossEntropyOp o) {
        accumulate(o.getLogits(),
                   CrossEntropyGradOp::create(b, loc, g, o.getLogits(), o.getTargets(), o.getClassesAttr()));
        return success();
      })
      .Case([&](ReshapeOp o) -> LogicalResult {
        auto shape = reshapeTo(o, rankedType(o.getInput()));
        if (failed(shape))
          return failure();
        accumulate(o.getInput(), ReshapeOp::create(b, loc, g, *shape));
        return success();
      })
      .Case([&](TransposeOp o) {
        ArrayRef<int64_t> perm = o.getPerm();
        SmallVector<int64_t> inv(perm.size());
        for (size_t i = 0; i < perm.size(); ++i)
          inv[perm[i]] = (int64_t)i;
        accumulate(o.getInput(), TransposeOp::create(b, loc, g, b.getDenseI64ArrayAttr(inv)));
        return success();
      })
      .Case([&](SplitOp o) {
        SmallVector<Value> parts;
        for (Value r : o.getResults())
          parts.push_back(adjOrZeros(r));
        accumulate(o.getInput(), ConcatOp::create(b, loc, parts, o.getAxisAttr()));
        return success();
      })
      .Case([&](ConcatOp o) {
        auto parts = SplitOp::create(b, loc, g, b.getI64IntegerAttr((int64_t)o.getInputs().size()),
                                     o.getAxisAttr());
        for (auto [in, part] : llvm::zip(o.getInputs(), parts.getResults()))
          accumulate(in, part);
        return success();
      })
      .Case([&](ReduceSumOp o) {
        int64_t rank = rankedType(o.getInput()).getRank();
        SmallVector<int64_t> axes;
        if (o.getAxes().empty())
          for (int64_t i = 0; i < rank; ++i)
            axes.push_back(i);
        for (int64_t a : o.getAxes())
          axes.push_back(a < 0 ? a + rank : a);
        if (axes.empty()) { // rank-0 input: the sum is the identity
          accumulate(o.getInput(), g);
          return success();
        }
        accumulate(o.getInput(), BroadcastLikeOp::create(b, loc, g, o.getInput(), b.getDenseI64ArrayAttr(axes)));
        return success();
      })
      .Case([&](BroadcastLikeOp o) {
        bool keep = rankedType(o.getInput()).getRank() == rankedType(o.getLike()).getRank();
        accumulate(o.getInput(), ReduceSumOp::create(b, loc, g, o.getAxesAttr(), b.getBoolAttr(keep)));
        return success();
      })
      .Case([&](tensor::CastOp o) {
        Value src = o.getSource();
        accumulate(src, g.getType() == src.getType()
                            ? g
                            : tensor::CastOp::create(b, loc, src.getType(), g).getResult());
        return success();
      })
      .Case<ZerosLikeOp, PositionsOp, arith::ConstantOp>([](Operation *) { return success(); })
      .Default([&](Operation *other) {
        return other->emitOpError() << "autodiff: no vector-Jacobian product for this op, and it lies "
                                       "on the path from a parameter to the loss";
      });
}

/// Values that depend on a parameter argument (the only ones that need gradients).
DenseSet<Value> activeValues(Block &body, ArrayRef<BlockArgument> params) {
  DenseSet<Value> active(params.begin(), params.end());
  for (Operation &op : body) {
    if (llvm::any_of(op.getOperands(), [&](Value v) { return active.contains(v); }))
      for (Value r : op.getResults())
        if (isa<FloatType>(getElementTypeOrSelf(r.getType())))
          active.insert(r);
  }
  return active;
}

struct AutodiffPass : spak::impl::SpakAutodiffBase<AutodiffPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp fwd;
    for (auto f : module.getOps<func::FuncOp>())
      if (f->hasAttr(kForwardAttr)) {
        if (fwd) {
          f.emitOpError() << "second function marked " << kForwardAttr << " (first: @" << fwd.getSymName() << ")";
          return signalPassFailure();
        }
        fwd = f;
      }
    if (!fwd)
      fwd = module.lookupSymbol<func::FuncOp>(forwardName);
    if (!fwd) {
      module.emitError() << "spak-autodiff: no function marked " << kForwardAttr << " and no @" << forwardName;
      return signalPassFailure();
    }
    if (module.lookupSymbol(backwardName)) {
      module.lookupSymbol(backwardName)->emitOpError()
          << "spak-autodiff: @" << backwardName << " already exists";
      return signalPassFailure();
    }
    if (failed(buildBackward(fwd)))
      signalPassFailure();
  }

  LogicalResult buildBackward(func::FuncOp fwd) {
    if (fwd.isExternal() || !fwd.getBody().hasOneBlock())
      return fwd.emitOpError() << "spak-autodiff: the forward function must have a single-block body";
    auto fwdType = fwd.getFunctionType();
    auto lossType = fwdType.getNumResults() ? dyn_cast<RankedTensorType>(fwdType.getResult(0)) : nullptr;
    if (!lossType || lossType.getRank() != 0 || !isa<FloatType>(lossType.getElementType()))
      return fwd.emitOpError() << "spak-autodiff: the first result of the forward function must be the "
                                  "rank-0 float loss";

    // Parameters: arguments with spak.param, in argument order.
    SmallVector<unsigned> paramIdx;
    SmallVector<Type> resultTypes{lossType};
    for (unsigned i = 0; i < fwd.getNumArguments(); ++i)
      if (auto name = fwd.getArgAttrOfType<StringAttr>(i, kParamAttr)) {
        auto t = dyn_cast<RankedTensorType>(fwd.getArgument(i).getType());
        if (!t || !isa<FloatType>(t.getElementType()))
          return fwd.emitOpError() << "spak-autodiff: parameter '" << name.getValue()
                                   << "' must be a float tensor, got " << fwd.getArgument(i).getType();
        paramIdx.push_back(i);
        resultTypes.push_back(t);
      }

    OpBuilder mb(fwd.getContext());
    mb.setInsertionPointAfter(fwd);
    auto bwd = func::FuncOp::create(mb, fwd.getLoc(), backwardName,
                                    FunctionType::get(fwd.getContext(), fwdType.getInputs(), resultTypes));
    bwd->setAttr(kBackwardAttr, mb.getUnitAttr());
    for (unsigned i = 0; i < fwd.getNumArguments(); ++i)
      bwd.setArgAttrs(i, fwd.getArgAttrDict(i) ? fwd.getArgAttrDict(i).getValue() : ArrayRef<NamedAttribute>{});
    bwd.setResultAttr(0, kLossAttr, mb.getUnitAttr());
    for (auto [k, i] : llvm::enumerate(paramIdx))
      bwd.setResultAttr(k + 1, kGradOfAttr, fwd.getArgAttrOfType<StringAttr>(i, kParamAttr));

    Block *entry = bwd.addEntryBlock();
    OpBuilder b = OpBuilder::atBlockBegin(entry);
    IRMapping map;
    for (auto [src, dst] : llvm::zip(fwd.getArguments(), entry->getArguments()))
      map.map(src, dst);
    SmallVector<Operation *> cloned;
    func::ReturnOp fwdRet;
    for (Operation &op : fwd.getBody().front()) {
      if (auto r = dyn_cast<func::ReturnOp>(op)) {
        fwdRet = r;
        break;
      }
      cloned.push_back(b.clone(op, map));
    }
    if (!fwdRet)
      return fwd.emitOpError() << "spak-autodiff: the forward function has no func.return";
    Value loss = map.lookup(fwdRet.getOperand(0));

    SmallVector<BlockArgument> params;
    for (unsigned i : paramIdx)
      params.push_back(entry->getArgument(i));
    DenseSet<Value> active = activeValues(*entry, params);

    BackwardBuilder bb(b, active);
    if (failed(bb.run(cloned, loss))) {
      bwd.erase();
      return failure();
    }

    SmallVector<Value> results{loss};
    for (BlockArgument p : params) {
      Value g = bb.adjoint(p);
      if (!g) // the parameter does not reach the loss
        g = ZerosLikeOp::create(b, p.getLoc(), p);
      if (g.getType() != p.getType()) {
        if (!areCompatibleTypes(g.getType(), p.getType())) {
          bwd.erase();
          return fwd.emitOpError() << "spak-autodiff: internal error: gradient of type " << g.getType()
                                   << " for a parameter of type " << p.getType();
        }
        g = tensor::CastOp::create(b, p.getLoc(), p.getType(), g);
      }
      results.push_back(g);
    }
    func::ReturnOp::create(b, fwdRet.getLoc(), results);

    // Drop the forward values the backward does not need (e.g. extra results such as logits).
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*entry)))
      if (isOpTriviallyDead(&op))
        op.erase();
    return success();
  }
};

} // namespace
