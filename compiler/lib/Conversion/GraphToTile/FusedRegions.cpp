//===- FusedRegions.cpp - lowering of fused regions to single kernels -----===//
//
// The fusion side of spak-lower-graph-to-tile (registered through
// populateFusedRegionLowerings, see Lowering.h). Every `spak_graph.fused`
// region becomes ONE spak_tile.kernel and one launch (softmax_xent: two, the
// second a tiny in-order sum of the first's partials):
//
//   norm_linear        rmsnorm prologue + k-loop of every linear of the region:
//                      r = (mean(x²) + eps)^-1/2 per row, once per program,
//                      applied to each A tile as it is loaded; one A tile
//                      feeds the mma of every linear (q, k, v share loads)
//   linear_bias_gelu   matmul; epilogue bias, [store pre-activation], gelu
//   linear_residual    matmul; epilogue bias, [store pre-activation], + residual
//   matmul_gelu_grad   matmul dy · w (w [K, N], read as b); epilogue · gelu'(x)
//   softmax_xent       one program per row tile: online (max, Σexp) per row,
//                      then one pass writing dlogits = g (softmax - onehot) / N
//                      and the tile's loss sum into partials; a second kernel
//                      (fused_softmax_xent_sum) adds them in order
//                      (deterministic, no atomics)
//   multi_tensor_adam  one flat program per block of elements, unrolled over
//                      the tensor list (masked past each tensor's end)
//
// and the two attention variants chosen by spak-fuse-attention:
//   attention {spak.fusion}       the built-in flash kernel, tagged with the rule
//   attention {spak.unfused}      scores (q kᵀ, masked), softmax, p v: three kernels
//   attention_grad {spak.fusion}  the built-in kernel, tagged with the rule
//
// Every kernel made here carries `spak.fusion = {kind, rule, rule_loc}` and
// names the rule in its `math` comment. The planning passes (laws, extents,
// floor) annotate the ops inside a region body; the lowering reads them there.
// Graph ops are read through the generic Operation API by name, like the rest
// of the lowering.
//
//===----------------------------------------------------------------------===//
#include "spak/Conversion/GraphToTile/Lowering.h"
#include "spak/Rules/Laws.h"

#include "llvm/Support/FormatVariadic.h"

#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <map>
#include <optional>

using namespace mlir;
using namespace spak;
using namespace spak::tile;

namespace {

constexpr StringLiteral kFusionAttr = "spak.fusion";
constexpr StringLiteral kUnfusedAttr = "spak.unfused";

//===----------------------------------------------------------------------===//
// Reading a region
//===----------------------------------------------------------------------===//

/// The parts of a fused op the lowering reads.
struct Region {
  Operation *op;
  StringRef kind, rule, ruleLoc;
  Block *body;
  SmallVector<Operation *> ops; // body without the terminator
  Operation *yield;

  static FailureOr<Region> read(Operation *op) {
    Region r;
    r.op = op;
    auto kind = op->getAttrOfType<StringAttr>("kind");
    auto rule = op->getAttrOfType<StringAttr>("rule");
    if (!kind || !rule || op->getNumRegions() != 1 || !op->getRegion(0).hasOneBlock())
      return op->emitError("malformed fused region (needs 'kind', 'rule' and one body block)");
    r.kind = kind.getValue();
    r.rule = rule.getValue();
    if (auto loc = op->getAttrOfType<StringAttr>("rule_loc"))
      r.ruleLoc = loc.getValue();
    r.body = &op->getRegion(0).front();
    for (Operation &o : *r.body)
      r.ops.push_back(&o);
    if (r.ops.empty())
      return op->emitError("fused region has an empty body");
    r.yield = r.ops.pop_back_val();
    if (r.body->getNumArguments() != op->getNumOperands() ||
        r.yield->getNumOperands() != op->getNumResults())
      return op->emitError("fused region body does not match its operands/results");
    return r;
  }

  /// The region operand behind body value `v` (a block argument), or null.
  Value outer(Value v) const {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != body)
      return {};
    return op->getOperand(arg.getArgNumber());
  }
  /// The region result that yields body value `v` (first one), or null.
  Value resultOf(Value v) const {
    for (auto [i, y] : llvm::enumerate(yield->getOperands()))
      if (y == v)
        return op->getResult(i);
    return {};
  }
  static bool is(Operation *o, StringRef name) {
    return o && o->getName().getStringRef() == ("spak_graph." + name).str();
  }
  std::string suffix() const {
    std::string s = ("  [fused by rule \"" + rule + "\"").str();
    if (!ruleLoc.empty())
      s += (" (" + ruleLoc + ")").str();
    return s + "]";
  }
};

/// Planning attributes of an op inside a region body.
FailureOr<ConfigAttr> configOf(Operation *inner) {
  auto c = inner->getAttrOfType<ConfigAttr>(rules::kTileConfigAttr);
  if (!c)
    return inner->emitError("has no spak.tile_config; run --spak-apply-laws first (or the "
                            "spak-graph-to-tile pipeline)");
  return c;
}
FailureOr<ExtentAttr> extentOf(Operation *inner, StringRef name) {
  auto dict = inner->getAttrOfType<DictionaryAttr>(rules::kExtentsAttr);
  if (!dict)
    return inner->emitError("has no spak.extents; run --spak-pow2-masking first (or the "
                            "spak-graph-to-tile pipeline)");
  auto e = dyn_cast_or_null<ExtentAttr>(dict.get(name));
  if (!e)
    return inner->emitError("spak.extents lacks '") << name << "'";
  return e;
}
FailureOr<LawAttr> floorOf(Operation *inner) {
  auto f = inner->getAttrOfType<LawAttr>(rules::kFloorAttr);
  if (!f)
    return inner->emitError("has no spak.floor; run --spak-stability-floor first (or the "
                            "spak-graph-to-tile pipeline)");
  return f;
}
double floatAttrOf(Operation *o, StringRef name, double fallback) {
  Attribute a = o->getAttr(name);
  if (auto f = dyn_cast_or_null<FloatAttr>(a))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(a))
    return static_cast<double>(i.getInt());
  return fallback;
}

void tagKernel(KernelOp kernel, StringRef kind, StringRef rule, StringRef ruleLoc) {
  Builder b(kernel.getContext());
  kernel->setAttr(kFusionAttr, b.getDictionaryAttr({b.getNamedAttr("kind", b.getStringAttr(kind)),
                                                    b.getNamedAttr("rule", b.getStringAttr(rule)),
                                                    b.getNamedAttr("rule_loc", b.getStringAttr(ruleLoc))}));
}

/// Sets the insertion point into `kernel`'s body for the scope of the guard.
struct InKernel {
  OpBuilder::InsertionGuard guard;
  Block *body;
  KernelBuilder k;
  InKernel(Lowering &L, KernelOp kernel)
      : guard(L.b), body(&kernel.getBody().front()), k{L.b, L.loc()} {
    L.b.setInsertionPointToStart(body);
  }
  Value arg(unsigned i) { return body->getArgument(i); }
};

