//===- GraphToTileOptimizer.cpp - optimizer ops → tile programs -----------===//
//
//   adam            one flat kernel per parameter. The learning rate of the
//                   step is computed ON DEVICE from the step buffer (rank-0
//                   i32/i64 → buffer<1x...>; or [s, total_steps] →
//                   buffer<2x...>, the schedule length read on device
//                   too), so a whole train step can be
//                   captured once as a CUDA graph and replayed: warmup
//                   lr (s+1)/(W+1), then constant / linear_decay / cosine (cos
//                   by a degree-13 odd polynomial of sin on [-pi/2, pi/2],
//                   |error| < 1e-9), bias corrections 1 - beta^t =
//                   1 - exp(t ln beta). The update is in place (the results
//                   are the parameter / moment buffers) when this adam is the
//                   last use of them, which is the case in @train_step.
//   clip_grad_norm  deterministic global norm: per gradient a kernel of
//                   block partial sums of squares into one partials buffer,
//                   one single-program kernel summing them in order (norm and
//                   the factor min(1, max_norm / (norm + 1e-6))), then per
//                   gradient a scale kernel (in place when possible).
//
//===----------------------------------------------------------------------===//
#include "spak/Conversion/GraphToTile/Lowering.h"
#include "spak/Rules/Laws.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <map>

using namespace mlir;
using namespace spak;
using namespace spak::tile;

/// The buffer of `result`: the operand's buffer when this op is the last use
/// of `operand` (in-place update), else a fresh allocation. Host-function
/// arguments are only updated in place when `args` (adam's parameters and
/// moments; the result then says `spak.in_place_of` when returned).
static FailureOr<Value> inPlaceOrAlloc(Lowering &L, Value operand, Value result, bool args) {
  if ((args || !isa<BlockArgument>(operand)) && L.isLastUse(operand) &&
      L.rtype(operand) == result.getType()) {
    Value b = L.buf(operand);
    L.mapValue(result, b);
    return b;
  }
  return L.allocFor(result);
}

//--- adam ----------------------------------------------------------------------

/// The step operand's scalars (GraphOptimizerOps.td), each as a tile<1xf32>
/// (exact below 2^24): the 0-based step s and the schedule length, the
/// run-time [s, N]'s N when N > 0, else `defaultTotal` (the total_steps
/// attribute; always for a rank-0 step). `S` is the step buffer.
std::pair<Value, Value> spak::tile::emitStepScalars(KernelBuilder &k, Value S, RankedTensorType stepT,
                                                    int64_t defaultTotal) {
  Type elt = stepT.getElementType();
  TileType one = k.f32({1});
  bool pair = stepT.getRank() == 1;
  Value raw = k.load(TileType::get({pair ? 2 : 1}, elt), S, {k.idx(0)});
  auto elem = [&](int64_t i) {
    Value e = ExtractOp::create(k.b, k.loc, elt, raw, k.b.getDenseI64ArrayAttr({i}));
    return k.bcast(arith::SIToFPOp::create(k.b, k.loc, k.b.getF32Type(), e), one);
  };
  Value s = elem(0);
  Value total = k.splat(one, static_cast<double>(defaultTotal));
  if (pair) {
    Value n = elem(1);
    total = k.select(k.cmp(CmpPredicate::gt, n, k.splat(one, 0.0)), n, total);
  }
  return {s, total};
}

