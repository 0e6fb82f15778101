//===- GraphToTileBackward.cpp - backward (VJP) ops → tile programs -------===//
//
// The ops spak-autodiff emits for vector-Jacobian products that are not
// forward ops (GraphBackwardOps.td gives the formulas):
//   relu_grad gelu_grad    flat maps
//   rmsnorm_grad           one pow2 row tile per row
//   layernorm_grad         kernel 1 per row: dx, and the row mean / rstd;
//                          dw = Σ dy·xhat, db = Σ dy by the two-stage column
//                          sum of ColumnSum.h: (column tile x row chunk)
//                          partials, then the chunks summed in order
//                          (deterministic, no atomics)
//   softmax_grad           column chunks: s = Σ dy·y, then dx = y (dy - s)
//   cross_entropy_grad     online max/sum with the floor, then
//                          (softmax - onehot) · dloss / N; bad targets set the
//                          status flag
//   attention_grad         flash backward without saved statistics:
//                          kernel dq  per query tile: the forward loop again
//                          (m, l, O), lse = m + log l, D = rowsum(dO·O), then
//                          dq = scale Σ P (dP - D) k — lse and D saved;
//                          kernel dkdv per key tile: dv = Σ Pᵀ dO,
//                          dk = scale Σ (P (dP - D))ᵀ q over query tiles
//                          (causal: from the diagonal); masked logits = floor
//   embed_grad             deterministic, no atomics: zero fill; per token
//                          chunks of 128 tokens summed in order at each
//                          chunk's first token of an id (partial[N, C]); then
//                          the first token of each id adds its chunk partials
//                          in chunk order into dtable[id]
//
//===----------------------------------------------------------------------===//
#include "spak/Conversion/GraphToTile/Lowering.h"
#include "ColumnSum.h"
#include "spak/Rules/Laws.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace spak;
using namespace spak::tile;


//--- relu_grad / gelu_grad ---------------------------------------------------------

static LogicalResult lowerReluGrad(Lowering &L) {
  if (failed(L.expectOperands(2, 2)))
    return failure();
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  return emitMap(L, "relu_grad", "dx[i] = x[i] > 0 ? dy[i] : 0", L.op()->getOperands(),
                 L.op()->getResult(0), *cfg,
                 [](KernelBuilder &k, ArrayRef<Value> xs, TileType t) {
                   Value pos = k.cmp(CmpPredicate::gt, xs[1], k.splat(t, 0.0));
                   return k.select(pos, xs[0], k.splat(t, 0.0));
                 });
}

static LogicalResult lowerGeluGrad(Lowering &L) {
  if (failed(L.expectOperands(2, 2)))
    return failure();
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  return emitMap(
      L, "gelu_grad",
      "u = sqrt(2/pi) (x + 0.044715 x^3); dx = dy (0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) "
      "sqrt(2/pi) (1 + 0.134145 x^2))",
      L.op()->getOperands(), L.op()->getResult(0), *cfg,
      [](KernelBuilder &k, ArrayRef<Value> xs, TileType t) { return k.mulT(xs[0], k.geluDeriv(xs[1], t)); });
}

//--- rmsnorm_grad -------------------------------------------------------------------

/// rmsnorm_grad(dy, x){eps}: dx = r dy - x r^3 mean(dy x), r = rsqrt(mean(x^2) + eps).
static LogicalResult lowerRmsNormGrad(Lowering &L) {
  if (failed(L.expectOperands(2, 2)))
    return failure();
  Operation *op = L.op();
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> er = L.extent("rows"), ec = L.extent("cols");
  if (failed(cfg) || failed(er) || failed(ec))
    return failure();
  if (L.rtype(op->getOperand(0)) != L.rtype(op->getOperand(1)))
    return op->emitError("rmsnorm_grad needs dy and x of one type");
  double eps = L.floatAttr("eps", 1e-5);
  int64_t rt = er->getTile(), cp = ec->getTile(), cols = ec->getSize();
  FailureOr<Value> dx = L.allocFor(op->getResult(0));
  if (failed(dx))
    return failure();
  SmallVector<Value> args = {L.rows2D(L.buf(op->getOperand(0))),
                             L.rows2D(L.buf(op->getOperand(1))), L.rows2D(*dx)};
  std::string math = llvm::formatv("r = rsqrt(mean(x[r, :]^2) + {0}); dx = r dy - x r^3 "
                                   "mean(dy[r, :] x[r, :])",
                                   fmtNum(eps))
                         .str();
  KernelOp kernel = L.newKernel("rmsnorm_grad", args, {ceilDivStr("rows", rt)}, math, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value DY = body->getArgument(0), X = body->getArgument(1), DX = body->getArgument(2);
    Value r0 = k.mul(k.pid(0), rt), zero = k.idx(0), R = k.dim(X, 0), C = k.dim(X, 1);
    TileType rowT = k.f32({rt, cp}), colT = k.f32({rt, 1});
    Value mask = (er->needsMask() || ec->needsMask()) ? k.bounds(rowT, {r0, zero}, {R, C})
                                                      : Value();
    Value dy = k.load(rowT, DY, {r0, zero}, mask), x = k.load(rowT, X, {r0, zero}, mask);
    Value invC = k.splat(colT, 1.0 / static_cast<double>(cols));
    Value ms = k.mulT(k.reduce(ReduceKind::sum, k.mulT(x, x), 1), invC);
    Value r = k.rsqrt(k.addT(ms, k.splat(colT, eps)));
    Value dot = k.mulT(k.reduce(ReduceKind::sum, k.mulT(dy, x), 1), invC);
    Value r3dot = k.mulT(k.mulT(k.mulT(r, r), r), dot);
    Value out = k.subT(k.mulT(dy, k.bcast(r, rowT)), k.mulT(x, k.bcast(r3dot, rowT)));
    k.store(out, DX, {r0, zero}, mask);
    k.ret();
  }
  L.launch(kernel, {L.gridFromDim(args[0], 0, rt)}, args);
  return success();
}

//--- layernorm_grad -------------------------------------------------------------------

