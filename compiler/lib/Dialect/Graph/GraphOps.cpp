//===- GraphOps.cpp - shape functions and verifiers of the spak_graph ops ---===//
//
// Every op's `inferReturnTypes` is both its shape function (used by the
// result-type-free builders and by spak-shape-inference) and its verifier: it
// checks ranks, sizes, element types and attribute values and reports the
// first problem with a precise message. `?` sizes propagate; a `?` facing a
// static size takes the static size.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Graph/Graph.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/SmallSet.h"

#include <cmath>

using namespace mlir;
using namespace spak::graph;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

bool isDyn(int64_t d) { return ShapedType::isDynamic(d); }

/// Collects the op name and location so every message reads
/// "'spak_graph.linear' op ...".
struct Checker {
  std::optional<Location> loc;
  StringRef opName;

  template <typename... Args>
  LogicalResult fail(Args &&...args) const {
    return emitOptionalError(loc, "'", opName, "' op ", std::forward<Args>(args)...);
  }
};

std::string shapeStr(ArrayRef<int64_t> dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      s += ", ";
    s += isDyn(dims[i]) ? std::string("?") : std::to_string(dims[i]);
  }
  return s + "]";
}

RankedTensorType ranked(Value v) { return v ? dyn_cast<RankedTensorType>(v.getType()) : nullptr; }

/// Two sizes that must be equal: the more static one, or failure.
std::optional<int64_t> meetDim(int64_t a, int64_t b) {
  if (isDyn(a))
    return b;
  if (isDyn(b) || a == b)
    return a;
  return std::nullopt;
}

FailureOr<SmallVector<int64_t>> meetShapes(const Checker &c, ArrayRef<int64_t> a, ArrayRef<int64_t> b,
                                           StringRef what) {
  if (a.size() != b.size())
    return c.fail(what, " must have the same rank: ", shapeStr(a), " vs ", shapeStr(b));
  SmallVector<int64_t> out;
  for (size_t i = 0; i < a.size(); ++i) {
    auto d = meetDim(a[i], b[i]);
    if (!d)
      return c.fail(what, " must have the same shape: ", shapeStr(a), " vs ", shapeStr(b),
                    " (dimension ", i, ")");
    out.push_back(*d);
  }
  return out;
}

/// numpy broadcasting from the trailing dimension.
FailureOr<SmallVector<int64_t>> broadcastShapes(const Checker &c, ArrayRef<int64_t> a,
                                                ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    int64_t d;
    if (da == db)
      d = da;
    else if (da == 1)
      d = db;
    else if (db == 1)
      d = da;
    else if (isDyn(da))
      d = db;
    else if (isDyn(db))
      d = da;
    else
      return c.fail("shapes ", shapeStr(a), " and ", shapeStr(b),
                    " do not broadcast (trailing dimension ", i, ": ", da, " vs ", db, ")");
    out[rank - 1 - i] = d;
  }
  return out;
}

LogicalResult sameElementType(const Checker &c, ValueRange values) {
  Type elt;
  for (Value v : values) {
    if (!v)
      continue;
    auto t = ranked(v);
    if (!t)
      return c.fail("expects ranked tensor operands");
    if (!elt)
      elt = t.getElementType();
    else if (t.getElementType() != elt)
      return c.fail("operands must have the same element type, got ", elt, " and ",
                    t.getElementType());
  }
  return success();
}