/// The scheduled learning rate at step s as a tile<1xf32> (GraphOptimizerOps.td).
Value spak::tile::emitLearningRate(KernelBuilder &k, Value s, double lr, StringRef schedule,
                              int64_t warmup, double minLr, Value total) {
  TileType t = k.f32({1});
  auto c = [&](double v) { return k.splat(t, v); };
  auto minT = [&](Value a, Value b) {
    return NegOp::create(k.b, k.loc, k.maxT(NegOp::create(k.b, k.loc, a),
                                            NegOp::create(k.b, k.loc, b)));
  };
  Value sched = c(lr);
  if (schedule == "linear_decay") {
    sched = k.mulT(c(lr), k.subT(c(1.0), k.divT(s, total)));
  } else if (schedule == "cosine") {
    // span = total - warmup, taken as 1 when not positive (a run-time total <= warmup).
    Value span = k.subT(total, c(static_cast<double>(warmup)));
    span = k.select(k.cmp(CmpPredicate::gt, span, c(0.0)), span, c(1.0));
    Value r = k.divT(k.subT(s, c(static_cast<double>(warmup))), span);
    r = minT(k.maxT(r, c(0.0)), c(1.0));
    // cos(pi r) = -sin(y), y = pi r - pi/2 in [-pi/2, pi/2]; Horner in y^2.
    Value y = k.subT(k.mulT(r, c(M_PI)), c(M_PI / 2));
    Value y2 = k.mulT(y, y);
    const double coef[] = {1.0, -1.0 / 6, 1.0 / 120, -1.0 / 5040, 1.0 / 362880,
                           -1.0 / 39916800, 1.0 / 6227020800.0};
    Value poly = c(coef[6]);
    for (int i = 5; i >= 0; --i)
      poly = k.addT(k.mulT(poly, y2), c(coef[i]));
    Value cosv = NegOp::create(k.b, k.loc, k.mulT(poly, y));
    sched = k.addT(c(minLr), k.mulT(k.mulT(c(0.5), k.addT(c(1.0), cosv)), c(lr - minLr)));
    // Past total_steps: min_lr.
    sched = k.select(k.cmp(CmpPredicate::gt, s, total), c(minLr), sched);
  }
  if (warmup > 0) {
    Value warm = k.mulT(c(lr), k.divT(k.addT(s, c(1.0)), c(static_cast<double>(warmup + 1))));
    sched = k.select(k.cmp(CmpPredicate::lt, s, c(static_cast<double>(warmup))), warm, sched);
  }
  return sched;
}