/// layernorm_grad(dy, x, w){eps} → (dx, dw, db).
static LogicalResult lowerLayerNormGrad(Lowering &L) {
  if (failed(L.expectOperands(3, 3, 3)))
    return failure();
  Operation *op = L.op();
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> er = L.extent("rows"), ec = L.extent("cols");
  if (failed(cfg) || failed(er) || failed(ec))
    return failure();
  if (L.rtype(op->getOperand(0)) != L.rtype(op->getOperand(1)))
    return op->emitError("layernorm_grad needs dy and x of one type");
  double eps = L.floatAttr("eps", 1e-5);
  int64_t rt = er->getTile(), cp = ec->getTile(), cols = ec->getSize();
  RankedTensorType wT = L.rtype(op->getOperand(2));
  if (wT.getRank() != 1 || wT.getShape()[0] != cols)
    return op->emitError("layernorm_grad weight must be [") << cols << "], got " << wT;
  FailureOr<Value> dx = L.allocFor(op->getResult(0));
  if (failed(dx))
    return failure();
  Value dw = L.allocFor(op->getResult(1), {}), db = L.allocFor(op->getResult(2), {});
  Value DY = L.rows2D(L.buf(op->getOperand(0))), X = L.rows2D(L.buf(op->getOperand(1)));
  int64_t rows = cast<BufferType>(X.getType()).getShape()[0];
  SmallVector<Value> rowSizes;
  if (ShapedType::isDynamic(rows))
    rowSizes.push_back(L.hostDim(X, 0));
  Value meanBuf = L.alloc({rows, 1}, L.b.getF32Type(), rowSizes);
  Value rstdBuf = L.alloc({rows, 1}, L.b.getF32Type(), rowSizes);
  bool masked = er->needsMask() || ec->needsMask();

  // Kernel 1: dx per row, and the row statistics for kernel 2.
  SmallVector<Value> args1 = {DY, X, L.view(L.buf(op->getOperand(2)), {1, cols}), L.rows2D(*dx),
                              meanBuf, rstdBuf};
  std::string math1 = llvm::formatv(
      "xhat = (x - mean) r, r = rsqrt(var + {0}); g = dy w; dx = r (g - mean(g) - xhat "
      "mean(g xhat)); saves mean, r",
      fmtNum(eps)).str();
  KernelOp k1 = L.newKernel("layernorm_grad_dx", args1, {ceilDivStr("rows", rt)}, math1, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &k1.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value DYa = body->getArgument(0), Xa = body->getArgument(1), W = body->getArgument(2),
          DX = body->getArgument(3), MB = body->getArgument(4), SB = body->getArgument(5);
    Value r0 = k.mul(k.pid(0), rt), zero = k.idx(0), R = k.dim(Xa, 0), C = k.dim(Xa, 1);
    TileType rowT = k.f32({rt, cp}), colT = k.f32({rt, 1}), vecT = k.f32({1, cp});
    Value mask = masked ? k.bounds(rowT, {r0, zero}, {R, C}) : Value();
    Value dy = k.load(rowT, DYa, {r0, zero}, mask), x = k.load(rowT, Xa, {r0, zero}, mask);
    Value vecMask = ec->needsMask() ? k.bounds(vecT, {zero, zero}, {k.idx(1), C}) : Value();
    Value w = k.bcast(k.load(vecT, W, {zero, zero}, vecMask), rowT);
    Value invC = k.splat(colT, 1.0 / static_cast<double>(cols));
    Value mean = k.mulT(k.reduce(ReduceKind::sum, x, 1), invC);
    Value centered = k.subT(x, k.bcast(mean, rowT));
    if (ec->needsMask()) // padded lanes would hold -mean
      centered = k.select(mask, centered, k.splat(rowT, 0.0));
    Value var = k.mulT(k.reduce(ReduceKind::sum, k.mulT(centered, centered), 1), invC);
    Value r = k.rsqrt(k.addT(var, k.splat(colT, eps)));
    Value xhat = k.mulT(centered, k.bcast(r, rowT));
    Value g = k.mulT(dy, w);
    Value mg = k.mulT(k.reduce(ReduceKind::sum, g, 1), invC);
    Value mgx = k.mulT(k.reduce(ReduceKind::sum, k.mulT(g, xhat), 1), invC);
    Value inner = k.subT(k.subT(g, k.bcast(mg, rowT)), k.mulT(xhat, k.bcast(mgx, rowT)));
    k.store(k.mulT(inner, k.bcast(r, rowT)), DX, {r0, zero}, mask);
    Value rowMask = er->needsMask() ? k.bounds(colT, {r0, zero}, {R, k.idx(1)}) : Value();
    k.store(mean, MB, {r0, zero}, rowMask);
    k.store(r, SB, {r0, zero}, rowMask);
    k.ret();
  }
  L.launch(k1, {L.gridFromDim(X, 0, rt)}, args1);

  // dw, db: the two-stage column sum of ColumnSum.h. Stage 1 per (column tile, chunk of rows):
  // dy·xhat and dy accumulated element-wise over the chunk in [step x cols] tiles (lanes across
  // columns), reduced over rows once; stage 2 sums the chunk partials in order. A static row
  // count of at most one chunk needs stage 1 only, writing dw / db directly.
  ColumnSumPlan plan = planColumnSum(L, *cfg, cols);
  bool twoStage = columnSumTwoStage(plan, rows);
  int64_t step = twoStage ? plan.step : columnSumStep(plan, rows);
  int64_t chunks = !twoStage ? 1
                   : ShapedType::isDynamic(rows) ? ShapedType::kDynamic
                                                 : (rows + plan.chunk - 1) / plan.chunk;
  Value PW, PB;
  if (twoStage) {
    SmallVector<Value> chunkSizes;
    if (ShapedType::isDynamic(chunks))
      chunkSizes.push_back(L.hostCeilDiv(L.hostDim(X, 0), plan.chunk));
    PW = L.alloc({chunks, cols}, L.b.getF32Type(), chunkSizes);
    PB = L.alloc({chunks, cols}, L.b.getF32Type(), chunkSizes);
  } else {
    PW = L.view(dw, {1, cols});
    PB = L.view(db, {1, cols});
  }
  bool rowMasked = ShapedType::isDynamic(rows) || rows % step != 0;
  bool colMasked = cols % plan.cols != 0;
  SmallVector<Value> args2 = {DY, X, meanBuf, rstdBuf, PW, PB};
  std::string math2 =
      twoStage ? llvm::formatv("pw[j, c] = sum_(r in chunk j of {0} rows) dy[r, c] (x[r, c] - "
                               "mean[r]) rstd[r]; pb[j, c] = sum_(r in chunk j) dy[r, c]  (fixed "
                               "order: deterministic)",
                               plan.chunk)
                     .str()
               : std::string("dw[c] = sum_r dy[r, c] (x[r, c] - mean[r]) rstd[r]; db[c] = sum_r "
                             "dy[r, c]  (fixed order: deterministic)");
  std::string g0 = ceilDivStr("C", plan.cols), g1 = twoStage ? ceilDivStr("rows", plan.chunk) : "1";
  KernelOp k2 = L.newKernel(twoStage ? "layernorm_grad_dwdb_partial" : "layernorm_grad_dwdb",
                            args2, {g0, g1}, math2, plan.config);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &k2.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value DYa = body->getArgument(0), Xa = body->getArgument(1), MB = body->getArgument(2),
          SB = body->getArgument(3), PWa = body->getArgument(4), PBa = body->getArgument(5);
    Value c0 = k.mul(k.pid(0), plan.cols), zero = k.idx(0), R = k.dim(Xa, 0), C = k.dim(Xa, 1);
    Value j = twoStage ? k.pid(1) : zero;
    Value lo = twoStage ? k.mul(j, plan.chunk) : zero;
    Value hi = twoStage ? k.minIdx(k.add(lo, plan.chunk), R) : R;
    TileType t = k.f32({step, plan.cols}), colT = k.f32({step, 1}), accT = k.f32({1, plan.cols});
    SmallVector<Value> sums = emitColumnAccumulate(
        k, plan, step, 2, lo, hi, c0, C, rowMasked || colMasked,
        [&](Value r0, Value mask) -> SmallVector<Value> {
          Value rowMask = rowMasked ? k.bounds(colT, {r0, zero}, {hi, k.idx(1)}) : Value();
          Value dy = k.load(t, DYa, {r0, c0}, mask), x = k.load(t, Xa, {r0, c0}, mask);
          Value mean = k.load(colT, MB, {r0, zero}, rowMask);
          Value rstd = k.load(colT, SB, {r0, zero}, rowMask);
          Value xhat = k.mulT(k.subT(x, k.bcast(mean, t)), k.bcast(rstd, t));
          return {k.mulT(dy, xhat), dy}; // masked lanes: dy = 0
        });
    Value cm = colMasked ? k.bounds(accT, {zero, c0}, {k.idx(1), C}) : Value();
    k.store(sums[0], PWa, {j, c0}, cm);
    k.store(sums[1], PBa, {j, c0}, cm);
    k.ret();
  }
  Value chunkGrid = twoStage ? L.hostCeilDiv(L.hostDim(X, 0), plan.chunk) : L.hostIdx(1);
  L.launch(k2, {L.hostIdx((cols + plan.cols - 1) / plan.cols), chunkGrid}, args2);
  if (twoStage)
    emitColumnSumKernel(L, "layernorm_grad_dwdb_sum", "dw[c] = sum_j pw[j, c]; db[c] = sum_j pb[j, c]",
                        plan, {L.view(PW, {1, chunks, cols}), L.view(PB, {1, chunks, cols})},
                        {L.view(dw, {1, 1, cols}), L.view(db, {1, 1, cols})}, false);
  return success();
}