FailureOr<int64_t> normAxis(const Checker &c, int64_t axis, int64_t rank, StringRef name = "axis") {
  if (axis < -rank || axis >= rank)
    return c.fail(name, " ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

LogicalResult positiveFinite(const Checker &c, double v, StringRef name) {
  if (!(v > 0.0) || !std::isfinite(v))
    return c.fail(name, " must be positive and finite, got ", v);
  return success();
}

RankedTensorType tensorOf(ArrayRef<int64_t> dims, Type elt) { return RankedTensorType::get(dims, elt); }

/// Shape-preserving unary op.
LogicalResult unary(const Checker &c, Value in, SmallVectorImpl<Type> &out) {
  auto t = ranked(in);
  if (!t)
    return c.fail("expects a ranked tensor operand");
  out.push_back(t);
  return success();
}

/// Ops whose operands must all have one shape; result of that (met) shape.
FailureOr<RankedTensorType> sameShape(const Checker &c, ValueRange values, StringRef what) {
  if (failed(sameElementType(c, values)))
    return failure();
  auto first = ranked(values.front());
  SmallVector<int64_t> dims(first.getShape());
  for (Value v : values.drop_front()) {
    auto m = meetShapes(c, dims, ranked(v).getShape(), what);
    if (failed(m))
      return failure();
    dims = *m;
  }
  return tensorOf(dims, first.getElementType());
}

LogicalResult binary(const Checker &c, Value lhs, Value rhs, SmallVectorImpl<Type> &out) {
  if (failed(sameElementType(c, {lhs, rhs})))
    return failure();
  auto dims = broadcastShapes(c, ranked(lhs).getShape(), ranked(rhs).getShape());
  if (failed(dims))
    return failure();
  out.push_back(tensorOf(*dims, ranked(lhs).getElementType()));
  return success();
}

/// Shared by attention and attention_grad.
FailureOr<RankedTensorType> attentionShape(const Checker &c, ValueRange qkv, int64_t heads, double scale) {
  for (Value v : qkv)
    if (ranked(v).getRank() != 3)
      return c.fail("expects [B, T, C] operands, got ", v.getType());
  auto t = sameShape(c, qkv, "q, k and v");
  if (failed(t))
    return failure();
  if (heads <= 0)
    return c.fail("heads must be positive, got ", heads);
  int64_t C = t->getShape()[2];
  if (!isDyn(C) && C % heads != 0)
    return c.fail("channels ", C, " are not divisible by heads ", heads);
  if (!std::isfinite(scale) || scale < 0.0)
    return c.fail("scale must be finite and >= 0 (0 means 1/sqrt(head_dim)), got ", scale);
  return *t;
}

/// Shared by cross_entropy and cross_entropy_grad. `classes` (optional): the class columns in front of the
/// padding (spak-pad-vocab), at least 1 and at most the logits' last dim.
LogicalResult checkLogitsTargets(const Checker &c, Value logits, Value targets, IntegerAttr classes) {
  auto lt = ranked(logits), tt = ranked(targets);
  if (classes) {
    int64_t n = classes.getInt(), V = lt.getRank() >= 1 ? lt.getShape().back() : ShapedType::kDynamic;
    if (n < 1 || (!isDyn(V) && n > V))
      return c.fail("classes = ", n, " must be in [1, ", V, "] (the logits' last dim)");
  }
  if (lt.getRank() < 1 || tt.getRank() != lt.getRank() - 1)
    return c.fail("targets must have the logits' shape without the class dimension: logits ",
                  shapeStr(lt.getShape()), ", targets ", shapeStr(tt.getShape()));
  if (failed(meetShapes(c, lt.getShape().drop_back(), tt.getShape(), "logits (without classes) and targets")))
    return failure();
  return success();
}

LogicalResult checkNormWeight(const Checker &c, RankedTensorType x, Value w, StringRef name) {
  auto wt = ranked(w);
  if (wt.getRank() != 1)
    return c.fail(name, " must be rank 1 [C], got ", w.getType());
  if (!meetDim(wt.getDimSize(0), x.getShape().back()))
    return c.fail(name, " has ", wt.getDimSize(0), " elements but the input has ",
                  x.getShape().back(), " channels");
  return success();
}

} // namespace

#define GET_OP_CLASSES
#include "spak/Dialect/Graph/GraphOps.cpp.inc"

#define CHECKER Checker c{loc, getOperationName()}

//===----------------------------------------------------------------------===//
// Forward ops
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                        SmallVectorImpl<Type> &out) {
  CHECKER;
  auto table = ranked(a.getTable()), ids = ranked(a.getIds());
  if (table.getRank() != 2)
    return c.fail("table must be rank 2 [V, C], got ", table);
  if (ids.getRank() < 1)
    return c.fail("ids must have rank >= 1, got ", ids);
  SmallVector<int64_t> dims(ids.getShape());
  dims.push_back(table.getDimSize(1));
  out.push_back(tensorOf(dims, table.getElementType()));
  return success();
}

