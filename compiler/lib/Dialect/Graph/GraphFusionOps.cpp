//===- GraphFusionOps.cpp - spak_graph.fused and spak_graph.yield ---------===//
//
// Builder and verifiers of the fused-region op (GraphFusionOps.td). The
// region verifier checks the body's shape for the region's `kind`, so the
// lowering (FusedRegions.cpp) and the interpreter can rely on it and a
// hand-written region that does not match gets a precise message.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Graph/Graph.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace spak::graph;

ArrayRef<StringLiteral> FusedOp::knownKinds() {
  static const StringLiteral kinds[] = {"norm_linear",  "linear_bias_gelu", "linear_residual",
                                        "matmul_gelu_grad", "softmax_xent", "multi_tensor_adam"};
  return kinds;
}

void FusedOp::build(OpBuilder &b, OperationState &state, TypeRange resultTypes, ValueRange inputs,
                    StringRef kind, StringRef rule, StringRef ruleLoc) {
  state.addOperands(inputs);
  state.addTypes(resultTypes);
  state.addAttribute(getKindAttrName(state.name), b.getStringAttr(kind));
  state.addAttribute(getRuleAttrName(state.name), b.getStringAttr(rule));
  state.addAttribute(getRuleLocAttrName(state.name), b.getStringAttr(ruleLoc));
  Region *body = state.addRegion();
  Block *block = new Block();
  body->push_back(block);
  for (Value v : inputs)
    block->addArgument(v.getType(), state.location);
}

std::string FusedOp::describeRule() {
  std::string s = ("rule \"" + getRule() + "\"").str();
  if (!getRuleLoc().empty())
    s += (" (" + getRuleLoc() + ")").str();
  return s;
}

LogicalResult FusedOp::verify() {
  if (!llvm::is_contained(knownKinds(), getKind())) {
    std::string known;
    for (StringLiteral k : knownKinds())
      known += (known.empty() ? "" : ", ") + k.str();
    return emitOpError("unknown fused kind \"") << getKind() << "\" (known: " << known << ")";
  }
  if (getRule().empty())
    return emitOpError("needs the name of the rule that fused it in 'rule'");
  StringRef loc = getRuleLoc();
  if (!loc.empty() && !loc.starts_with("option:")) {
    auto [rest, col] = loc.rsplit(':');
    auto [file, line] = rest.rsplit(':');
    unsigned l = 0, c = 0;
    if (file.empty() || line.getAsInteger(10, l) || col.getAsInteger(10, c) || l == 0)
      return emitOpError("rule_loc \"") << loc << "\" is not \"file:line:col\", \"option:<flag>\" or empty";
  }
  return success();
}

namespace {

/// Checks the body of one fused region against the shape of its kind.
struct BodyChecker {
  FusedOp op;
  Block &body;
  SmallVector<Operation *> ops;

  explicit BodyChecker(FusedOp op) : op(op), body(op.getBodyBlock()) {
    for (Operation &o : op.getBodyOps())
      ops.push_back(&o);
  }

  InFlightDiagnostic fail() { return op.emitOpError("kind \"") << op.getKind() << "\": "; }
  bool isArg(Value v) { return isa<BlockArgument>(v) && cast<BlockArgument>(v).getOwner() == &body; }
  ValueRange yielded() { return body.getTerminator()->getOperands(); }

  /// Every yielded value is a result of a body op (not an argument).
  bool yieldsOnly(ArrayRef<Value> allowed) {
    for (Value v : yielded())
      if (!llvm::is_contained(allowed, v))
        return false;
    return true;
  }

  template <typename OpT>
  OpT nth(size_t i) {
    return i < ops.size() ? dyn_cast<OpT>(ops[i]) : OpT();
  }