//--- softmax_grad ------------------------------------------------------------------------

static LogicalResult lowerSoftmaxGrad(Lowering &L) {
  if (failed(L.expectOperands(2, 2)))
    return failure();
  Operation *op = L.op();
  int64_t rank = L.rtype(op->getOperand(1)).getRank();
  int64_t axis = L.intAttr("axis", -1);
  if (axis != -1 && axis != rank - 1)
    return op->emitError("softmax_grad lowering handles the last axis, got axis ") << axis;
  if (L.rtype(op->getOperand(0)) != L.rtype(op->getOperand(1)))
    return op->emitError("softmax_grad needs dy and y of one type");
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> er = L.extent("rows"), ec = L.extent("cols");
  if (failed(cfg) || failed(er) || failed(ec))
    return failure();
  int64_t rt = er->getTile(), cc = ec->getTile();
  FailureOr<Value> dx = L.allocFor(op->getResult(0));
  if (failed(dx))
    return failure();
  SmallVector<Value> args = {L.rows2D(L.buf(op->getOperand(0))),
                             L.rows2D(L.buf(op->getOperand(1))), L.rows2D(*dx)};
  KernelOp kernel = L.newKernel("softmax_grad", args, {ceilDivStr("rows", rt)},
                                "dx[r, c] = y[r, c] (dy[r, c] - sum_c' dy[r, c'] y[r, c'])", *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value DY = body->getArgument(0), Y = body->getArgument(1), DX = body->getArgument(2);
    Value r0 = k.mul(k.pid(0), rt), R = k.dim(Y, 0), C = k.dim(Y, 1), zero = k.idx(0);
    TileType t = k.f32({rt, cc}), colT = k.f32({rt, 1});
    bool masked = er->needsMask() || ec->needsMask();
    auto dot = k.loop(zero, C, k.idx(cc), ValueRange{k.splat(colT, 0.0)},
                      [&](Value c0, ValueRange it) -> SmallVector<Value> {
                        Value m = masked ? k.bounds(t, {r0, c0}, {R, C}) : Value();
                        Value p = k.mulT(k.load(t, DY, {r0, c0}, m), k.load(t, Y, {r0, c0}, m));
                        return {k.addT(it[0], k.reduce(ReduceKind::sum, p, 1))};
                      });
    Value s = k.bcast(dot.getResult(0), t);
    k.loop(zero, C, k.idx(cc), ValueRange{}, [&](Value c0, ValueRange) -> SmallVector<Value> {
      Value m = masked ? k.bounds(t, {r0, c0}, {R, C}) : Value();
      Value y = k.load(t, Y, {r0, c0}, m);
      k.store(k.mulT(y, k.subT(k.load(t, DY, {r0, c0}, m), s)), DX, {r0, c0}, m);
      return {};
    });
    k.ret();
  }
  L.launch(kernel, {L.gridFromDim(args[1], 0, rt)}, args);
  return success();
}

//--- cross_entropy_grad ------------------------------------------------------------------