//===----------------------------------------------------------------------===//
// Matmul regions: norm_linear, linear_bias_gelu, linear_residual, matmul_gelu_grad
//===----------------------------------------------------------------------===//

enum class Epilogue { None, Gelu, Residual, GeluGrad };

/// One linear of a matmul region, as host buffers.
struct LinearPart {
  Value weight, bias; // bias: [1, N] view or null
  Value out;          // [M, N] view of the result buffer
  bool transposed = true; // weight [N, K] (a linear's, read as b^T); false: [K, N] (a matmul's dy · w)
};

/// Emits the one kernel of a matmul region: y_i = epilogue(prologue(x) · w_iᵀ + b_i).
LogicalResult emitMatmulRegion(Lowering &L, const Region &R, Operation *firstLinear, StringRef base,
                               StringRef math, Value x2d, ArrayRef<LinearPart> parts,
                               std::optional<double> normEps, Epilogue epi, Value residual,
                               Value preOut) {
  FailureOr<ConfigAttr> cfg = configOf(firstLinear);
  FailureOr<ExtentAttr> em = extentOf(firstLinear, "m"), en = extentOf(firstLinear, "n"),
                        ek = extentOf(firstLinear, "k");
  if (failed(cfg) || failed(em) || failed(en) || failed(ek))
    return failure();
  int64_t tm = em->getTile(), tn = en->getTile(), tk = ek->getTile(), kSize = ek->getSize();
  SmallVector<Value> args = {x2d};
  for (const LinearPart &p : parts) {
    args.push_back(p.weight);
    if (p.bias)
      args.push_back(p.bias);
  }
  if (residual)
    args.push_back(residual);
  for (const LinearPart &p : parts)
    args.push_back(p.out);
  if (preOut)
    args.push_back(preOut);
  std::string full = (math + R.suffix()).str();
  KernelOp kernel = L.newKernel(base, args, {ceilDivStr("M", tm), ceilDivStr("N", tn)}, full, *cfg);
  tagKernel(kernel, R.kind, R.rule, R.ruleLoc);
  {
    InKernel in(L, kernel);
    KernelBuilder &k = in.k;
    unsigned a = 0;
    Value X = in.arg(a++);
    SmallVector<Value> W, B;
    for (const LinearPart &p : parts) {
      W.push_back(in.arg(a++));
      B.push_back(p.bias ? in.arg(a++) : Value());
    }
    Value Res = residual ? in.arg(a++) : Value();
    SmallVector<Value> Y;
    for (size_t i = 0; i < parts.size(); ++i)
      Y.push_back(in.arg(a++));
    Value Pre = preOut ? in.arg(a++) : Value();

    Value m0 = k.mul(k.pid(0), tm), n0 = k.mul(k.pid(1), tn);
    Value M = k.dim(Y[0], 0), N = k.dim(Y[0], 1), K = k.dim(X, 1), zero = k.idx(0);
    bool tb = parts.front().transposed;  // every part reads its weight the same way (one region kind)
    TileType accT = k.f32({tm, tn}), aT = k.f32({tm, tk}, MemorySpace::smem),
             bT = tb ? k.f32({tn, tk}, MemorySpace::smem) : k.f32({tk, tn}, MemorySpace::smem),
             colT = k.f32({tm, 1});
    LawAttr stages = cfg->getLaw("stages");
    bool maskA = em->needsMask() || ek->needsMask(), maskB = en->needsMask() || ek->needsMask();
    // Pipelined A tiles are staged in shared memory; the prologue's reads are plain.
    auto loadA = [&](Value k0, bool pipelined) {
      TileType t = pipelined ? aT : k.f32({tm, tk});
      Value mask = maskA ? k.bounds(t, {m0, k0}, {M, K}) : Value();
      return pipelined ? k.load(t, X, {m0, k0}, mask, stages, L.b.getI64IntegerAttr(0))
                       : k.load(t, X, {m0, k0}, mask);
    };

    // Prologue: the row scale r = (mean_k x² + eps)^-1/2, once per row tile.
    Value scale;
    if (normEps) {
      auto ss = k.loop(zero, K, k.idx(tk), {k.splat(colT, 0.0)}, [&](Value k0, ValueRange it) {
        Value x = loadA(k0, /*pipelined=*/false);
        Value sq = k.reduce(ReduceKind::sum, k.mulT(x, x), 1);
        return SmallVector<Value>{k.addT(it[0], sq)};
      });
      Value ms = k.mulT(ss.getResult(0), k.splat(colT, 1.0 / static_cast<double>(kSize)));
      scale = k.rsqrt(k.addT(ms, k.splat(colT, *normEps)));
    }

    // Main loop: one A tile (scaled as it is loaded) feeds every linear's mma.
    SmallVector<Value> init(parts.size(), k.splat(accT, 0.0));
    auto loop = k.loop(zero, K, k.idx(tk), init, [&](Value k0, ValueRange accs) {
      Value aTile = loadA(k0, /*pipelined=*/true);
      if (scale)
        aTile = k.mulT(aTile, k.bcast(scale, aT));
      SmallVector<Value> next;
      for (size_t i = 0; i < parts.size(); ++i) {
        Value bMask = !maskB ? Value() : tb ? k.bounds(bT, {n0, k0}, {N, K}) : k.bounds(bT, {k0, n0}, {K, N});
        Value bTile = tb ? k.load(bT, W[i], {n0, k0}, bMask, stages, L.b.getI64IntegerAttr(0))
                         : k.load(bT, W[i], {k0, n0}, bMask, stages, L.b.getI64IntegerAttr(0));
        next.push_back(k.mma(accT, aTile, bTile, accs[i], false, tb));
      }
      return next;
    });

    Value cMask = (em->needsMask() || en->needsMask()) ? k.bounds(accT, {m0, n0}, {M, N}) : Value();
    for (size_t i = 0; i < parts.size(); ++i) {
      Value y = loop.getResult(i);
      if (B[i]) {
        TileType biasT = k.f32({1, tn});
        Value bm = en->needsMask() ? k.bounds(biasT, {zero, n0}, {k.idx(1), N}) : Value();
        y = k.addT(y, k.bcast(k.load(biasT, B[i], {zero, n0}, bm), accT));
      }
      if (Pre)
        k.store(y, Pre, {m0, n0}, cMask);
      if (epi == Epilogue::Gelu)
        y = k.gelu(y, accT);
      else if (epi == Epilogue::Residual)
        y = k.addT(y, k.load(accT, Res, {m0, n0}, cMask));
      else if (epi == Epilogue::GeluGrad)  // Res: gelu's input x
        y = k.mulT(y, k.geluDeriv(k.load(accT, Res, {m0, n0}, cMask), accT));
      k.store(y, Y[i], {m0, n0}, cMask);
    }
    k.ret();
  }
  Value out0 = parts.front().out;
  auto outT = cast<BufferType>(out0.getType());
  Value gridN = outT.isDynamicDim(1) ? L.gridFromDim(out0, 1, tn)
                                     : L.hostIdx((outT.getShape()[1] + tn - 1) / tn);
  L.launch(kernel, {L.gridFromDim(out0, 0, tm), gridN}, args);
  return success();
}