LogicalResult PositionsOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                            SmallVectorImpl<Type> &out) {
  CHECKER;
  auto ids = ranked(a.getIds());
  if (ids.getRank() < 1)
    return c.fail("ids must have rank >= 1, got ", ids);
  out.push_back(tensorOf({ids.getShape().back()}, ids.getElementType()));
  return success();
}

LogicalResult AddOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                      SmallVectorImpl<Type> &out) {
  CHECKER;
  return binary(c, a.getLhs(), a.getRhs(), out);
}
LogicalResult SubOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                      SmallVectorImpl<Type> &out) {
  CHECKER;
  return binary(c, a.getLhs(), a.getRhs(), out);
}
LogicalResult MulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                      SmallVectorImpl<Type> &out) {
  CHECKER;
  return binary(c, a.getLhs(), a.getRhs(), out);
}

LogicalResult ScaleOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                        SmallVectorImpl<Type> &out) {
  CHECKER;
  if (!std::isfinite(a.getFactor().convertToDouble()))
    return c.fail("factor must be finite");
  return unary(c, a.getInput(), out);
}
LogicalResult ReluOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                       SmallVectorImpl<Type> &out) {
  CHECKER;
  return unary(c, a.getInput(), out);
}
LogicalResult GeluOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                       SmallVectorImpl<Type> &out) {
  CHECKER;
  return unary(c, a.getInput(), out);
}
LogicalResult ZerosLikeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                            SmallVectorImpl<Type> &out) {
  CHECKER;
  return unary(c, a.getInput(), out);
}
LogicalResult DropoutOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                          SmallVectorImpl<Type> &out) {
  CHECKER;
  double p = a.getP().convertToDouble();
  if (!(p >= 0.0 && p < 1.0))
    return c.fail("p must be in [0, 1), got ", p);
  return unary(c, a.getInput(), out);
}

LogicalResult LinearOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                         SmallVectorImpl<Type> &out) {
  CHECKER;
  if (failed(sameElementType(c, {a.getInput(), a.getWeight(), a.getBias()})))
    return failure();
  auto x = ranked(a.getInput()), w = ranked(a.getWeight());
  if (x.getRank() < 1)
    return c.fail("input must have rank >= 1 [..., K], got ", x);
  if (w.getRank() != 2)
    return c.fail("weight must be rank 2 [N, K], got ", w);
  if (!meetDim(x.getShape().back(), w.getDimSize(1)))
    return c.fail("input has K = ", x.getShape().back(), " features but the weight [N, K] has K = ",
                  w.getDimSize(1));
  int64_t N = w.getDimSize(0);
  if (Value b = a.getBias()) {
    auto bt = ranked(b);
    if (bt.getRank() != 1)
      return c.fail("bias must be rank 1 [N], got ", bt);
    auto n = meetDim(N, bt.getDimSize(0));
    if (!n)
      return c.fail("bias has ", bt.getDimSize(0), " elements but the weight has N = ", N, " rows");
    N = *n;
  }
  SmallVector<int64_t> dims(x.getShape().drop_back());
  dims.push_back(N);
  out.push_back(tensorOf(dims, x.getElementType()));
  return success();
}

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                         SmallVectorImpl<Type> &out) {
  CHECKER;
  if (failed(sameElementType(c, {a.getLhs(), a.getRhs()})))
    return failure();
  auto l = ranked(a.getLhs()), r = ranked(a.getRhs());
  if (l.getRank() < 2 || r.getRank() < 2)
    return c.fail("operands must have rank >= 2, got ", l, " and ", r);
  ArrayRef<int64_t> ls = l.getShape(), rs = r.getShape();
  int64_t M = ls[ls.size() - 2], K1 = ls.back();
  if (a.getTransposeA())
    std::swap(M, K1);
  int64_t K2 = rs[rs.size() - 2], N = rs.back();
  if (a.getTransposeB())
    std::swap(K2, N);
  if (!meetDim(K1, K2))
    return c.fail("contraction sizes differ: lhs gives K = ", K1, ", rhs gives K = ", K2);
  auto batch = broadcastShapes(c, ls.drop_back(2), rs.drop_back(2));
  if (failed(batch))
    return failure();
  SmallVector<int64_t> dims(*batch);
  dims.push_back(M);
  dims.push_back(N);
  out.push_back(tensorOf(dims, l.getElementType()));
  return success();
}