/// cross_entropy_grad(dloss, logits[..., V], targets[...]) →
/// dlogits = dloss (softmax(logits) - onehot(targets)) / N.
static LogicalResult lowerCrossEntropyGrad(Lowering &L) {
  if (failed(L.expectOperands(3, 3)))
    return failure();
  Operation *op = L.op();
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> er = L.extent("rows"), ec = L.extent("cols");
  FailureOr<LawAttr> floor = L.floorLaw();
  if (failed(cfg) || failed(er) || failed(ec) || failed(floor))
    return failure();
  RankedTensorType lT = L.rtype(op->getOperand(1));
  if (lT.isDynamicDim(lT.getRank() - 1))
    return op->emitError("cross_entropy_grad lowering needs a static vocabulary dim");
  int64_t V = lT.getShape().back();
  int64_t rt = er->getTile(), cc = ec->getTile();
  FailureOr<Value> dl = L.allocFor(op->getResult(0));
  if (failed(dl))
    return failure();
  Value status = L.statusBuffer();
  if (!status)
    return op->emitError("cannot add the status argument to the host function");
  Value X = L.rows2D(L.buf(op->getOperand(1)));
  Value Tg = L.flat(L.buf(op->getOperand(2)));
  Tg = L.view(Tg, {cast<BufferType>(Tg.getType()).getShape()[0], 1});
  SmallVector<Value> args = {L.view(L.buf(op->getOperand(0)), {1, 1}), X, Tg, L.rows2D(*dl),
                             L.view(status, {1, 1})};
  // With `classes` (spak-pad-vocab) the columns from `classes` on are vocabulary padding: outside the softmax,
  // dx = 0 there.
  std::optional<int64_t> classes = classesOf(op);
  int64_t K = classes ? *classes : V;
  std::string math = llvm::formatv(
      "dx[r, c] = dloss (exp(x[r, c] - m[r]) / l[r] - (c == t[r])) / N  (masked logits = "
      "floor; targets outside [0, {0}) set status[0] = 1{1})",
      K, classes ? llvm::formatv("; columns {0}..{1} are vocabulary padding: dx = 0", K, V - 1).str()
                 : std::string()).str();
  KernelOp kernel =
      L.newKernel("cross_entropy_grad", args, {ceilDivStr("rows", rt)}, math, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value DL = body->getArgument(0), Xa = body->getArgument(1), Ta = body->getArgument(2),
          DX = body->getArgument(3), St = body->getArgument(4);
    Value r0 = k.mul(k.pid(0), rt), R = k.dim(Xa, 0), C = k.dim(Xa, 1), zero = k.idx(0);
    Value K0 = classes ? k.idx(K) : C;
    auto [m, l] = emitOnlineMaxSum(k, Xa, r0, R, K0, *er, *ec, rt, *floor, classes.has_value());
    TileType chunkT = k.f32({rt, cc}), colT = k.f32({rt, 1}), oneT = k.f32({1, 1});
    TileType tgtT = k.i32({rt, 1}), chunkI = k.i32({rt, cc});
    Value rowMask = er->needsMask() ? k.bounds(tgtT, {r0, zero}, {R, k.idx(1)}) : Value();
    Value tgt = k.load(tgtT, Ta, {r0, zero}, rowMask);
    // Target validation: 0 <= t < V on the rows that exist.
    Value geZero = k.cmp(CmpPredicate::ge, tgt, k.splatInt(tgtT, 0));
    Value ltV = k.cmp(CmpPredicate::lt, tgt, k.splatInt(tgtT, K));
    Value ok = k.andMask(geZero, ltV);
    Value bad = k.select(ok, k.splat(colT, 0.0), k.splat(colT, 1.0));
    if (rowMask)
      bad = k.select(rowMask, bad, k.splat(colT, 0.0));
    Value anyBad = k.cmp(CmpPredicate::gt, k.reduce(ReduceKind::max, bad, 0), k.splat(oneT, 0.0));
    k.store(k.splatInt(k.i32({1, 1}), 1), St, {zero, zero}, anyBad);
    // dloss / N, N = the number of rows.
    Value n = k.bcast(k.indexToF32(R), oneT);
    Value scale = k.bcast(k.divT(k.load(oneT, DL, {zero, zero}), n), chunkT);
    Value mB = k.bcast(m, chunkT), lB = k.bcast(l, chunkT), tgtB = k.bcast(tgt, chunkI);
    bool masked = er->needsMask() || ec->needsMask();
    k.loop(zero, C, k.idx(cc), ValueRange{}, [&](Value c0, ValueRange) -> SmallVector<Value> {
      Value mask = masked ? k.bounds(chunkT, {r0, c0}, {R, C}) : Value();
      Value x = k.load(chunkT, Xa, {r0, c0}, mask);
      Value p = k.divT(k.exp(k.subT(x, mB)), lB);
      Value c0i = arith::IndexCastOp::create(L.b, k.loc, L.b.getI32Type(), c0);
      Value cols = k.addT(IotaOp::create(L.b, k.loc, chunkI, 1), k.bcast(c0i, chunkI));
      Value hit = k.cmp(CmpPredicate::eq, cols, tgtB);
      Value d = k.subT(p, k.select(hit, k.splat(chunkT, 1.0), k.splat(chunkT, 0.0)));
      if (classes)
        d = k.select(k.cmp(CmpPredicate::lt, cols, k.splatInt(chunkI, K)), d, k.splat(chunkT, 0.0));
      k.store(k.mulT(d, scale), DX, {r0, c0}, mask);
      return {};
    });
    k.ret();
  }
  L.launch(kernel, {L.gridFromDim(X, 0, rt)}, args);
  return success();
}

//--- attention_grad ----------------------------------------------------------------------