/// Host buffers of one linear op of the body (operands mapped to the region's).
FailureOr<LinearPart> linearPart(Lowering &L, const Region &R, Operation *lin, Value result) {
  Value w = R.outer(lin->getOperand(1));
  auto wT = L.rtype(w);
  if (!w || !wT || wT.getRank() != 2)
    return lin->emitError("fused linear needs a rank-2 weight [N, K] that is a region operand");
  LinearPart p;
  p.weight = L.buf(w);
  if (lin->getNumOperands() == 3) {
    Value b = R.outer(lin->getOperand(2));
    auto bT = b ? L.rtype(b) : RankedTensorType();
    if (!bT || bT.getRank() != 1 || bT.getShape()[0] != wT.getShape()[0])
      return lin->emitError("fused linear bias must be [") << wT.getShape()[0] << "]";
    p.bias = L.view(L.buf(b), {1, wT.getShape()[0]});
  }
  FailureOr<Value> y = L.allocFor(result);
  if (failed(y))
    return failure();
  p.out = L.rows2D(*y);
  return p;
}

LogicalResult lowerNormLinear(Lowering &L, const Region &R) {
  Operation *norm = R.ops.front();
  if (!Region::is(norm, "rmsnorm") || R.ops.size() < 2 || !R.outer(norm->getOperand(0)))
    return R.op->emitError("norm_linear region must start with rmsnorm of a region operand");
  Value x = R.outer(norm->getOperand(0));
  SmallVector<LinearPart> parts;
  for (Operation *lin : ArrayRef<Operation *>(R.ops).drop_front()) {
    Value res = R.resultOf(lin->getResult(0));
    if (!Region::is(lin, "linear") || lin->getOperand(0) != norm->getResult(0) || !res)
      return lin->emitError("norm_linear region: expected a yielded linear of the norm");
    FailureOr<LinearPart> p = linearPart(L, R, lin, res);
    if (failed(p))
      return failure();
    if (!parts.empty() && cast<BufferType>(p->out.getType()).getShape()[1] !=
                              cast<BufferType>(parts[0].out.getType()).getShape()[1])
      return lin->emitError("norm_linear region: linears must share one output width");
    parts.push_back(*p);
  }
  double eps = floatAttrOf(norm, "eps", 1e-5);
  std::string names;
  for (size_t i = 0; i < parts.size(); ++i)
    names += llvm::formatv("{0}y{1}[m, n] = sum_k x[m, k] * r[m] * w{1}[n, k]{2}", i ? "; " : "", i,
                           parts[i].bias ? llvm::formatv(" + b{0}[n]", i).str() : "")
                 .str();
  std::string math = llvm::formatv("r[m] = rsqrt(mean_k x[m, k]^2 + {0}); {1}", fmtNum(eps), names).str();
  return emitMatmulRegion(L, R, R.ops[1], "fused_norm_linear", math, L.rows2D(L.buf(x)), parts, eps,
                          Epilogue::None, Value(), Value());
}

LogicalResult lowerEpilogue(Lowering &L, const Region &R, Epilogue epi) {
  Operation *lin = R.ops.front();
  Operation *cons = R.ops.size() == 2 ? R.ops[1] : nullptr;
  if (!Region::is(lin, "linear") || !cons || !Region::is(cons, epi == Epilogue::Gelu ? "gelu" : "add"))
    return R.op->emitError("region '") << R.kind << "' must be a linear and its "
                                      << (epi == Epilogue::Gelu ? "gelu" : "add");
  Value x = R.outer(lin->getOperand(0));
  Value consRes = R.resultOf(cons->getResult(0));
  if (!x || !consRes)
    return R.op->emitError("region '") << R.kind << "' must read x from an operand and yield the "
                                      << cons->getName();
  FailureOr<LinearPart> p = linearPart(L, R, lin, consRes);
  if (failed(p))
    return failure();
  Value residual;
  if (epi == Epilogue::Residual) {
    Value y = lin->getResult(0);
    Value r = cons->getOperand(0) == y ? cons->getOperand(1) : cons->getOperand(0);
    Value outerR = R.outer(r);
    if (!outerR || L.rtype(outerR) != L.rtype(consRes))
      return R.op->emitError("residual must be a region operand of the result's type");
    residual = L.rows2D(L.buf(outerR));
  }
  Value preOut;
  if (Value pre = R.resultOf(lin->getResult(0))) {
    FailureOr<Value> buf = L.allocFor(pre);
    if (failed(buf))
      return failure();
    preOut = L.rows2D(*buf);
  }
  bool bias = static_cast<bool>(p->bias);
  std::string y = bias ? "sum_k x[m, k] * w[n, k] + b[n]" : "sum_k x[m, k] * w[n, k]";
  std::string math = epi == Epilogue::Gelu
                         ? llvm::formatv("pre[m, n] = {0}; y = 0.5 pre (1 + tanh(sqrt(2/pi) (pre + "
                                         "0.044715 pre^3))){1}",
                                         y, preOut ? " (pre stored)" : "")
                               .str()
                         : llvm::formatv("y[m, n] = {0} + res[m, n]{1}", y,
                                         preOut ? " (linear part stored)" : "")
                               .str();
  return emitMatmulRegion(L, R, lin, epi == Epilogue::Gelu ? "fused_linear_gelu" : "fused_linear_residual",
                          math, L.rows2D(L.buf(x)), {*p}, std::nullopt, epi, residual, preOut);
}

/// matmul_gelu_grad: dx = (dy · w) gelu'(x), the data gradient through a linear that a gelu feeds.
LogicalResult lowerGeluGradEpilogue(Lowering &L, const Region &R) {
  Operation *mm = R.ops.size() == 2 ? R.ops[0] : nullptr, *gg = mm ? R.ops[1] : nullptr;
  if (!mm || !Region::is(mm, "matmul") || !Region::is(gg, "gelu_grad") || gg->getOperand(0) != mm->getResult(0))
    return R.op->emitError("region 'matmul_gelu_grad' must be a matmul and the gelu_grad of its result");
  Value dy = R.outer(mm->getOperand(0)), w = R.outer(mm->getOperand(1)), x = R.outer(gg->getOperand(1));
  Value res = R.resultOf(gg->getResult(0));
  auto wT = w ? L.rtype(w) : RankedTensorType();
  if (!dy || !x || !res || !wT || wT.getRank() != 2)
    return R.op->emitError("region 'matmul_gelu_grad' must read dy, a rank-2 w and x from operands and yield dx");
  LinearPart p;
  p.weight = L.buf(w);
  p.transposed = false;
  FailureOr<Value> out = L.allocFor(res);
  if (failed(out))
    return failure();
  p.out = L.rows2D(*out);
  std::string math = "h[m, n] = sum_k dy[m, k] * w[k, n]; u = sqrt(2/pi) (x + 0.044715 x^3); dx = h (0.5 (1 + "
                     "tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 0.134145 x^2))  (h not stored)";
  return emitMatmulRegion(L, R, mm, "fused_matmul_gelu_grad", math, L.rows2D(L.buf(dy)), {p}, std::nullopt,
                          Epilogue::GeluGrad, L.rows2D(L.buf(x)), Value());
}