LogicalResult RmsNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                          SmallVectorImpl<Type> &out) {
  CHECKER;
  if (failed(positiveFinite(c, a.getEps().convertToDouble(), "eps")))
    return failure();
  if (ranked(a.getInput()).getRank() < 1)
    return c.fail("input must have rank >= 1");
  return unary(c, a.getInput(), out);
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                            SmallVectorImpl<Type> &out) {
  CHECKER;
  if (failed(positiveFinite(c, a.getEps().convertToDouble(), "eps")) ||
      failed(sameElementType(c, {a.getInput(), a.getWeight(), a.getBias()})))
    return failure();
  auto x = ranked(a.getInput());
  if (x.getRank() < 1)
    return c.fail("input must have rank >= 1");
  if (failed(checkNormWeight(c, x, a.getWeight(), "weight")) ||
      failed(checkNormWeight(c, x, a.getBias(), "bias")))
    return failure();
  out.push_back(x);
  return success();
}

LogicalResult SoftmaxOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                          SmallVectorImpl<Type> &out) {
  CHECKER;
  if (failed(normAxis(c, (int64_t)a.getAxis(), ranked(a.getInput()).getRank())))
    return failure();
  return unary(c, a.getInput(), out);
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                            SmallVectorImpl<Type> &out) {
  CHECKER;
  auto t = attentionShape(c, {a.getQ(), a.getK(), a.getV()}, (int64_t)a.getHeads(),
                          a.getScaleAttr() ? a.getScale().convertToDouble() : 0.0);
  if (failed(t))
    return failure();
  out.push_back(*t);
  return success();
}

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                               SmallVectorImpl<Type> &out) {
  CHECKER;
  if (failed(checkLogitsTargets(c, a.getLogits(), a.getTargets(), a.getClassesAttr())))
    return failure();
  out.push_back(tensorOf({}, ranked(a.getLogits()).getElementType()));
  return success();
}

LogicalResult ReshapeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                          SmallVectorImpl<Type> &out) {
  CHECKER;
  auto x = ranked(a.getInput());
  ArrayRef<int64_t> shape = a.getShape();
  int inferredAt = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferredAt >= 0)
        return c.fail("shape ", shapeStr(shape), " has more than one -1");
      inferredAt = (int)i;
    } else if (shape[i] <= 0) {
      return c.fail("shape entries must be positive or -1, got ", shape[i]);
    } else {
      known *= shape[i];
    }
  }
  SmallVector<int64_t> dims(shape);
  if (x.hasStaticShape()) {
    int64_t n = x.getNumElements();
    if (inferredAt >= 0) {
      if (n % known != 0)
        return c.fail("cannot reshape ", shapeStr(x.getShape()), " (", n, " elements) to ",
                      shapeStr(shape));
      dims[inferredAt] = n / known;
    } else if (n != known) {
      return c.fail("cannot reshape ", shapeStr(x.getShape()), " (", n, " elements) to ",
                    shapeStr(shape), " (", known, " elements)");
    }
  } else if (inferredAt >= 0) {
    dims[inferredAt] = kDyn;
  }
  out.push_back(tensorOf(dims, x.getElementType()));
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                            SmallVectorImpl<Type> &out) {
  CHECKER;
  auto x = ranked(a.getInput());
  ArrayRef<int64_t> perm = a.getPerm();
  if ((int64_t)perm.size() != x.getRank())
    return c.fail("perm has ", perm.size(), " entries for an input of rank ", x.getRank());
  SmallVector<bool> seen(perm.size(), false);
  SmallVector<int64_t> dims;
  for (int64_t p : perm) {
    if (p < 0 || p >= x.getRank() || seen[p])
      return c.fail("perm ", shapeStr(perm), " is not a permutation of [0, ", x.getRank(), ")");
    seen[p] = true;
    dims.push_back(x.getDimSize(p));
  }
  out.push_back(tensorOf(dims, x.getElementType()));
  return success();
}