/// attention_grad(dO, q, k, v){heads, causal, scale} → (dq, dk, dv).
static LogicalResult lowerAttentionGrad(Lowering &L) {
  if (failed(L.expectOperands(4, 4, 3)))
    return failure();
  Operation *op = L.op();
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> eq = L.extent("q"), ekv = L.extent("kv"), ed = L.extent("d");
  FailureOr<LawAttr> floor = L.floorLaw();
  if (failed(cfg) || failed(eq) || failed(ekv) || failed(ed) || failed(floor))
    return failure();
  RankedTensorType qT = L.rtype(op->getOperand(1));
  for (Value v : op->getOperands())
    if (L.rtype(v) != qT)
      return op->emitError("attention_grad lowering expects dO, q, k, v of one type [B, T, C]");
  auto heads = op->getAttrOfType<IntegerAttr>("heads");
  if (!heads || heads.getInt() <= 0)
    return op->emitError("attention_grad needs a positive 'heads' attribute");
  int64_t H = heads.getInt(), hd = ed->getSize(), dp = ed->getTile();
  int64_t tm = eq->getTile(), tn = ekv->getTile();
  bool causal = L.boolAttr("causal", true);
  double scale = L.floatAttr("scale", 0.0);
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(static_cast<double>(hd));
  SmallVector<Value> grads;
  // Rule apply attention_reads_split: dq, dk, dv go straight into the columns of the concat that joins them.
  int64_t offDQ = 0, offDK = 0, offDV = 0;
  if (Operation *concat = concatOfAttentionGrad(op)) {
    // [B, T, 3C]: its dynamic B and T are q's (a column range of the qkv buffer, or its own [B, T, C]).
    Value y = L.allocWithDimsOf(concat->getResult(0), L.buf(op->getOperand(1)));
    for (auto [i, r] : llvm::enumerate(op->getResults())) {
      L.mapValue(r, y);
      L.columnOffsets[r] = static_cast<int64_t>(i) * qT.getShape()[2];
      grads.push_back(y);
    }
    offDQ = 0, offDK = qT.getShape()[2], offDV = 2 * qT.getShape()[2];
  } else {
    for (Value r : op->getResults()) {
      FailureOr<Value> g = L.allocFor(r);
      if (failed(g))
        return failure();
      grads.push_back(*g);
    }
  }
  Value DO = L.buf(op->getOperand(0)), Q = L.buf(op->getOperand(1)), K = L.buf(op->getOperand(2)),
        V = L.buf(op->getOperand(3));
  // q, k, v as column ranges of one qkv buffer (the split the rule elided); dO is its own buffer.
  int64_t offQ = L.columnOffset(op->getOperand(1)), offK = L.columnOffset(op->getOperand(2)),
          offV = L.columnOffset(op->getOperand(3)), offDO = L.columnOffset(op->getOperand(0));
  std::string offsets;
  if (offQ || offK || offV)
    offsets += llvm::formatv("; q, k, v = columns from {0}, {1}, {2} of one buffer", offQ, offK, offV).str();
  if (offDK || offDV)
    offsets += llvm::formatv("{0} dq, dk, dv written to columns from {1}, {2}, {3} of one buffer",
                             offsets.empty() ? ";" : ",", offDQ, offDK, offDV).str();
  if (!offsets.empty())
    offsets += (" (rule " + attentionReadsSplitRule(op).getName() + ")").str();
  // Per-row statistics [B, H, T, 1]: lse = m + log l, D = rowsum(dO · O).
  SmallVector<Value> statSizes;
  if (qT.isDynamicDim(0))
    statSizes.push_back(L.hostDim(Q, 0));
  if (qT.isDynamicDim(1))
    statSizes.push_back(L.hostDim(Q, 1));
  SmallVector<int64_t> statShape = {qT.getShape()[0], H, qT.getShape()[1], 1};
  // The forward of the same q, k, v saved lse and its output (lowerAttention): dq reads them and skips pass 1.
  auto savedIt = L.savedAttention.find(op);
  std::optional<Lowering::SavedAttention> saved;
  if (savedIt != L.savedAttention.end())
    saved = savedIt->second;
  Value lseBuf = saved ? saved->lse : L.alloc(statShape, L.b.getF32Type(), statSizes);
  Value dBuf = L.alloc(statShape, L.b.getF32Type(), statSizes);
  std::string gq = ceilDivStr("T", tm), gk = ceilDivStr("T", tn), gbh = ("B * " + Twine(H)).str();
  bool dMasked = ed->needsMask();
  LawAttr kLat = cfg->getLaw("k_lat"), vLat = cfg->getLaw("v_lat");

  // Shared pieces of both kernels, built inside one kernel body.
  struct Ctx {
    KernelBuilder &k;
    Value T, zero, bIdx, h, col0, hdV;
    /// The head's first column in a buffer whose tensor starts at column `off` (0 but for column ranges).
    Value col(int64_t off) const { return off ? k.add(col0, k.idx(off)) : col0; }
  };
  auto headIndex = [&](KernelBuilder &k, Value Qa) {
    Value bh = k.pid(1);
    Value h = k.remui(bh, H);
    return Ctx{k, k.dim(Qa, 1), k.idx(0), k.divui(bh, H), h, k.mul(h, hd), k.idx(hd)};
  };
  // Scores scale · q kᵀ with the tail / causal mask applied (floor).
  auto scores = [&](KernelBuilder &k, Ctx &c, Value q, Value kt, Value m0, Value n0,
                    bool queryTail) {
    TileType sT = k.f32({tm, tn});
    Value s = k.mulT(k.mma(sT, q, kt, k.splat(sT, 0.0), false, true), k.splat(sT, scale));
    Value valid;
    if (ekv->needsMask() || (queryTail && eq->needsMask()))
      valid = k.bounds(sT, {m0, n0}, {queryTail ? c.T : k.add(m0, tm), c.T});
    if (causal)
      valid = k.andMask(valid, MaskOp::create(L.b, k.loc, sT.getMaskType(), MaskKind::causal,
                                              ValueRange{m0, n0}, ValueRange{}));
    if (valid)
      s = k.select(valid, s, k.splat(sT, floor->getFloat(), *floor));
    return s;
  };

  // Kernel 1: dq per query tile (+ lse, D).
  SmallVector<Value> args1 = {Q, K, V, DO, grads[0], lseBuf, dBuf};
  if (saved)
    args1.push_back(saved->out);
  std::string math1 =
      saved ? llvm::formatv("per head (d = {0}): P = exp(q k^T * {1} - lse){2} with lse saved by the forward "
                            "attention kernel; D = rowsum(dO O) with O its output; dq = {1} * sum_s P (dO v^T - D) k"
                            "  (masked logits = floor)",
                            hd, fmtNum(scale), causal ? " (causal)" : "").str() + offsets
            : llvm::formatv(
                  "per head (d = {0}): P = softmax(q k^T * {1}{2}) recomputed (online m, l, O = P v); "
                  "lse = m + log l; D = rowsum(dO O); dq = {1} * sum_s P (dO v^T - D) k  (masked logits = "
                  "floor)",
                  hd, fmtNum(scale), causal ? ", causal" : "").str() + offsets;
  KernelOp k1 = L.newKernel("attention_grad_dq", args1, {gq, gbh}, math1, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &k1.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value Qa = body->getArgument(0), Ka = body->getArgument(1), Va = body->getArgument(2),
          DOa = body->getArgument(3), DQ = body->getArgument(4), LSE = body->getArgument(5),
          Dd = body->getArgument(6);
    Ctx c = headIndex(k, Qa);
    // Causal: query block i reads i + 1 key blocks; the heaviest blocks are launched first (dkdv's key block j reads
    // the query blocks from j on: its natural order already is).
    Value m0 = k.mul(causal ? k.lastFirst(k.pid(0), c.T, tm) : k.pid(0), tm);
    TileType qTile = k.f32({tm, dp}), kvTile = k.f32({tn, dp}, MemorySpace::smem);
    TileType sT = k.f32({tm, tn}), colT = k.f32({tm, 1});
    Value qMask = (eq->needsMask() || dMasked) ? k.bounds(qTile, {m0, c.zero}, {c.T, c.hdV})
                                               : Value();
    Value q = k.load(qTile, Qa, {c.bIdx, m0, c.col(offQ)}, qMask);
    Value dO = k.load(qTile, DOa, {c.bIdx, m0, c.col(offDO)}, qMask);
    Value kvEnd = causal ? k.minIdx(c.T, k.add(m0, tm)) : c.T;
    bool kvMasked = ekv->needsMask() || dMasked;
    // Column starts outside the loops: the ring prologue issues the first k-tiles' copies before a loop.
    Value colK = c.col(offK), colV = c.col(offV);
    auto loadKV = [&](Value n0) {
      Value mk = kvMasked ? k.bounds(kvTile, {n0, c.zero}, {c.T, c.hdV}) : Value();
      // K before V (named statements: argument evaluation order is unspecified).
      Value kt = k.load(kvTile, Ka, {c.bIdx, n0, colK}, mk, kLat, L.b.getI64IntegerAttr(0));
      Value vt = k.load(kvTile, Va, {c.bIdx, n0, colV}, mk, vLat, L.b.getI64IntegerAttr(1));
      return std::make_pair(kt, vt);
    };
    Value rowMask = eq->needsMask() ? k.bounds(colT, {m0, c.zero}, {c.T, k.idx(1)}) : Value();
    Value lse, Dv;
    if (saved) {
      // The forward's lse and output: no pass 1.
      lse = k.load(colT, LSE, {c.bIdx, c.h, m0, c.zero}, rowMask);
      Value o = k.load(qTile, body->getArgument(7), {c.bIdx, m0, c.col0}, qMask);
      Dv = k.reduce(ReduceKind::sum, k.mulT(dO, o), 1);
    } else {
      // Pass 1: the forward online softmax (m, l, unnormalised O).
      auto fwd = k.loop(
          c.zero, kvEnd, k.idx(tn),
          ValueRange{k.splat(colT, floor->getFloat(), *floor), k.splat(colT, 0.0),
                     k.splat(qTile, 0.0)},
          [&](Value n0, ValueRange it) -> SmallVector<Value> {
            auto [kt, vt] = loadKV(n0);
            Value s = scores(k, c, q, kt, m0, n0, /*queryTail=*/false);
            Value mNew = k.maxT(it[0], k.reduce(ReduceKind::max, s, 1));
            Value p = k.exp(k.subT(s, k.bcast(mNew, sT)));
            Value alpha = k.exp(k.subT(it[0], mNew));
            Value lNew = k.addT(k.mulT(it[1], alpha), k.reduce(ReduceKind::sum, p, 1));
            Value acc = k.mma(qTile, p, vt, k.mulT(it[2], k.bcast(alpha, qTile)), false, false);
            return {mNew, lNew, acc};
          });
      Value m = fwd.getResult(0), l = fwd.getResult(1);
      Value o = k.divT(fwd.getResult(2), k.bcast(l, qTile));
      lse = k.addT(m, k.log(l));
      Dv = k.reduce(ReduceKind::sum, k.mulT(dO, o), 1);
    }
    // Pass 2: dq = scale · Σ_s dS k with dS = P (dP - D).
    Value lseB = k.bcast(lse, sT), DB = k.bcast(Dv, sT);
    auto bwd = k.loop(c.zero, kvEnd, k.idx(tn), ValueRange{k.splat(qTile, 0.0)},
                      [&](Value n0, ValueRange it) -> SmallVector<Value> {
                        auto [kt, vt] = loadKV(n0);
                        Value p = k.exp(k.subT(scores(k, c, q, kt, m0, n0, false), lseB));
                        Value dP = k.mma(sT, dO, vt, k.splat(sT, 0.0), false, true);
                        Value dS = k.mulT(p, k.subT(dP, DB));
                        return {k.mma(qTile, dS, kt, it[0], false, false)};
                      });
    k.store(k.mulT(bwd.getResult(0), k.splat(qTile, scale)), DQ, {c.bIdx, m0, c.col(offDQ)}, qMask);
    if (!saved)
      k.store(lse, LSE, {c.bIdx, c.h, m0, c.zero}, rowMask);
    k.store(Dv, Dd, {c.bIdx, c.h, m0, c.zero}, rowMask);
    k.ret();
  }
  Value gridQ = L.gridFromDim(Q, 1, tm);
  Value gridBH = arith::MulIOp::create(L.b, L.loc(), L.hostDim(Q, 0), L.hostIdx(H));
  L.launch(k1, {gridQ, gridBH}, args1);

  // Kernel 2: dk, dv per key tile, over the query tiles that see it.
  SmallVector<Value> args2 = {Q, K, V, DO, lseBuf, dBuf, grads[1], grads[2]};
  std::string math2 = llvm::formatv(
      "per head: P = exp(q k^T * {0} - lse){1}; dv = sum_t P^T dO; dk = {0} * sum_t "
      "(P (dO v^T - D))^T q  (query tiles in a fixed order: deterministic)",
      fmtNum(scale), causal ? " (causal: query tiles from the diagonal)" : "").str() + offsets;
  KernelOp k2 = L.newKernel("attention_grad_dkdv", args2, {gk, gbh}, math2, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &k2.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value Qa = body->getArgument(0), Ka = body->getArgument(1), Va = body->getArgument(2),
          DOa = body->getArgument(3), LSE = body->getArgument(4), Dd = body->getArgument(5),
          DK = body->getArgument(6), DV = body->getArgument(7);
    Ctx c = headIndex(k, Qa);
    Value n0 = k.mul(k.pid(0), tn);
    TileType kvTile = k.f32({tn, dp}), qTile = k.f32({tm, dp}, MemorySpace::smem);
    TileType sT = k.f32({tm, tn}), colT = k.f32({tm, 1});
    bool kvMasked = ekv->needsMask() || dMasked;
    // This program's K and V tiles are read only as mma operands (b^T of q k^T and of dO v^T) on every step of the
    // query loop: with bf16 tensor-core operands (law mma_bits = 16) they are shared tiles, loaded once (the cuda
    // target stores them as bf16, half a register tile's staging); otherwise register tiles, which the cuda target
    // stages through scratch for each of those mma's (two f32 shared tiles of 128 x 128 would not fit beside the
    // query loop's).
    LawAttr bits = cfg->getLaw("mma_bits");
    bool sharedKV = bits && bits.isInteger() && bits.getInt() == 16;
    TileType kvShared = sharedKV ? k.f32({tn, dp}, MemorySpace::smem) : kvTile;
    Value kvMask = kvMasked ? k.bounds(kvShared, {n0, c.zero}, {c.T, c.hdV}) : Value();
    Value kt = k.load(kvShared, Ka, {c.bIdx, n0, c.col(offK)}, kvMask);
    Value vt = k.load(kvShared, Va, {c.bIdx, n0, c.col(offV)}, kvMask);
    // Causal: query tiles before the one holding row n0 see none of these keys.
    Value start = causal ? k.mul(k.divui(n0, tm), tm) : c.zero;
    bool qMasked = eq->needsMask() || dMasked;
    Value colQ = c.col(offQ), colDO = c.col(offDO);  // outside the loop (ring prologue)
    auto loop = k.loop(
        start, c.T, k.idx(tm), ValueRange{k.splat(kvTile, 0.0), k.splat(kvTile, 0.0)},
        [&](Value m0, ValueRange it) -> SmallVector<Value> {
          Value qm = qMasked ? k.bounds(qTile, {m0, c.zero}, {c.T, c.hdV}) : Value();
          Value q = k.load(qTile, Qa, {c.bIdx, m0, colQ}, qm, kLat, L.b.getI64IntegerAttr(0));
          Value dO = k.load(qTile, DOa, {c.bIdx, m0, colDO}, qm, vLat, L.b.getI64IntegerAttr(1));
          Value rm = eq->needsMask() ? k.bounds(colT, {m0, c.zero}, {c.T, k.idx(1)}) : Value();
          Value lse = k.load(colT, LSE, {c.bIdx, c.h, m0, c.zero}, rm);
          Value Dv = k.load(colT, Dd, {c.bIdx, c.h, m0, c.zero}, rm);
          Value s = scores(k, c, q, kt, m0, n0, /*queryTail=*/true);
          Value p = k.exp(k.subT(s, k.bcast(lse, sT)));
          Value dv = k.mma(kvTile, p, dO, it[0], /*ta=*/true, false);
          Value dP = k.mma(sT, dO, vt, k.splat(sT, 0.0), false, true);
          Value dS = k.mulT(p, k.subT(dP, k.bcast(Dv, sT)));
          Value dk = k.mma(kvTile, dS, q, it[1], /*ta=*/true, false);
          return {dv, dk};
        });
    Value outMask = kvMasked ? k.bounds(kvTile, {n0, c.zero}, {c.T, c.hdV}) : Value();
    k.store(k.mulT(loop.getResult(1), k.splat(kvTile, scale)), DK, {c.bIdx, n0, c.col(offDK)}, outMask);
    k.store(loop.getResult(0), DV, {c.bIdx, n0, c.col(offDV)}, outMask);
    k.ret();
  }
  L.launch(k2, {L.gridFromDim(Q, 1, tn), gridBH}, args2);
  return success();
}