/// adam(p, g, m, v, step){lr, beta1, beta2, eps, weight_decay, schedule,
/// warmup, min_lr, total_steps} → (p', m', v').
static LogicalResult lowerAdam(Lowering &L) {
  if (failed(L.expectOperands(5, 5, 3)))
    return failure();
  Operation *op = L.op();
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  RankedTensorType pT = L.rtype(op->getOperand(0));
  for (unsigned i = 1; i < 4; ++i)
    if (L.rtype(op->getOperand(i)) != pT)
      return op->emitError("adam lowering needs param, grad, m, v of one type, got ")
             << L.rtype(op->getOperand(i)) << " for operand #" << i;
  if (!pT.getElementType().isF32())
    return op->emitError("adam lowering handles f32 parameters");
  RankedTensorType stepT = L.rtype(op->getOperand(4));
  if (!isa<IntegerType>(stepT.getElementType()) ||
      !(stepT.getRank() == 0 || (stepT.getRank() == 1 && stepT.getDimSize(0) == 2)))
    return op->emitError("adam's step must be a rank-0 integer tensor or the pair [step, total_steps]");
  bool runTimeTotal = stepT.getRank() == 1;
  double lr = L.floatAttr("lr", 0.0), b1 = L.floatAttr("beta1", 0.9),
         b2 = L.floatAttr("beta2", 0.999), eps = L.floatAttr("eps", 1e-8),
         wd = L.floatAttr("weight_decay", 0.0), minLr = L.floatAttr("min_lr", 0.0);
  int64_t warmup = L.intAttr("warmup", 0), total = L.intAttr("total_steps", 0);
  auto schedAttr = op->getAttrOfType<StringAttr>("schedule");
  StringRef schedule = schedAttr ? schedAttr.getValue() : "constant";
  if (schedule != "constant" && schedule != "linear_decay" && schedule != "cosine")
    return op->emitError("unknown lr schedule '") << schedule << "'";
  if (schedule != "constant" && total <= 0)
    return op->emitError("schedule '") << schedule << "' needs total_steps > 0";
  if (!(b1 > 0 && b1 < 1) || !(b2 > 0 && b2 < 1))
    return op->emitError("adam betas must be in (0, 1)");

  SmallVector<Value> outs;
  for (unsigned i = 0; i < 3; ++i) {
    Value operand = op->getOperand(i == 0 ? 0 : i + 1); // p, m, v
    FailureOr<Value> out = inPlaceOrAlloc(L, operand, op->getResult(i), /*args=*/true);
    if (failed(out))
      return failure();
    outs.push_back(L.flat(*out));
  }
  int64_t n = product(pT.getShape());
  ExtentAttr en = rules::coverDim(op->getContext(), n, elementwiseBlock(*cfg));
  int64_t blk = en.getTile();
  SmallVector<Value> args = {L.flat(L.buf(op->getOperand(0))), L.flat(L.buf(op->getOperand(1))),
                             L.flat(L.buf(op->getOperand(2))), L.flat(L.buf(op->getOperand(3))),
                             L.buf(op->getOperand(4))};
  args.append(outs);
  // The schedule length: N = step[1] read on device (the default when <= 0), or the compiled total.
  std::string totalText =
      runTimeTotal ? std::string("N") : std::to_string(total);
  std::string lrText =
      schedule == "constant"
          ? fmtNum(lr)
          : schedule == "linear_decay"
                ? llvm::formatv("{0} (1 - s / {1})", fmtNum(lr), totalText).str()
                : llvm::formatv("cosine({0} -> {1}, {2} steps)", fmtNum(lr), fmtNum(minLr), totalText)
                      .str();
  if (warmup > 0)
    lrText += llvm::formatv(", warmup {0}", warmup).str();
  if (runTimeTotal && schedule != "constant")
    lrText += llvm::formatv(", N = step[1] on device (<= 0: {0})", total).str();
  std::string math = llvm::formatv(
      "lr_s = {0}; {1}m = {2} m + {3} g; v = {4} v + {5} g^2; "
      "p -= lr_s (m / (1 - {2}^t)) / (sqrt(v / (1 - {4}^t)) + {6}), t = s + 1  (s read on device)",
      lrText, wd != 0.0 ? "p -= lr_s " + fmtNum(wd) + " p; " : std::string(), fmtNum(b1), fmtNum(1 - b1), fmtNum(b2), fmtNum(1 - b2), fmtNum(eps))
                         .str();
  KernelOp kernel = L.newKernel(wd != 0.0 ? "adamw" : "adam", args, {ceilDivStr("n", blk)}, math,
                                *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value P = body->getArgument(0), G = body->getArgument(1), M = body->getArgument(2),
          Vv = body->getArgument(3), S = body->getArgument(4), PO = body->getArgument(5),
          MO = body->getArgument(6), VO = body->getArgument(7);
    // The step and the schedule length as f32 (exact below 2^24 steps).
    TileType one = k.f32({1});
    auto [s, totalS] = emitStepScalars(k, S, stepT, total);
    Value lrS = emitLearningRate(k, s, lr, schedule, warmup, minLr, totalS);
    Value t1 = k.addT(s, k.splat(one, 1.0));
    Value bc1 = k.subT(k.splat(one, 1.0), k.exp(k.mulT(t1, k.splat(one, std::log(b1)))));
    Value bc2 = k.subT(k.splat(one, 1.0), k.exp(k.mulT(t1, k.splat(one, std::log(b2)))));
    Value i0 = k.mul(k.pid(0), blk);
    TileType t = k.f32({blk});
    Value mask = en.needsMask() ? k.bounds(t, {i0}, {k.dim(P, 0)}) : Value();
    Value p = k.load(t, P, {i0}, mask), g = k.load(t, G, {i0}, mask);
    Value m = k.load(t, M, {i0}, mask), v = k.load(t, Vv, {i0}, mask);
    Value lrB = k.bcast(lrS, t);
    if (wd != 0.0)
      p = k.subT(p, k.mulT(k.mulT(lrB, k.splat(t, wd)), p));
    Value mN = k.addT(k.mulT(k.splat(t, b1), m), k.mulT(k.splat(t, 1 - b1), g));
    Value vN = k.addT(k.mulT(k.splat(t, b2), v), k.mulT(k.splat(t, 1 - b2), k.mulT(g, g)));
    Value mHat = k.divT(mN, k.bcast(bc1, t));
    Value vHat = k.divT(vN, k.bcast(bc2, t));
    Value upd = k.divT(mHat, k.addT(k.sqrt(vHat), k.splat(t, eps)));
    k.store(k.subT(p, k.mulT(lrB, upd)), PO, {i0}, mask);
    k.store(mN, MO, {i0}, mask);
    k.store(vN, VO, {i0}, mask);
    k.ret();
  }
  L.launch(kernel, {L.hostCeilDiv(L.hostIdx(n), blk)}, args);
  return success();
}