LogicalResult SplitOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                        SmallVectorImpl<Type> &out) {
  CHECKER;
  auto x = ranked(a.getInput());
  int64_t parts = (int64_t)a.getParts();
  if (parts < 1)
    return c.fail("parts must be >= 1, got ", parts);
  auto axis = normAxis(c, (int64_t)a.getAxis(), x.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> dims(x.getShape());
  if (!isDyn(dims[*axis])) {
    if (dims[*axis] % parts != 0)
      return c.fail("dimension ", *axis, " of size ", dims[*axis], " is not divisible into ", parts,
                    " parts");
    dims[*axis] /= parts;
  }
  for (int64_t i = 0; i < parts; ++i)
    out.push_back(tensorOf(dims, x.getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                         SmallVectorImpl<Type> &out) {
  CHECKER;
  if (a.getInputs().empty())
    return c.fail("needs at least one input");
  auto t = sameShape(c, a.getInputs(), "inputs");
  if (failed(t))
    return failure();
  auto axis = normAxis(c, (int64_t)a.getAxis(), t->getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> dims(t->getShape());
  if (!isDyn(dims[*axis]))
    dims[*axis] *= (int64_t)a.getInputs().size();
  out.push_back(tensorOf(dims, t->getElementType()));
  return success();
}

/// Normalized, duplicate-free axes; empty means all axes.
static FailureOr<SmallVector<int64_t>> reductionAxes(const Checker &c, ArrayRef<int64_t> axes,
                                                     int64_t rank) {
  SmallVector<int64_t> out;
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i)
      out.push_back(i);
    return out;
  }
  for (int64_t ax : axes) {
    auto n = normAxis(c, ax, rank);
    if (failed(n))
      return failure();
    if (llvm::is_contained(out, *n))
      return c.fail("axis ", ax, " is repeated");
    out.push_back(*n);
  }
  llvm::sort(out);
  return out;
}

LogicalResult ReduceSumOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                            SmallVectorImpl<Type> &out) {
  CHECKER;
  auto x = ranked(a.getInput());
  auto axes = reductionAxes(c, a.getAxes(), x.getRank());
  if (failed(axes))
    return failure();
  SmallVector<int64_t> dims;
  for (int64_t i = 0; i < x.getRank(); ++i) {
    if (!llvm::is_contained(*axes, i))
      dims.push_back(x.getDimSize(i));
    else if (a.getKeepdims())
      dims.push_back(1);
  }
  out.push_back(tensorOf(dims, x.getElementType()));
  return success();
}

LogicalResult BroadcastLikeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                                SmallVectorImpl<Type> &out) {
  CHECKER;
  auto x = ranked(a.getInput()), like = ranked(a.getLike());
  if (a.getAxes().empty())
    return c.fail("axes must not be empty");
  auto axes = reductionAxes(c, a.getAxes(), like.getRank());
  if (failed(axes))
    return failure();
  bool keep = x.getRank() == like.getRank();
  if (!keep && x.getRank() != like.getRank() - (int64_t)axes->size())
    return c.fail("input rank ", x.getRank(), " must be the rank of `like` (", like.getRank(),
                  ") with or without the ", axes->size(), " broadcast axes");
  SmallVector<int64_t> dims;
  int64_t j = 0;
  for (int64_t i = 0; i < like.getRank(); ++i) {
    bool isAxis = llvm::is_contained(*axes, i);
    if (isAxis) {
      if (keep && x.getDimSize(i) != 1)
        return c.fail("input dimension ", i, " must be 1 (a broadcast axis), got ", x.getDimSize(i));
      dims.push_back(like.getDimSize(i));
      j += keep;
      continue;
    }
    auto d = meetDim(x.getDimSize(j), like.getDimSize(i));
    if (!d)
      return c.fail("input ", shapeStr(x.getShape()), " does not match `like` ",
                    shapeStr(like.getShape()), " outside the broadcast axes");
    dims.push_back(*d);
    ++j;
  }
  out.push_back(tensorOf(dims, x.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Backward ops
//===----------------------------------------------------------------------===//

LogicalResult ReluGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                           SmallVectorImpl<Type> &out) {
  CHECKER;
  auto t = sameShape(c, {a.getGrad(), a.getInput()}, "grad and input");
  if (failed(t))
    return failure();
  out.push_back(*t);
  return success();
}

LogicalResult GeluGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                           SmallVectorImpl<Type> &out) {
  CHECKER;
  auto t = sameShape(c, {a.getGrad(), a.getInput()}, "grad and input");
  if (failed(t))
    return failure();
  out.push_back(*t);
  return success();
}

LogicalResult RmsNormGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                              SmallVectorImpl<Type> &out) {
  CHECKER;
  if (failed(positiveFinite(c, a.getEps().convertToDouble(), "eps")))
    return failure();
  auto t = sameShape(c, {a.getGrad(), a.getInput()}, "grad and input");
  if (failed(t))
    return failure();
  if (t->getRank() < 1)
    return c.fail("input must have rank >= 1");
  out.push_back(*t);
  return success();
}