  LogicalResult normLinear() {
    auto norm = nth<RmsNormOp>(0);
    if (!norm || !isArg(norm.getInput()))
      return fail() << "the body must start with rmsnorm of a region argument";
    if (ops.size() < 2)
      return fail() << "needs at least one linear after the rmsnorm";
    SmallVector<Value> outs;
    int64_t width = ShapedType::kDynamic;
    for (size_t i = 1; i < ops.size(); ++i) {
      auto lin = nth<LinearOp>(i);
      if (!lin || lin.getInput() != norm.getResult() || !isArg(lin.getWeight()) ||
          (lin.getBias() && !isArg(lin.getBias())))
        return fail() << "op #" << i << " must be linear(norm, weight [, bias]) with the weight (and "
                      << "bias) region arguments";
      int64_t n = cast<RankedTensorType>(lin.getWeight().getType()).getDimSize(0);
      if (i > 1 && n != width)
        return fail() << "all linears must have one output width (" << width << " vs " << n << ")";
      width = n;
      outs.push_back(lin.getResult());
    }
    if (yielded().size() != outs.size() || !llvm::equal(yielded(), outs))
      return fail() << "must yield the linears' results, in order";
    return success();
  }

  /// linear(x, w [, b]) followed by one consumer; yields (consumer [, linear]).
  LogicalResult epilogue(bool gelu) {
    auto lin = nth<LinearOp>(0);
    if (ops.size() != 2 || !lin)
      return fail() << "the body must be a linear followed by " << (gelu ? "gelu" : "add");
    for (Value v : lin->getOperands())
      if (!isArg(v))
        return fail() << "the linear's operands must be region arguments";
    Value y = lin.getResult(), out;
    if (gelu) {
      auto g = nth<GeluOp>(1);
      if (!g || g.getInput() != y)
        return fail() << "the second op must be gelu of the linear";
      out = g.getResult();
    } else {
      auto add = nth<AddOp>(1);
      if (!add || (add.getLhs() != y && add.getRhs() != y))
        return fail() << "the second op must be add with the linear as one operand";
      Value r = add.getLhs() == y ? add.getRhs() : add.getLhs();
      if (!isArg(r) || r.getType() != y.getType() || add.getResult().getType() != y.getType())
        return fail() << "the residual must be a region argument of the linear's type " << y.getType()
                      << " (no broadcasting)";
      out = add.getResult();
    }
    ValueRange ys = yielded();
    if (ys.empty() || ys.size() > 2 || ys[0] != out || (ys.size() == 2 && ys[1] != y))
      return fail() << "must yield the " << (gelu ? "gelu" : "add")
                    << " result, optionally followed by the linear's result";
    return success();
  }

  LogicalResult geluGradEpilogue() {
    auto mm = nth<MatmulOp>(0);
    auto gg = nth<GeluGradOp>(1);
    if (ops.size() != 2 || !mm || !gg)
      return fail() << "the body must be a matmul followed by gelu_grad";
    if (!isArg(mm.getLhs()) || !isArg(mm.getRhs()) || !isArg(gg->getOperand(1)))
      return fail() << "the matmul's operands and gelu_grad's input must be region arguments";
    if (mm.getTransposeA() || mm.getTransposeB() || cast<RankedTensorType>(mm.getRhs().getType()).getRank() != 2)
      return fail() << "the matmul must be dy · w with a rank-2 w and no transposes";
    if (gg->getOperand(0) != mm.getResult() || gg->getOperand(1).getType() != mm.getResult().getType())
      return fail() << "gelu_grad must take the matmul's result and an input of its type";
    ValueRange ys = yielded();
    if (ys.size() != 1 || ys[0] != gg.getResult())
      return fail() << "must yield the gelu_grad result";
    return success();
  }