//--- embed_grad --------------------------------------------------------------------------

/// Tokens per chunk of the deterministic embed_grad (kEmbedGradChunk below).
static constexpr int64_t kEmbedGradChunk = 128;

/// embed_grad(dy[..., C], ids[...]){vocab} → dtable [V, C], deterministic (no
/// atomics: every row is summed in one fixed order, so two runs give the same
/// bits on every target). The N tokens are cut into chunks of K =
/// kEmbedGradChunk:
///   zero     dtable = 0
///   chunk    one program per token r: when r is the first token of its chunk
///            with its id, partial[r] = Σ dy[q] over the tokens q >= r of the
///            chunk with that id, q ascending (a scalar loop of at most K
///            steps; a row is read only where the id matches). Ids outside
///            [0, V) add nothing and set status[0] = 1.
///   reduce   one program per token r: when r is the first token with its id
///            at all (no match in ids[0, r): r/K tiles of K ids), dtable[id]
///            = Σ over the chunks from r's on, in order, of partial[the
///            chunk's first token with that id].
/// Cost: chunk ≤ K scalar steps per chunk-first token; reduce r/K + (N-r)/K
/// K-wide tile compares per token. GPT-2 (N = B·T = 16384, K = 128): ≤ 2M
/// masked row steps and ≈ 2M 128-wide compares, against 16384 row atomics
/// for the atomic scheme; scratch partial [N, C] (50 MB at C = 768).
static LogicalResult lowerEmbedGrad(Lowering &L) {
  if (failed(L.expectOperands(2, 2)))
    return failure();
  Operation *op = L.op();
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  auto resT = cast<RankedTensorType>(op->getResult(0).getType());
  if (resT.getRank() != 2 || resT.isDynamicDim(0) || resT.isDynamicDim(1))
    return op->emitError("embed_grad lowering needs a static [V, C] result, got ") << resT;
  int64_t V = resT.getShape()[0], C = resT.getShape()[1], cp = rules::nextPowerOf2(C);
  if (L.rtype(op->getOperand(0)).getShape().back() != C)
    return op->emitError("embed_grad: dy's last dim must be ") << C;
  const int64_t K = kEmbedGradChunk;
  // Zero fill through the flat map (allocates and maps the result).
  if (failed(emitMap(L, "embed_grad_zero", "dtable[i] = 0", ValueRange{}, op->getResult(0),
                     *cfg, [](KernelBuilder &k, ArrayRef<Value>, TileType t) {
                       return k.splat(t, 0.0);
                     })))
    return failure();
  Value table = L.buf(op->getResult(0));
  Value status = L.statusBuffer();
  if (!status)
    return op->emitError("cannot add the status argument to the host function");
  Value dy = L.rows2D(L.buf(op->getOperand(0)));
  Value ids = L.flat(L.buf(op->getOperand(1)));
  int64_t rows = cast<BufferType>(dy.getType()).getShape()[0];
  SmallVector<Value> rowSizes;
  if (ShapedType::isDynamic(rows))
    rowSizes.push_back(L.hostDim(dy, 0));
  Value partial = L.alloc({rows, C}, L.b.getF32Type(), rowSizes);

  // Shared pieces of both kernels: the token's id and whether it is in [0, V).
  struct Id {
    Value id, valid;
  };
  auto readId = [&](KernelBuilder &k, Value Ids, Value r) {
    Value id = ExtractOp::create(L.b, k.loc, L.b.getI32Type(), k.load(k.i32({1}), Ids, {r}),
                                 L.b.getDenseI64ArrayAttr({0}));
    Value valid = arith::AndIOp::create(
        L.b, k.loc,
        arith::CmpIOp::create(L.b, k.loc, arith::CmpIPredicate::sge, id,
                              arith::ConstantIntOp::create(L.b, k.loc, L.b.getI32Type(), 0)),
        arith::CmpIOp::create(L.b, k.loc, arith::CmpIPredicate::slt, id,
                              arith::ConstantIntOp::create(L.b, k.loc, L.b.getI32Type(), V)));
    return Id{id, valid};
  };
  // Whether any of the K ids at c0 (those below `limit`) equals `id`: a tile<1xf32> max-accumulator input.
  TileType chunkI = TileType::get({K}, L.b.getI32Type());
  auto matches = [&](KernelBuilder &k, Value Ids, Value c0, Value limit, Value id) {
    Value inRange = k.bounds(chunkI, {c0}, {limit});
    Value eq = k.cmp(CmpPredicate::eq, k.load(chunkI, Ids, {c0}, inRange), k.bcast(id, chunkI));
    return k.andMask(inRange, eq);
  };
  auto boolT = [&](KernelBuilder &k, Value b, TileType t) {
    return k.bcast(k.bcast(b, TileType::get(SmallVector<int64_t>(t.getRank(), 1), L.b.getI1Type())),
                   t.getMaskType());
  };

  // Kernel 1: per-chunk partial sums, at each chunk's first token of an id.
  SmallVector<Value> args1 = {dy, ids, partial, status};
  std::string math1 = llvm::formatv(
      "chunks of {0} tokens; if r is its chunk's first token with id v = ids[r]: partial[r, c] = "
      "sum_(q = r .. chunk end, ids[q] = v, in order) dy[q, c]  (no atomics; ids outside [0, {1}) add "
      "nothing and set status[0] = 1)",
      K, V).str();
  KernelOp k1 = L.newKernel("embed_grad_chunk", args1, {"rows"}, math1, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &k1.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value DY = body->getArgument(0), Ids = body->getArgument(1), Part = body->getArgument(2),
          St = body->getArgument(3);
    Value r = k.pid(0), zero = k.idx(0), N = k.dim(Ids, 0);
    Id t = readId(k, Ids, r);
    Value c0 = k.mul(k.divui(r, K), K);
    Value end = k.minIdx(k.add(c0, K), N);
    // First of its chunk: no earlier token of the chunk has the id.
    Value seen = k.reduce(ReduceKind::max,
                          k.select(matches(k, Ids, c0, r, t.id), k.splat(k.f32({K}), 1.0),
                                   k.splat(k.f32({K}), 0.0)),
                          0);
    Value first = arith::AndIOp::create(
        L.b, k.loc, t.valid,
        arith::CmpFOp::create(L.b, k.loc, arith::CmpFPredicate::OLT,
                              ExtractOp::create(L.b, k.loc, L.b.getF32Type(), seen,
                                                L.b.getDenseI64ArrayAttr({0})),
                              arith::ConstantFloatOp::create(L.b, k.loc, L.b.getF32Type(),
                                                             llvm::APFloat(0.5f))));
    TileType rowT = k.f32({1, cp});
    Value colMask = C % cp != 0 ? k.bounds(rowT, {zero, zero}, {k.idx(1), k.idx(C)}) : Value();
    // q from r to the chunk's end (no steps unless first).
    Value ub = arith::SelectOp::create(L.b, k.loc, first, end, r);
    auto loop = k.loop(r, ub, k.idx(1), ValueRange{k.splat(rowT, 0.0)},
                       [&](Value q, ValueRange acc) -> SmallVector<Value> {
                         Value idq = ExtractOp::create(L.b, k.loc, L.b.getI32Type(),
                                                       k.load(k.i32({1}), Ids, {q}),
                                                       L.b.getDenseI64ArrayAttr({0}));
                         Value same = arith::CmpIOp::create(L.b, k.loc, arith::CmpIPredicate::eq, idq, t.id);
                         Value g = k.load(rowT, DY, {q, zero}, k.andMask(boolT(k, same, rowT), colMask));
                         return {k.addT(acc[0], g)};
                       });
    k.store(loop.getResult(0), Part, {r, zero}, k.andMask(boolT(k, first, rowT), colMask));
    Value bad = arith::XOrIOp::create(L.b, k.loc, t.valid,
                                      arith::ConstantIntOp::create(L.b, k.loc, L.b.getI1Type(), 1));
    TileType st = k.i32({1});
    k.store(k.splatInt(st, 1), St, {zero}, k.bcast(bad, st.getMaskType()));
    k.ret();
  }
  L.launch(k1, {L.hostDim(dy, 0)}, args1);

  // Kernel 2: each id's chunk partials, in chunk order, by its first token.
  SmallVector<Value> args2 = {ids, partial, table};
  std::string math2 = llvm::formatv(
      "if r is the first token with id v = ids[r] (in [0, {0})): dtable[v, c] = sum_(chunks j of {1} tokens "
      "from r's, in order) partial[first token of chunk j with id v, c]",
      V, K).str();
  KernelOp k2 = L.newKernel("embed_grad_reduce", args2, {"rows"}, math2, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &k2.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value Ids = body->getArgument(0), Part = body->getArgument(1), Tab = body->getArgument(2);
    Value r = k.pid(0), zero = k.idx(0), N = k.dim(Ids, 0);
    Id t = readId(k, Ids, r);
    TileType chunkF = k.f32({K});
    // Seen before r: an elementwise max over the chunks [0, r), one reduction after the loop.
    auto seenLoop = k.loop(zero, r, k.idx(K), ValueRange{k.splat(chunkF, 0.0)},
                           [&](Value c0, ValueRange acc) -> SmallVector<Value> {
                             Value hit = k.select(matches(k, Ids, c0, r, t.id), k.splat(chunkF, 1.0),
                                                  k.splat(chunkF, 0.0));
                             return {k.maxT(acc[0], hit)};
                           });
    Value seen = ExtractOp::create(L.b, k.loc, L.b.getF32Type(),
                                   k.reduce(ReduceKind::max, seenLoop.getResult(0), 0),
                                   L.b.getDenseI64ArrayAttr({0}));
    Value first = arith::AndIOp::create(
        L.b, k.loc, t.valid,
        arith::CmpFOp::create(L.b, k.loc, arith::CmpFPredicate::OLT, seen,
                              arith::ConstantFloatOp::create(L.b, k.loc, L.b.getF32Type(),
                                                             llvm::APFloat(0.5f))));
    TileType rowT = k.f32({1, cp});
    Value colMask = C % cp != 0 ? k.bounds(rowT, {zero, zero}, {k.idx(1), k.idx(C)}) : Value();
    // Chunks from r's to the last (none unless first); in each, the first position with the id: the max of
    // K - i over the matching lanes i.
    Value lb = arith::SelectOp::create(L.b, k.loc, first, k.mul(k.divui(r, K), K), N);
    Value revIota = k.subT(k.splatInt(chunkI, K), IotaOp::create(L.b, k.loc, chunkI, 0));
    auto sumLoop = k.loop(lb, N, k.idx(K), ValueRange{k.splat(rowT, 0.0)},
                          [&](Value c0, ValueRange acc) -> SmallVector<Value> {
                            Value key = k.select(matches(k, Ids, c0, N, t.id), revIota, k.splatInt(chunkI, 0));
                            Value best = ExtractOp::create(L.b, k.loc, L.b.getI32Type(),
                                                           k.reduce(ReduceKind::max, key, 0),
                                                           L.b.getDenseI64ArrayAttr({0}));
                            Value found = arith::CmpIOp::create(
                                L.b, k.loc, arith::CmpIPredicate::sgt, best,
                                arith::ConstantIntOp::create(L.b, k.loc, L.b.getI32Type(), 0));
                            // p = c0 + K - best (c0 when not found: that row is then masked off).
                            Value off = arith::IndexCastOp::create(
                                L.b, k.loc, L.b.getIndexType(),
                                arith::SelectOp::create(
                                    L.b, k.loc, found,
                                    arith::SubIOp::create(
                                        L.b, k.loc, arith::ConstantIntOp::create(L.b, k.loc, L.b.getI32Type(), K),
                                        best),
                                    arith::ConstantIntOp::create(L.b, k.loc, L.b.getI32Type(), 0)));
                            Value g = k.load(rowT, Part, {k.add(c0, off), zero},
                                             k.andMask(boolT(k, found, rowT), colMask));
                            return {k.addT(acc[0], g)};
                          });
    // The id's row (row 0 when the id is invalid: the store is masked off then).
    Value row = arith::SelectOp::create(
        L.b, k.loc, t.valid, arith::IndexCastOp::create(L.b, k.loc, L.b.getIndexType(), t.id), zero);
    k.store(sumLoop.getResult(0), Tab, {row, zero}, k.andMask(boolT(k, first, rowT), colMask));
    k.ret();
  }
  L.launch(k2, {L.hostDim(dy, 0)}, args2);
  return success();
}

void spak::tile::populateBackwardLowerings(LoweringTable &table) {
  table["relu_grad"] = lowerReluGrad;
  table["gelu_grad"] = lowerGeluGrad;
  table["rmsnorm_grad"] = lowerRmsNormGrad;
  table["layernorm_grad"] = lowerLayerNormGrad;
  table["softmax_grad"] = lowerSoftmaxGrad;
  table["cross_entropy_grad"] = lowerCrossEntropyGrad;
  table["attention_grad"] = lowerAttentionGrad;
  table["embed_grad"] = lowerEmbedGrad;
}