LogicalResult LayerNormGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                                SmallVectorImpl<Type> &out) {
  CHECKER;
  if (failed(positiveFinite(c, a.getEps().convertToDouble(), "eps")) ||
      failed(sameElementType(c, {a.getGrad(), a.getInput(), a.getWeight()})))
    return failure();
  auto t = sameShape(c, {a.getGrad(), a.getInput()}, "grad and input");
  if (failed(t))
    return failure();
  if (t->getRank() < 1)
    return c.fail("input must have rank >= 1");
  if (failed(checkNormWeight(c, *t, a.getWeight(), "weight")))
    return failure();
  int64_t C = *meetDim(t->getShape().back(), ranked(a.getWeight()).getDimSize(0));
  auto wt = tensorOf({C}, t->getElementType());
  out.append({*t, wt, wt});
  return success();
}

LogicalResult SoftmaxGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                              SmallVectorImpl<Type> &out) {
  CHECKER;
  auto t = sameShape(c, {a.getGrad(), a.getOutput()}, "grad and output");
  if (failed(t) || failed(normAxis(c, (int64_t)a.getAxis(), t->getRank())))
    return failure();
  out.push_back(*t);
  return success();
}

LogicalResult AttentionGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                                SmallVectorImpl<Type> &out) {
  CHECKER;
  auto t = attentionShape(c, {a.getGrad(), a.getQ(), a.getK(), a.getV()}, (int64_t)a.getHeads(),
                          a.getScaleAttr() ? a.getScale().convertToDouble() : 0.0);
  if (failed(t))
    return failure();
  out.append({*t, *t, *t});
  return success();
}