  LogicalResult softmaxXent() {
    auto ce = nth<CrossEntropyOp>(0);
    auto grad = nth<CrossEntropyGradOp>(1);
    if (ops.size() != 2 || !ce || !grad)
      return fail() << "the body must be cross_entropy followed by cross_entropy_grad";
    if (!isArg(ce.getLogits()) || !isArg(ce.getTargets()) || !isArg(grad.getGrad()) ||
        grad.getLogits() != ce.getLogits() || grad.getTargets() != ce.getTargets())
      return fail() << "cross_entropy and cross_entropy_grad must read the same logits and targets "
                    << "(region arguments)";
    ValueRange ys = yielded();
    if (ys.size() != 2 || ys[0] != ce.getResult() || ys[1] != grad.getResult())
      return fail() << "must yield (loss, dlogits)";
    return success();
  }

  static SmallVector<NamedAttribute> hyperParams(Operation *o) {
    SmallVector<NamedAttribute> out;
    for (NamedAttribute a : o->getAttrs())
      if (!a.getName().getValue().contains('.'))
        out.push_back(a);
    return out;
  }

  LogicalResult multiTensorAdam() {
    if (ops.empty())
      return fail() << "needs at least one adam";
    SmallVector<Value> outs;
    AdamOp first;
    for (auto [i, o] : llvm::enumerate(ops)) {
      auto adam = dyn_cast<AdamOp>(o);
      if (!adam)
        return fail() << "op #" << i << " is not adam";
      for (Value v : adam->getOperands())
        if (!isArg(v))
          return fail() << "adam operands must be region arguments";
      if (!first) {
        first = adam;
      } else {
        if (adam.getStep() != first.getStep())
          return fail() << "every adam must use one step counter";
        // Hyper-parameters are the op's own attributes (the planning passes'
        // dotted spak.* annotations differ per tensor); one kernel needs them equal.
        if (hyperParams(adam) != hyperParams(first))
          return fail() << "every adam must have the same attributes (op #" << i << " differs)";
      }
      outs.append(adam->result_begin(), adam->result_end());
    }
    if (!llvm::equal(yielded(), outs))
      return fail() << "must yield (param, m, v) of each adam, in order";
    return success();
  }
};

} // namespace

LogicalResult FusedOp::verifyRegions() {
  Block &body = getBodyBlock();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("body has ") << body.getNumArguments() << " arguments for "
                                    << getInputs().size() << " operands";
  for (auto [i, pair] : llvm::enumerate(llvm::zip(body.getArguments(), getInputs())))
    if (std::get<0>(pair).getType() != std::get<1>(pair).getType())
      return emitOpError("body argument #") << i << " has type " << std::get<0>(pair).getType()
                                            << " but operand #" << i << " is "
                                            << std::get<1>(pair).getType();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError("body must end with spak_graph.yield");
  if (yield.getValues().size() != getNumResults())
    return emitOpError("yields ") << yield.getValues().size() << " values for " << getNumResults()
                                  << " results";
  for (auto [i, pair] : llvm::enumerate(llvm::zip(yield.getValues().getTypes(), getResultTypes())))
    if (!areCompatibleTypes(std::get<0>(pair), std::get<1>(pair)))
      return emitOpError("yielded value #") << i << " has type " << std::get<0>(pair)
                                            << ", incompatible with result type " << std::get<1>(pair);
  for (Operation &o : getBodyOps())
    if (o.getDialect() != (*this)->getDialect() || isa<FusedOp>(o))
      return emitOpError("body may hold only spak_graph ops (no nested regions), found '")
             << o.getName() << "'";

  BodyChecker c(*this);
  StringRef kind = getKind();
  if (kind == "norm_linear")
    return c.normLinear();
  if (kind == "linear_bias_gelu")
    return c.epilogue(/*gelu=*/true);
  if (kind == "linear_residual")
    return c.epilogue(/*gelu=*/false);
  if (kind == "matmul_gelu_grad")
    return c.geluGradEpilogue();
  if (kind == "softmax_xent")
    return c.softmaxXent();
  if (kind == "multi_tensor_adam")
    return c.multiTensorAdam();
  return success(); // unknown kinds are reported by verify()
}