//===----------------------------------------------------------------------===//
// softmax_xent: loss and dlogits in one kernel
//===----------------------------------------------------------------------===//

/// The value of a splat f32 `arith.constant` (the upstream gradient of a softmax_xent region), if `g` is one.
std::optional<double> xentSeedConstant(Value g) {
  auto c = g ? g.getDefiningOp<arith::ConstantOp>() : arith::ConstantOp();
  auto dense = c ? dyn_cast<DenseElementsAttr>(c.getValue()) : DenseElementsAttr();
  if (!dense || !dense.isSplat() || !dense.getElementType().isF32())
    return std::nullopt;
  return dense.getSplatValue<APFloat>().convertToDouble();
}

LogicalResult lowerSoftmaxXent(Lowering &L, const Region &R) {
  Operation *ce = R.ops.size() == 2 ? R.ops[0] : nullptr;
  Operation *grad = R.ops.size() == 2 ? R.ops[1] : nullptr;
  if (!Region::is(ce, "cross_entropy") || !Region::is(grad, "cross_entropy_grad"))
    return R.op->emitError("softmax_xent region must be cross_entropy then cross_entropy_grad");
  Value logits = R.outer(ce->getOperand(0)), targets = R.outer(ce->getOperand(1)),
        g = R.outer(grad->getOperand(0));
  Value lossRes = R.resultOf(ce->getResult(0)), dRes = R.resultOf(grad->getResult(0));
  if (!logits || !targets || !g || !lossRes || !dRes)
    return R.op->emitError("softmax_xent region must read region operands and yield (loss, dlogits)");
  FailureOr<ConfigAttr> cfg = configOf(ce);
  FailureOr<ExtentAttr> er = extentOf(ce, "rows"), ec = extentOf(ce, "cols");
  FailureOr<LawAttr> floor = floorOf(ce);
  if (failed(cfg) || failed(er) || failed(ec) || failed(floor))
    return failure();
  auto gT = L.rtype(g);
  if (!gT || product(gT.getShape()) != 1 || !gT.getElementType().isF32())
    return R.op->emitError("softmax_xent lowering needs an f32 scalar upstream gradient");
  int64_t rt = er->getTile(), cc = ec->getTile();
  // A constant upstream gradient (autodiff's seed dloss = 1) is folded into the kernel: no buffer, no fill
  // kernel (lowerTensorConstant skips a constant that only feeds this operand, isFoldedXentSeed).
  std::optional<double> gConst = xentSeedConstant(g);
  Value X = L.rows2D(L.buf(logits));
  Value Tg = L.flat(L.buf(targets));
  Tg = L.view(Tg, {cast<BufferType>(Tg.getType()).getShape()[0], 1});
  FailureOr<Value> loss = L.allocFor(lossRes);
  FailureOr<Value> dlogits = L.allocFor(dRes);
  if (failed(loss) || failed(dlogits))
    return failure();
  // Per-program loss partials [ceildiv(rows, rt), 1]: program i sums the losses of its row tile.
  int64_t rowsStatic = cast<BufferType>(X.getType()).getShape()[0];
  SmallVector<Value> sizes;
  if (ShapedType::isDynamic(rowsStatic))
    sizes.push_back(L.gridFromDim(X, 0, rt));
  int64_t tilesStatic = ShapedType::isDynamic(rowsStatic) ? ShapedType::kDynamic : (rowsStatic + rt - 1) / rt;
  Value partials = L.alloc({tilesStatic, 1}, L.b.getF32Type(), sizes);
  SmallVector<Value> args = {X, Tg};
  if (!gConst)
    args.push_back(L.view(L.buf(g), {1, 1}));
  args.append({partials, L.rows2D(*dlogits)});
  // With `classes` (spak-pad-vocab) the columns from `classes` on are vocabulary padding: outside the softmax
  // and the loss, dx = 0 there.
  std::optional<int64_t> classes = classesOf(ce);
  std::string gText = gConst ? fmtNum(*gConst) : std::string("g");
  std::string math = ("m, l = online max / sum exp of x[r, :]; loss = sum_r (log l[r] + m[r] - "
                      "x[r, t[r]]) / rows; dx[r, c] = " + gText +
                      " * (exp(x[r, c] - m[r]) / l[r] - [c == t[r]]) / "
                      "rows, as exp(x[r, c] - m[r]) * s[r] - [c == t[r]] * " + gText + " / rows with s[r] = " + gText +
                      " / rows / l[r] (one program per row tile writes its dx and its loss sum p[i]; "
                      "fused_softmax_xent_sum adds p in order: deterministic)" +
                      (gConst ? "; g = " + gText + " folded (constant seed)" : std::string()) +
                      (classes ? "; columns from " + std::to_string(*classes) +
                                     " on are vocabulary padding (rule pad_vocab): outside the softmax, dx = 0"
                               : std::string()) +
                      R.suffix());
  std::string grid = ceilDivStr("rows", rt);
  KernelOp kernel = L.newKernel("fused_softmax_xent", args, {grid}, math, *cfg);
  tagKernel(kernel, R.kind, R.rule, R.ruleLoc);
  {
    InKernel in(L, kernel);
    KernelBuilder &k = in.k;
    unsigned o = gConst ? 0 : 1; // the partials and dlogits follow g's buffer when there is one
    Value Xa = in.arg(0), Ta = in.arg(1), Pa = in.arg(2 + o), DX = in.arg(3 + o);
    Value Rn = k.dim(Xa, 0), C = k.dim(Xa, 1), zero = k.idx(0);
    Value tile = k.pid(0), r0 = k.mul(tile, rt);
    TileType oneT = k.f32({1, 1}), colT = k.f32({rt, 1}), chunkT = k.f32({rt, cc});
    TileType tgtT = k.i32({rt, 1}), chunkI = k.i32({rt, cc});
    Value rowsF = k.bcast(k.indexToF32(Rn), oneT);
    Value gv = gConst ? k.splat(oneT, *gConst) : k.load(oneT, in.arg(2), {zero, zero});
    Value coef = k.divT(gv, rowsF); // g / N
    Value K = classes ? k.idx(*classes) : C;
    auto [m, l] = emitOnlineMaxSum(k, Xa, r0, Rn, K, *er, *ec, rt, *floor, classes.has_value());
    Value rowMask = er->needsMask() ? k.bounds(tgtT, {r0, zero}, {Rn, k.idx(1)}) : Value();
    Value tgtB = k.bcast(k.load(tgtT, Ta, {r0, zero}, rowMask), chunkI);
    // dx = exp(x - m) * (coef / l) - coef * [c == t]: the row's scale divided once, one multiply per element.
    Value scale = k.divT(k.bcast(coef, colT), l);
    Value mB = k.bcast(m, chunkT), sB = k.bcast(scale, chunkT), coefB = k.bcast(coef, chunkT);
    // The target's logit is summed per element across the chunks (one nonzero per row: exact) and reduced over the
    // row once after the loop, so the loop exchanges nothing between threads.
    bool masked = er->needsMask() || ec->needsMask();
    auto body = [&](bool withMask, bool padCols) {
      return [&, withMask, padCols](Value c0, ValueRange picked) -> SmallVector<Value> {
        Value mask = withMask ? k.bounds(chunkT, {r0, c0}, {Rn, C}) : Value();
        Value x = k.load(chunkT, Xa, {r0, c0}, mask);
        if (!withMask)  // a whole chunk before the tail: in bounds by the loop's bound
          x.getDefiningOp()->setAttr("spak.in_bounds", UnitAttr::get(x.getContext()));
        Value c0i = arith::IndexCastOp::create(L.b, k.loc, L.b.getI32Type(), c0);
        Value cols = k.addT(IotaOp::create(L.b, k.loc, chunkI, 1), k.bcast(c0i, chunkI));
        Value hit = k.cmp(CmpPredicate::eq, cols, tgtB);
        Value d = k.subT(k.mulT(k.exp(k.subT(x, mB)), sB), k.select(hit, coefB, k.splat(chunkT, 0.0)));
        if (padCols)
          d = k.select(k.cmp(CmpPredicate::lt, cols, k.splatInt(chunkI, *classes)), d, k.splat(chunkT, 0.0));
        auto st = StoreOp::create(L.b, k.loc, d, DX, ValueRange{r0, c0}, mask);
        if (!withMask)
          st->setAttr("spak.in_bounds", UnitAttr::get(st.getContext()));
        return SmallVector<Value>{k.addT(picked[0], k.select(hit, x, k.splat(chunkT, 0.0)))};
      };
    };
    scf::ForOp colLoop;
    if ((masked || classes) && rowsInBounds(*er)) {
      // Full rows: the chunks before the last whole chunk of classes need neither the bounds nor the padding
      // select; the rest (the ragged end, the padding columns) one loop with them.
      Value whole = k.mul(k.divui(K, cc), cc);
      auto inner = k.loop(zero, whole, k.idx(cc), {k.splat(chunkT, 0.0)}, body(false, false));
      colLoop = k.loop(whole, C, k.idx(cc), inner.getResults(), body(masked, classes.has_value()));
    } else {
      colLoop = k.loop(zero, C, k.idx(cc), {k.splat(chunkT, 0.0)}, body(masked, classes.has_value()));
    }
    Value lossRow = k.subT(k.addT(k.log(l), m), k.reduce(ReduceKind::sum, colLoop.getResult(0), 1));
    if (er->needsMask()) {
      Value valid = k.bounds(colT, {r0, zero}, {Rn, k.idx(1)});
      lossRow = k.select(valid, lossRow, k.splat(colT, 0.0));
    }
    k.store(k.reduce(ReduceKind::sum, lossRow, 0), Pa, {tile, zero});
    k.ret();
  }
  L.launch(kernel, {L.gridFromDim(X, 0, rt)}, args);

  // Stage 2: one program adds the partials in order (chunks of kSoftmaxChunk), then divides by rows.
  SmallVector<Value> args2 = {partials, X, L.view(*loss, {1, 1})};
  std::string math2 = ("loss = sum_i p[i] / rows (p: the row-tile loss sums of fused_softmax_xent; one program, "
                       "in order: deterministic)" + R.suffix());
  KernelOp sum = L.newKernel("fused_softmax_xent_sum", args2, {"1"}, math2, *cfg);
  tagKernel(sum, R.kind, R.rule, R.ruleLoc);
  {
    InKernel in(L, sum);
    KernelBuilder &k = in.k;
    Value Pa = in.arg(0), Xa = in.arg(1), La = in.arg(2);
    Value P = k.dim(Pa, 0), Rn = k.dim(Xa, 0), zero = k.idx(0);
    int64_t chunk = rules::kSoftmaxChunk;
    TileType chunkT = k.f32({chunk, 1}), oneT = k.f32({1, 1});
    auto loop = k.loop(zero, P, k.idx(chunk), {k.splat(oneT, 0.0)}, [&](Value i0, ValueRange acc) {
      Value mask = k.bounds(chunkT, {i0, zero}, {P, k.idx(1)});
      Value v = k.load(chunkT, Pa, {i0, zero}, mask);
      return SmallVector<Value>{k.addT(acc[0], k.reduce(ReduceKind::sum, v, 0))};
    });
    Value rowsF = k.bcast(k.indexToF32(Rn), oneT);
    k.store(k.divT(loop.getResult(0), rowsF), La, {zero, zero});
    k.ret();
  }
  L.launch(sum, {L.hostIdx(1)}, args2);
  return success();
}