LogicalResult CrossEntropyGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                   Adaptor a, SmallVectorImpl<Type> &out) {
  CHECKER;
  if (failed(sameElementType(c, {a.getGrad(), a.getLogits()})) ||
      failed(checkLogitsTargets(c, a.getLogits(), a.getTargets(), a.getClassesAttr())))
    return failure();
  out.push_back(ranked(a.getLogits()));
  return success();
}

LogicalResult EmbedGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                            SmallVectorImpl<Type> &out) {
  CHECKER;
  auto g = ranked(a.getGrad()), ids = ranked(a.getIds());
  int64_t vocab = (int64_t)a.getVocab();
  if (vocab <= 0)
    return c.fail("vocab must be positive, got ", vocab);
  if (ids.getRank() < 1 || g.getRank() != ids.getRank() + 1)
    return c.fail("grad must have the ids' shape plus a channel dimension: grad ",
                  shapeStr(g.getShape()), ", ids ", shapeStr(ids.getShape()));
  if (failed(meetShapes(c, g.getShape().drop_back(), ids.getShape(), "grad (without channels) and ids")))
    return failure();
  out.push_back(tensorOf({vocab, g.getShape().back()}, g.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Optimizer ops
//===----------------------------------------------------------------------===//

LogicalResult AdamOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                       SmallVectorImpl<Type> &out) {
  CHECKER;
  auto t = sameShape(c, {a.getParam(), a.getGrad(), a.getM(), a.getV()}, "param, grad, m and v");
  if (failed(t))
    return failure();
  auto stepT = cast<RankedTensorType>(a.getStep().getType());
  if (stepT.getRank() == 1 && stepT.getDimSize(0) != 2)
    return c.fail("step must be the rank-0 counter or the pair [step, total_steps] (2 elements), got ", stepT);
  double lr = a.getLr().convertToDouble(), b1 = a.getBeta1().convertToDouble(),
         b2 = a.getBeta2().convertToDouble(), wd = a.getWeightDecay().convertToDouble(),
         minLr = a.getMinLr().convertToDouble();
  if (!(lr >= 0.0) || !std::isfinite(lr))
    return c.fail("lr must be finite and >= 0, got ", lr);
  if (!(b1 >= 0.0 && b1 < 1.0) || !(b2 >= 0.0 && b2 < 1.0))
    return c.fail("beta1 and beta2 must be in [0, 1), got ", b1, " and ", b2);
  if (failed(positiveFinite(c, a.getEps().convertToDouble(), "eps")))
    return failure();
  if (!(wd >= 0.0) || !std::isfinite(wd))
    return c.fail("weight_decay must be finite and >= 0, got ", wd);
  if (!(minLr >= 0.0) || !std::isfinite(minLr))
    return c.fail("min_lr must be finite and >= 0, got ", minLr);
  StringRef sched = a.getSchedule();
  int64_t warmup = (int64_t)a.getWarmup(), total = (int64_t)a.getTotalSteps();
  if (sched != "constant" && sched != "linear_decay" && sched != "cosine")
    return c.fail("schedule must be \"constant\", \"linear_decay\" or \"cosine\", got \"", sched, "\"");
  if (warmup < 0)
    return c.fail("warmup must be >= 0, got ", warmup);
  if (sched != "constant" && total <= 0)
    return c.fail("schedule \"", sched, "\" needs total_steps > 0");
  if (sched == "cosine" && total <= warmup)
    return c.fail("schedule \"cosine\" needs total_steps (", total, ") > warmup (", warmup, ")");
  out.append({*t, *t, *t});
  return success();
}

LogicalResult ClipGradNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor a,
                                               SmallVectorImpl<Type> &out) {
  CHECKER;
  if (a.getGrads().empty())
    return c.fail("needs at least one gradient");
  if (failed(sameElementType(c, a.getGrads())) ||
      failed(positiveFinite(c, a.getMaxNorm().convertToDouble(), "max_norm")))
    return failure();
  for (Value g : a.getGrads())
    out.push_back(g.getType());
  out.push_back(tensorOf({}, ranked(a.getGrads().front()).getElementType()));
  return success();
}