//--- clip_grad_norm --------------------------------------------------------------

/// clip_grad_norm(g_0, ..., g_n-1){max_norm} → (g_0 f, ..., g_n-1 f, norm),
/// f = min(1, max_norm / (norm + 1e-6)).
static LogicalResult lowerClipGradNorm(Lowering &L) {
  Operation *op = L.op();
  unsigned n = op->getNumOperands();
  if (n == 0 || op->getNumResults() != n + 1)
    return op->emitError("clip_grad_norm expects N gradients and N + 1 results");
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  double maxNorm = L.floatAttr("max_norm", 0.0);
  if (!(maxNorm > 0))
    return op->emitError("clip_grad_norm needs max_norm > 0");
  int64_t blk = elementwiseBlock(*cfg);
  // Block offsets of each gradient in the partials buffer: one partial per block of blk elements.
  SmallVector<int64_t> numel, base;
  int64_t total = 0;
  for (Value g : op->getOperands()) {
    RankedTensorType t = L.rtype(g);
    if (!t || !t.getElementType().isF32() || !t.hasStaticShape())
      return op->emitError("clip_grad_norm lowering needs static f32 gradients, got ")
             << L.ttype(g);
    numel.push_back(product(t.getShape()));
    base.push_back(total);
    total += (numel.back() + blk - 1) / blk;
  }
  Value partials = L.alloc({total}, L.b.getF32Type());
  // One kernel per size class (numel in (2^(c-1), 2^c], as the multi-tensor Adam): program b handles block b of
  // every member, so GPT-2's 148 gradients take a dozen launches per stage instead of 148. Classes whose tensors
  // need at most law min_ctas programs share class 0.
  tile::LawAttr minCtas = rules::lookupLaw(L.getModule(), "min_ctas");
  int64_t small = minCtas ? minCtas.getInt() * blk : 0;
  std::map<int64_t, SmallVector<unsigned>, std::greater<int64_t>> classes;
  for (unsigned i = 0; i < n; ++i) {
    int64_t c = llvm::Log2_64_Ceil(static_cast<uint64_t>(std::max<int64_t>(numel[i], 1)));
    classes[(int64_t(1) << c) <= small ? 0 : c].push_back(i);
  }
  auto classNote = [&](int64_t cls, size_t members) {
    return llvm::formatv("; size class of {0} tensor(s), ", members).str() +
           (cls == 0 ? llvm::formatv("at most {0} elements", small).str()
                     : llvm::formatv("{0} to {1} elements", (int64_t(1) << (cls - 1)) + 1, int64_t(1) << cls).str());
  };

  // 1. Sum of squares per block of each gradient.
  for (auto &[cls, members] : classes) {
    SmallVector<Value> args;
    int64_t maxN = 0;
    std::string math;
    for (unsigned i : members) {
      args.push_back(L.flat(L.buf(op->getOperand(i))));
      maxN = std::max(maxN, numel[i]);
      math += llvm::formatv("{0}partials[{1} + b] = sum_(i in block b) g{2}[i]^2", math.empty() ? "" : "; ",
                            base[i], args.size() - 1).str();
    }
    args.push_back(partials);
    KernelOp kernel = L.newKernel("grad_sumsq", args, {ceilDivStr("max numel", blk)}, math + classNote(cls, members.size()),
                                  *cfg);
    {
      OpBuilder::InsertionGuard guard(L.b);
      Block *body = &kernel.getBody().front();
      L.b.setInsertionPointToStart(body);
      KernelBuilder k{L.b, L.loc()};
      Value b0 = k.pid(0), i0 = k.mul(b0, blk);
      TileType t = k.f32({blk}), one = k.f32({1});
      for (auto [j, i] : llvm::enumerate(members)) {
        int64_t blocks = (numel[i] + blk - 1) / blk;
        // Programs past this member's blocks load nothing and store nothing.
        Value mask = k.bounds(t, {i0}, {k.idx(numel[i])});
        Value g = k.load(t, body->getArgument(j), {i0}, mask);
        Value sum = k.reduce(ReduceKind::sum, k.mulT(g, g), 0);
        Value mine = k.bounds(one, {b0}, {k.idx(blocks)});
        k.store(sum, body->getArgument(members.size()), {k.add(b0, base[i])}, mine);
      }
      k.ret();
    }
    L.launch(kernel, {L.hostIdx((maxN + blk - 1) / blk)}, args);
  }

  // 2. One program: the norm and the clip factor, partials summed in order.
  FailureOr<Value> normBuf = L.allocFor(op->getResult(n));
  if (failed(normBuf))
    return failure();
  Value factor = L.alloc({1}, L.b.getF32Type());
  int64_t chunk = std::min<int64_t>(rules::nextPowerOf2(total), rules::kSoftmaxChunk);
  SmallVector<Value> args2 = {partials, L.view(*normBuf, {1}), factor};
  KernelOp k2 = L.newKernel(
      "grad_norm", args2, {"1"},
      llvm::formatv("norm = sqrt(sum_b partials[b]); f = min(1, {0} / (norm + 1e-6))  (fixed "
                    "order: deterministic)",
                    fmtNum(maxNorm)).str(),
      *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &k2.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value zero = k.idx(0), totalV = k.idx(total);
    TileType t = k.f32({chunk}), one = k.f32({1});
    auto loop = k.loop(zero, totalV, k.idx(chunk), ValueRange{k.splat(one, 0.0)},
                       [&](Value c0, ValueRange it) -> SmallVector<Value> {
                         Value m = total % chunk ? k.bounds(t, {c0}, {totalV}) : Value();
                         Value x = k.load(t, body->getArgument(0), {c0}, m);
                         return {k.addT(it[0], k.reduce(ReduceKind::sum, x, 0))};
                       });
    Value norm = k.sqrt(loop.getResult(0));
    Value ratio = k.divT(k.splat(one, maxNorm), k.addT(norm, k.splat(one, 1e-6)));
    Value f = k.select(k.cmp(CmpPredicate::lt, ratio, k.splat(one, 1.0)), ratio,
                       k.splat(one, 1.0));
    k.store(norm, body->getArgument(1), {zero});
    k.store(f, body->getArgument(2), {zero});
    k.ret();
  }
  L.launch(k2, {L.hostIdx(1)}, args2);

  // 3. Scale each gradient by f (in place when this is its last use), one kernel per size class.
  for (auto &[cls, members] : classes) {
    SmallVector<Value> args, outs;
    int64_t maxN = 0;
    for (unsigned i : members) {
      FailureOr<Value> out = inPlaceOrAlloc(L, op->getOperand(i), op->getResult(i), /*args=*/false);
      if (failed(out))
        return failure();
      args.push_back(L.flat(L.buf(op->getOperand(i))));
      outs.push_back(L.flat(*out));
      maxN = std::max(maxN, numel[i]);
    }
    args.push_back(factor);
    args.append(outs.begin(), outs.end());
    KernelOp kernel = L.newKernel("grad_clip", args, {ceilDivStr("max numel", blk)},
                                  "y[i] = g[i] * f for each member" + classNote(cls, members.size()), *cfg);
    {
      OpBuilder::InsertionGuard guard(L.b);
      Block *body = &kernel.getBody().front();
      L.b.setInsertionPointToStart(body);
      KernelBuilder k{L.b, L.loc()};
      Value i0 = k.mul(k.pid(0), blk);
      TileType t = k.f32({blk});
      unsigned m = members.size();
      Value f = k.bcast(k.load(k.f32({1}), body->getArgument(m), {k.idx(0)}), t);
      for (auto [j, i] : llvm::enumerate(members)) {
        Value mask = k.bounds(t, {i0}, {k.idx(numel[i])});
        Value g = k.load(t, body->getArgument(j), {i0}, mask);
        k.store(k.mulT(g, f), body->getArgument(m + 1 + j), {i0}, mask);
      }
      k.ret();
    }
    L.launch(kernel, {L.hostIdx((maxN + blk - 1) / blk)}, args);
  }
  return success();
}

void spak::tile::populateOptimizerLowerings(LoweringTable &table) {
  table["adam"] = lowerAdam;
  table["clip_grad_norm"] = lowerClipGradNorm;
}