//===----------------------------------------------------------------------===//
// multi_tensor_adam: one kernel over the tensor list
//===----------------------------------------------------------------------===//

LogicalResult lowerMultiTensorAdam(Lowering &L, const Region &R) {
  if (R.ops.empty())
    return R.op->emitError("multi_tensor_adam region has no adam");
  Operation *first = R.ops.front();
  for (Operation *o : R.ops)
    if (!Region::is(o, "adam") || o->getNumOperands() != 5 || o->getNumResults() != 3)
      return o->emitError("multi_tensor_adam region may hold only adam ops");
  StringRef schedule = "constant";
  if (auto s = first->getAttrOfType<StringAttr>("schedule"))
    schedule = s.getValue();
  if (schedule != "constant" && schedule != "linear_decay" && schedule != "cosine")
    return R.op->emitError("unknown lr schedule '") << schedule << "'";
  double lr = floatAttrOf(first, "lr", 0), b1 = floatAttrOf(first, "beta1", 0.9),
         b2 = floatAttrOf(first, "beta2", 0.999), eps = floatAttrOf(first, "eps", 1e-8),
         wd = floatAttrOf(first, "weight_decay", 0);
  int64_t warmup = first->getAttrOfType<IntegerAttr>("warmup") ? first->getAttrOfType<IntegerAttr>("warmup").getInt() : 0;
  int64_t total = first->getAttrOfType<IntegerAttr>("total_steps")
                      ? first->getAttrOfType<IntegerAttr>("total_steps").getInt() : 0;
  if (schedule != "constant" && total <= 0)
    return R.op->emitError(schedule) << " needs total_steps > 0";
  double minLr = floatAttrOf(first, "min_lr", 0);
  if (!(b1 > 0 && b1 < 1) || !(b2 > 0 && b2 < 1))
    return R.op->emitError("adam betas must be in (0, 1)");
  Value step = R.outer(first->getOperand(4));
  auto stepT = step ? L.rtype(step) : RankedTensorType();
  if (!stepT || !stepT.getElementType().isInteger(32) ||
      !(stepT.getRank() == 0 || (stepT.getRank() == 1 && stepT.getDimSize(0) == 2)))
    return R.op->emitError("multi-tensor adam lowering needs an i32 step counter operand (rank 0, or the pair "
                           "[step, total_steps])");
  bool runTimeTotal = stepT.getRank() == 1;
  ConfigAttr cfg = first->getAttrOfType<ConfigAttr>(rules::kTileConfigAttr);
  if (!cfg)
    return first->emitError("has no spak.tile_config; run --spak-apply-laws first (or the "
                            "spak-graph-to-tile pipeline)");
  int64_t blk = elementwiseBlock(cfg);

  // Operands and (possibly in-place) results, as flat buffers.
  SmallVector<Value> args = {L.view(L.buf(step), {runTimeTotal ? 2 : 1})};
  SmallVector<int64_t> sizes;
  SmallVector<Value> outs;
  for (Operation *o : R.ops) {
    auto pT = L.rtype(R.outer(o->getOperand(0)));
    if (!pT || !pT.hasStaticShape() || !pT.getElementType().isF32())
      return o->emitError("multi-tensor adam lowering needs static f32 parameters");
    sizes.push_back(pT.getNumElements());
    for (unsigned i = 0; i < 4; ++i) {
      Value v = R.outer(o->getOperand(i));
      if (!v || L.rtype(v) != pT)
        return o->emitError("adam operand #") << i << " must be a region operand of the parameter's type";
      args.push_back(L.flat(L.buf(v)));
    }
    for (unsigned i = 0; i < 3; ++i) {
      Value res = R.resultOf(o->getResult(i));
      if (!res)
        return o->emitError("multi_tensor_adam region must yield every adam result");
      // Param, m and v are updated in place when the region is their last reader.
      Value src = R.outer(o->getOperand(i == 0 ? 0 : i + 1));
      if (L.isLastUse(src) && !llvm::is_contained(outs, L.flat(L.buf(src)))) {
        L.mapValue(res, L.buf(src));
        outs.push_back(L.flat(L.buf(src)));
      } else {
        FailureOr<Value> b = L.allocFor(res);
        if (failed(b))
          return failure();
        outs.push_back(L.flat(*b));
      }
    }
  }
  // One kernel per size class (numel in (2^(c-1), 2^c]): a program handles block i of every tensor of its class,
  // so a class wastes at most half its programs' sections on masked tails. One kernel for all (GPT-2: 148
  // tensors from 768 to 38.6M elements) ran every section in each of 75k programs, 4.2 ms for 1.2 ms of traffic.
  // Classes whose tensors need at most law min_ctas programs stay together in class 0: a launch of their own would
  // cost more than the masked sections it saves (MicroGPT's 4192 parameters: one kernel).
  tile::LawAttr minCtas = rules::lookupLaw(L.getModule(), "min_ctas");
  int64_t small = minCtas ? minCtas.getInt() * blk : 0;
  std::map<int64_t, SmallVector<size_t>, std::greater<int64_t>> classes;
  for (size_t j = 0; j < sizes.size(); ++j) {
    int64_t c = llvm::Log2_64_Ceil(static_cast<uint64_t>(std::max<int64_t>(sizes[j], 1)));
    classes[(int64_t(1) << c) <= small ? 0 : c].push_back(j);
  }
  // The schedule length: N = step[1], read on device (<= 0: the compiled total), or the compiled total.
  std::string totalText = runTimeTotal ? std::string("N") : std::to_string(total);
  std::string spanText = runTimeTotal ? llvm::formatv("(N - {0})", warmup).str() : std::to_string(total - warmup);
  std::string math =
      llvm::formatv("for each of {0} tensors: lr_s = {1}; m = {2} m + {3} g; v = {4} v + {5} g^2; "
                    "p = p{6} - lr_s (m / (1 - {2}^t)) / (sqrt(v / (1 - {4}^t)) + {7}), t = step + 1",
                    R.ops.size(),
                    schedule == "linear_decay" ? llvm::formatv("{0} (1 - step / {1})", fmtNum(lr), totalText).str()
                    : schedule == "cosine"
                        ? llvm::formatv("{0} + ({1} - {0}) (1 + cos(pi min(1, max(0, (step - {2}) / {3})))) / 2",
                                        fmtNum(minLr), fmtNum(lr), warmup, spanText).str()
                        : fmtNum(lr),
                    fmtNum(b1), fmtNum(1 - b1), fmtNum(b2), fmtNum(1 - b2),
                    wd != 0 ? llvm::formatv(" - lr_s {0} p", fmtNum(wd)).str() : "", fmtNum(eps))
          .str();
  if (warmup > 0)
    math += llvm::formatv("; warmup: lr_s = {0} (step + 1) / {1} for step < {2}", fmtNum(lr), warmup + 1,
                          warmup)
                .str();
  if (runTimeTotal && schedule != "constant")
    math += llvm::formatv("; N = step[1] on device (<= 0: {0})", total).str();
  unsigned index = 0;  // of the class, for the math comment
  for (auto &[cls, members] : classes) {
    ++index;
    SmallVector<Value> kargs = {args[0]};  // the step, then p, g, m, v of each member, then their p', m', v'
    for (size_t j : members)
      kargs.append(args.begin() + 1 + 4 * j, args.begin() + 5 + 4 * j);
    for (size_t j : members)
      kargs.append(outs.begin() + 3 * j, outs.begin() + 3 * j + 3);
    int64_t maxN = 0;
    for (size_t j : members)
      maxN = std::max(maxN, sizes[j]);
    std::string classText;
    if (classes.size() > 1)
      classText =
          llvm::formatv("; size class {0} of {1}: the {2} tensor(s) of ", index, classes.size(), members.size()).str() +
          (cls == 0 ? llvm::formatv("at most {0} elements (min_ctas = {1} <- {2} programs of {3})", small,
                                    minCtas.getInt(), minCtas.getProvenance(), blk).str()
                    : llvm::formatv("{0} to {1} elements", (int64_t(1) << (cls - 1)) + 1, int64_t(1) << cls).str());
    KernelOp kernel = L.newKernel("fused_multi_tensor_adam", kargs, {ceilDivStr("max numel", blk)},
                                  math + classText + R.suffix(), cfg);
    tagKernel(kernel, R.kind, R.rule, R.ruleLoc);
    {
      InKernel in(L, kernel);
      KernelBuilder &k = in.k;
      TileType t = k.f32({blk});
      Value i0 = k.mul(k.pid(0), blk);
      // Step-dependent scalars, as tiles: t = step + 1, lr_s, bias corrections.
      auto [s1, total1] = emitStepScalars(k, in.arg(0), stepT, total);
      Value sT = k.bcast(ExtractOp::create(L.b, k.loc, L.b.getF32Type(), s1, L.b.getDenseI64ArrayAttr({0})), t);
      Value one = k.splat(t, 1.0);
      Value tT = k.addT(sT, one);
      // The scheduled rate, computed once on a 1-element tile and broadcast (same code as the per-tensor adam).
      Value lr1 = emitLearningRate(k, s1, lr, schedule, warmup, minLr, total1);
      Value lrS = k.bcast(ExtractOp::create(L.b, k.loc, L.b.getF32Type(), lr1, L.b.getDenseI64ArrayAttr({0})), t);
      Value bc1 = k.subT(one, k.exp(k.mulT(tT, k.splat(t, std::log(b1)))));
      Value bc2 = k.subT(one, k.exp(k.mulT(tT, k.splat(t, std::log(b2)))));
      unsigned nIn = 1 + 4 * members.size();
      for (size_t j = 0; j < members.size(); ++j) {
        Value mask = k.bounds(t, {i0}, {k.idx(sizes[members[j]])});
        Value P = in.arg(1 + 4 * j), Gd = in.arg(2 + 4 * j), Mb = in.arg(3 + 4 * j), Vb = in.arg(4 + 4 * j);
        Value Po = in.arg(nIn + 3 * j), Mo = in.arg(nIn + 3 * j + 1), Vo = in.arg(nIn + 3 * j + 2);
        Value p = k.load(t, P, {i0}, mask), g = k.load(t, Gd, {i0}, mask);
        Value m = k.load(t, Mb, {i0}, mask), v = k.load(t, Vb, {i0}, mask);
        if (wd != 0)
          p = k.subT(p, k.mulT(k.mulT(lrS, k.splat(t, wd)), p));
        m = k.addT(k.mulT(k.splat(t, b1), m), k.mulT(k.splat(t, 1 - b1), g));
        v = k.addT(k.mulT(k.splat(t, b2), v), k.mulT(k.splat(t, 1 - b2), k.mulT(g, g)));
        Value upd = k.divT(k.divT(m, bc1), k.addT(k.sqrt(k.divT(v, bc2)), k.splat(t, eps)));
        p = k.subT(p, k.mulT(lrS, upd));
        k.store(p, Po, {i0}, mask);
        k.store(m, Mo, {i0}, mask);
        k.store(v, Vo, {i0}, mask);
      }
      k.ret();
    }
    L.launch(kernel, {L.hostIdx((maxN + blk - 1) / blk)}, kargs);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Attention: flash (tagged built-in) or decomposed
//===----------------------------------------------------------------------===//

/// Runs the built-in lowering and tags the kernels it created with the rule.
LogicalResult lowerTagged(Lowering &L, const OpLoweringFn &builtin, StringRef opName) {
  if (!builtin)
    return L.op()->emitError("no tile lowering for '") << L.op()->getName() << "'";
  auto fusion = L.op()->getAttrOfType<DictionaryAttr>(kFusionAttr);
  if (!fusion)
    return builtin(L);
  llvm::DenseSet<Operation *> before;
  for (auto k : L.getModule().getOps<KernelOp>())
    before.insert(k);
  if (failed(builtin(L)))
    return failure();
  auto str = [&](StringRef key) {
    auto s = fusion.getAs<StringAttr>(key);
    return s ? s.getValue() : StringRef();
  };
  std::string suffix = ("  [" + opName + " by rule \"" + str("rule") + "\"").str();
  if (!str("rule_loc").empty())
    suffix += (" (" + str("rule_loc") + ")").str();
  suffix += "]";
  for (auto k : L.getModule().getOps<KernelOp>())
    if (!before.contains(k)) {
      tagKernel(k, str("kind"), str("rule"), str("rule_loc"));
      k.setMath((k.getMath() + suffix).str());
    }
  return success();
}

/// attention {spak.unfused}: S = mask(scale q kᵀ) → softmax rows → o = P v.
LogicalResult lowerDecomposedAttention(Lowering &L) {
  if (failed(L.expectOperands(3, 3)))
    return failure();
  Operation *op = L.op();
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> eq = L.extent("q"), ekv = L.extent("kv"), ed = L.extent("d");
  FailureOr<LawAttr> floor = L.floorLaw();
  if (failed(cfg) || failed(eq) || failed(ekv) || failed(ed) || failed(floor))
    return failure();
  auto qT = L.rtype(op->getOperand(0));
  for (Value v : op->getOperands())
    if (L.ttype(v) != qT)
      return op->emitError("attention lowering expects q, k, v of one type [B, T, C]");
  auto heads = op->getAttrOfType<IntegerAttr>("heads");
  int64_t H = heads.getInt(), hd = ed->getSize(), dp = ed->getTile();
  int64_t tm = eq->getTile(), tn = ekv->getTile();
  bool causal = L.boolAttr("causal", true);
  double scale = L.floatAttr("scale", 0.0);
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(static_cast<double>(hd));
  Value Q = L.buf(op->getOperand(0)), K = L.buf(op->getOperand(1)), V = L.buf(op->getOperand(2));
  FailureOr<Value> o = L.allocFor(op->getResult(0));
  if (failed(o))
    return failure();
  // Probabilities: [B·H, T, T].
  int64_t B = qT.getShape()[0], T = qT.getShape()[1];
  SmallVector<Value> dyn;
  int64_t BH = ShapedType::isDynamic(B) ? ShapedType::kDynamic : B * H;
  if (ShapedType::isDynamic(B))
    dyn.push_back(arith::MulIOp::create(L.b, L.loc(), L.hostDim(Q, 0), L.hostIdx(H)));
  if (ShapedType::isDynamic(T)) {
    dyn.push_back(L.hostDim(Q, 1));
    dyn.push_back(L.hostDim(Q, 1));
  }
  Value S = L.alloc({BH, T, T}, L.b.getF32Type(), dyn);
  std::string tail = "  [attention unfused: rule online_softmax disabled or absent]";

  // Kernel 1: scores.
  SmallVector<Value> a1 = {Q, K, S};
  KernelOp k1 = L.newKernel("attention_scores", a1, {ceilDivStr("T", tm), ceilDivStr("T", tn), "B * " + std::to_string(H)},
                            llvm::formatv("s[bh, t, u] = {0} q[b, t, h] . k[b, u, h]{1}{2}", fmtNum(scale),
                                          causal ? ", floor where u > t" : "", tail).str(),
                            *cfg);
  {
    InKernel in(L, k1);
    KernelBuilder &k = in.k;
    Value Qa = in.arg(0), Ka = in.arg(1), Sa = in.arg(2);
    Value m0 = k.mul(k.pid(0), tm), n0 = k.mul(k.pid(1), tn), bh = k.pid(2);
    Value b = k.divui(bh, H), h = k.remui(bh, H), col0 = k.mul(h, hd);
    Value Tn = k.dim(Qa, 1), zero = k.idx(0), hdV = k.idx(hd);
    TileType qTile = k.f32({tm, dp}), kTile = k.f32({tn, dp}, MemorySpace::smem), sT = k.f32({tm, tn});
    Value qm = (eq->needsMask() || ed->needsMask()) ? k.bounds(qTile, {m0, zero}, {Tn, hdV}) : Value();
    Value km = (ekv->needsMask() || ed->needsMask()) ? k.bounds(kTile, {n0, zero}, {Tn, hdV}) : Value();
    Value q = k.load(qTile, Qa, {b, m0, col0}, qm);
    Value kt = k.load(kTile, Ka, {b, n0, col0}, km, cfg->getLaw("k_lat"), L.b.getI64IntegerAttr(0));
    Value s = k.mulT(k.mma(sT, q, kt, k.splat(sT, 0.0), false, true), k.splat(sT, scale));
    Value inb = (eq->needsMask() || ekv->needsMask()) ? k.bounds(sT, {m0, n0}, {Tn, Tn}) : Value();
    Value valid = inb;
    if (causal)
      valid = k.andMask(valid, MaskOp::create(L.b, k.loc, sT.getMaskType(), MaskKind::causal,
                                              ValueRange{m0, n0}, ValueRange{}));
    if (valid)
      s = k.select(valid, s, k.splat(sT, floor->getFloat(), *floor));
    k.store(s, Sa, {bh, m0, n0}, inb);
    k.ret();
  }
  Value gridBH = arith::MulIOp::create(L.b, L.loc(), L.hostDim(Q, 0), L.hostIdx(H));
  L.launch(k1, {L.gridFromDim(Q, 1, tm), L.gridFromDim(Q, 1, tn), gridBH}, a1);

  // Kernel 2: softmax over the rows of S, in place.
  Value S2 = L.view(S, {product({BH, T}) , T});
  if (ShapedType::isDynamic(BH) || ShapedType::isDynamic(T))
    S2 = L.view(S, {ShapedType::kDynamic, T});
  MLIRContext *ctx = L.b.getContext();
  int64_t rowsStatic = cast<BufferType>(S2.getType()).getShape()[0];
  ExtentAttr er = rules::coverDim(ctx, rowsStatic, tm), ec = rules::coverDim(ctx, T, tn);
  SmallVector<Value> a2 = {S2};
  KernelOp k2 = L.newKernel("attention_softmax", a2, {ceilDivStr("B * H * T", er.getTile())},
                            ("p[r, u] = exp(s[r, u] - max_u s[r, :]) / sum_u exp(s[r, u] - max) (in place)" + tail),
                            *cfg);
  {
    InKernel in(L, k2);
    KernelBuilder &k = in.k;
    Value Sa = in.arg(0);
    int64_t rt = er.getTile(), cc = ec.getTile();
    Value r0 = k.mul(k.pid(0), rt), Rn = k.dim(Sa, 0), C = k.dim(Sa, 1);
    auto [m, l] = emitOnlineMaxSum(k, Sa, r0, Rn, C, er, ec, rt, *floor);
    TileType chunkT = k.f32({rt, cc});
    Value mB = k.bcast(m, chunkT), lB = k.bcast(l, chunkT);
    k.loop(k.idx(0), C, k.idx(cc), {}, [&](Value c0, ValueRange) {
      Value mask = (er.needsMask() || ec.needsMask()) ? k.bounds(chunkT, {r0, c0}, {Rn, C}) : Value();
      Value x = k.load(chunkT, Sa, {r0, c0}, mask);
      k.store(k.divT(k.exp(k.subT(x, mB)), lB), Sa, {r0, c0}, mask);
      return SmallVector<Value>{};
    });
    k.ret();
  }
  L.launch(k2, {L.gridFromDim(S2, 0, er.getTile())}, a2);

  // Kernel 3: o = P v.
  SmallVector<Value> a3 = {S, V, *o};
  KernelOp k3 = L.newKernel("attention_pv", a3, {ceilDivStr("T", tm), "B * " + std::to_string(H)},
                            ("o[b, t, h] = sum_u p[bh, t, u] v[b, u, h]" + tail), *cfg);
  {
    InKernel in(L, k3);
    KernelBuilder &k = in.k;
    Value Sa = in.arg(0), Va = in.arg(1), Oa = in.arg(2);
    Value m0 = k.mul(k.pid(0), tm), bh = k.pid(1);
    Value b = k.divui(bh, H), h = k.remui(bh, H), col0 = k.mul(h, hd);
    Value Tn = k.dim(Va, 1), zero = k.idx(0), hdV = k.idx(hd);
    TileType pT = k.f32({tm, tn}, MemorySpace::smem), vT = k.f32({tn, dp}, MemorySpace::smem),
             accT = k.f32({tm, dp});
    auto loop = k.loop(zero, Tn, k.idx(tn), {k.splat(accT, 0.0)}, [&](Value s0, ValueRange acc) {
      Value pm = (eq->needsMask() || ekv->needsMask()) ? k.bounds(pT, {m0, s0}, {Tn, Tn}) : Value();
      Value vm = (ekv->needsMask() || ed->needsMask()) ? k.bounds(vT, {s0, zero}, {Tn, hdV}) : Value();
      Value p = k.load(pT, Sa, {bh, m0, s0}, pm);
      Value v = k.load(vT, Va, {b, s0, col0}, vm, cfg->getLaw("v_lat"), L.b.getI64IntegerAttr(1));
      return SmallVector<Value>{k.mma(accT, p, v, acc[0], false, false)};
    });
    Value om = (eq->needsMask() || ed->needsMask()) ? k.bounds(accT, {m0, zero}, {Tn, hdV}) : Value();
    k.store(loop.getResult(0), Oa, {b, m0, col0}, om);
    k.ret();
  }
  L.launch(k3, {L.gridFromDim(Q, 1, tm), gridBH}, a3);
  return success();
}

LogicalResult lowerFused(Lowering &L) {
  FailureOr<Region> r = Region::read(L.op());
  if (failed(r))
    return failure();
  if (r->kind == "norm_linear")
    return lowerNormLinear(L, *r);
  if (r->kind == "linear_bias_gelu")
    return lowerEpilogue(L, *r, Epilogue::Gelu);
  if (r->kind == "linear_residual")
    return lowerEpilogue(L, *r, Epilogue::Residual);
  if (r->kind == "matmul_gelu_grad")
    return lowerGeluGradEpilogue(L, *r);
  if (r->kind == "softmax_xent")
    return lowerSoftmaxXent(L, *r);
  if (r->kind == "multi_tensor_adam")
    return lowerMultiTensorAdam(L, *r);
  return L.op()->emitError("no tile lowering for fused region kind \"") << r->kind << "\"";
}

} // namespace

void spak::tile::populateFusedRegionLowerings(LoweringTable &table) {
  table["fused"] = lowerFused;
  // attention: decomposed when spak-fuse-attention found no rule, else the
  // built-in flash kernel (tagged with the rule when it has spak.fusion).
  OpLoweringFn flash = table.lookup("attention");
  table["attention"] = [flash](Lowering &L) {
    if (L.op()->hasAttr(kUnfusedAttr))
      return lowerDecomposedAttention(L);
    return lowerTagged(L, flash, "flash attention");
  };
  OpLoweringFn flashGrad = table.lookup("attention_grad");
  table["attention_grad"] = [flashGrad](Lowering &L) {
    return lowerTagged(L, flashGrad, "flash attention backward");
  };
}
