//===- GraphToTileForward.cpp - forward ops → tile programs ---------------===//
//
// The kernels of the forward pass (see Lowering.h for the other families):
//   matmul      linear, matmul (batched or shared rank-2 operands, transpose
//               flags): tiled k-loop of masked loads + mma, bias epilogue
//   row         rmsnorm, layernorm (one pow2 row tile), softmax and
//               cross_entropy (online max/sum over column chunks, the floor)
//   attention   the flash loop (online softmax, K/V load latencies)
//   map         add sub mul (numpy trailing broadcasting) scale relu gelu:
//               a flat vectorised map, or a grouped 1-3 axis map when an
//               operand broadcasts
//   view        reshape (host side, no kernel)
// The laws each kernel reads come from the op's `spak.tile_config`, tile
// extents and masks from `spak.extents`, masking constants from `spak.floor`.
//
//===----------------------------------------------------------------------===//
#include "spak/Conversion/GraphToTile/Lowering.h"
#include "spak/Rules/Laws.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace spak;
using namespace spak::tile;

//--- matmul family -----------------------------------------------------------

namespace {
/// One matmul kernel: C[b] = op(A[b]) · op(B[b]) (+ bias). Operands are
/// rank-2 buffers, or rank-3 [batch, rows, cols] when `batched*` (grid axis 2
/// then runs over the batch). A is [M, K] ([K, M] with transA); B is [K, N]
/// ([N, K] with transB, the linear weight layout); C is [M, N].
struct MatmulSpec {
  StringRef base, math;
  Value a, bm, bias, out;
  bool transA = false, transB = false, batchedA = false, batchedB = false;
  ExtentAttr em, en, ek;
};
} // namespace

/// The largest run-time size of a dynamic dim when the module trains with a known batch · seq_len (`spak.train`,
/// the bound spak-pow2-masking assumes), else 0.
static int64_t trainRowsBound(ModuleOp module) {
  auto train = module->getAttrOfType<DictionaryAttr>("spak.train");
  auto seq = train ? train.getAs<IntegerAttr>("seq_len") : IntegerAttr();
  if (!seq || seq.getInt() <= 0)
    return 0;
  auto batch = train.getAs<IntegerAttr>("batch");
  return (batch && batch.getInt() > 0 ? batch.getInt() : 1) * seq.getInt();
}

/// Split-K: the k extent per stage-1 program when the matmul's output tile grid is static and below the law
/// `min_ctas` (a small grid over a long k: weight gradients, k = B·T rows), else 0 (one kernel). The chunk is the
/// law `split_k_chunk` rounded up to a multiple of tile_k, so a chunk never splits a k-step; a k of at most one
/// chunk (static, or dynamic bounded by spak.train's batch · seq_len) is not split.
static int64_t splitKChunk(Lowering &L, const MatmulSpec &s, ConfigAttr cfg, bool batched) {
  LawAttr minCtas = cfg.getLaw("min_ctas"), chunk = cfg.getLaw("split_k_chunk");
  if (batched || !minCtas || !chunk || !minCtas.isInteger() || !chunk.isInteger() || s.em.isDynamic() ||
      s.en.isDynamic())
    return 0;
  int64_t tm = s.em.getTile(), tn = s.en.getTile(), tk = s.ek.getTile();
  int64_t tiles = ((s.em.getSize() + tm - 1) / tm) * ((s.en.getSize() + tn - 1) / tn);
  if (tiles >= minCtas.getInt())
    return 0;
  int64_t kc = (chunk.getInt() + tk - 1) / tk * tk;
  int64_t kMax = s.ek.isDynamic() ? trainRowsBound(L.getModule()) : s.ek.getSize();
  if (kMax > 0 && kMax <= kc)
    return 0;
  return kc;
}

/// Stage 2 of a split-K matmul: C[m, n] = sum_j P[j, m, n] (+ bias[n]), the chunks in order from 0 (no atomics:
/// bit-identical between runs). Elementwise geometry: a [rows, tile_n] tile of vec_width·32·warps elements per
/// program, a loop over the chunks.
static void emitSplitKSum(Lowering &L, const MatmulSpec &s, ConfigAttr cfg, Value P, StringRef math) {
  MLIRContext *ctx = cfg.getContext();
  SmallVector<NamedAttribute> laws(cfg.getLaws().getValue());
  LawAttr vec = rules::lookupLaw(L.getModule(), "vec_width");
  laws.push_back(NamedAttribute(StringAttr::get(ctx, "vec_width"), vec));
  ConfigAttr sumCfg = ConfigAttr::get(ctx, DictionaryAttr::get(ctx, laws));
  int64_t tn = s.en.getTile(), M = s.em.getSize();
  int64_t rows = std::max<int64_t>(1, vec.getInt() * 32 * cfg.getInt("warps") / tn);
  rows = std::min<int64_t>(rows, llvm::PowerOf2Ceil(M));
  SmallVector<Value> args = {P};
  if (s.bias)
    args.push_back(s.bias);
  args.push_back(s.out);
  std::string g0 = ceilDivStr("M", rows), g1 = ceilDivStr("N", tn);
  KernelOp kernel = L.newKernel((s.base + "_splitk_sum").str(), args, {g0, g1}, math, sumCfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value Pa = body->getArgument(0), C = body->getArgument(s.bias ? 2 : 1);
    Value m0 = k.mul(k.pid(0), rows), n0 = k.mul(k.pid(1), tn), zero = k.idx(0);
    Value S = k.dim(Pa, 0), Mv = k.dim(Pa, 1), Nv = k.dim(Pa, 2);
    TileType t = k.f32({rows, tn});
    Value mask = (M % rows != 0 || s.en.needsMask()) ? k.bounds(t, {m0, n0}, {Mv, Nv}) : Value();
    auto loop = k.loop(zero, S, k.idx(1), ValueRange{k.splat(t, 0.0)},
                       [&](Value j, ValueRange it) -> SmallVector<Value> {
                         return {k.addT(it[0], k.load(t, Pa, {j, m0, n0}, mask))};
                       });
    Value result = loop.getResult(0);
    if (s.bias) {
      TileType biasT = k.f32({1, tn});
      Value bm = s.en.needsMask() ? k.bounds(biasT, {zero, n0}, {k.idx(1), Nv}) : Value();
      result = k.addT(result, k.bcast(k.load(biasT, body->getArgument(1), {zero, n0}, bm), t));
    }
    k.store(result, C, {m0, n0}, mask);
    k.ret();
  }
  L.launch(kernel, {L.gridFromDim(s.out, 0, rows), L.gridFromDim(s.out, 1, tn)}, args);
}

static LogicalResult emitMatmul(Lowering &L, const MatmulSpec &s) {
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  ExtentAttr em = s.em, en = s.en, ek = s.ek;
  int64_t tm = em.getTile(), tn = en.getTile(), tk = ek.getTile();
  auto outT = cast<BufferType>(s.out.getType());
  bool batched = outT.getRank() == 3;
  // Split-K: stage 1 writes per-chunk partials [chunks, M, N] (grid axis 2 over the chunks), stage 2 sums them.
  int64_t kc = splitKChunk(L, s, *cfg, batched);
  unsigned kDim = (s.batchedA ? 1 : 0) + (s.transA ? 0 : 1);
  Value partials;
  std::string math = s.math.str(), sumMath;
  if (kc) {
    int64_t M = em.getSize(), N = en.getSize(), K = ek.getSize();
    SmallVector<Value> sizes;
    if (ShapedType::isDynamic(K))
      sizes.push_back(L.hostCeilDiv(L.hostDim(s.a, kDim), kc));
    int64_t chunks = ShapedType::isDynamic(K) ? ShapedType::kDynamic : (K + kc - 1) / kc;
    partials = L.alloc({chunks, M, N}, L.b.getF32Type(), sizes);
    // "c[m, n] = sum_k a[k, m] * b[k, n]" → "p[j, m, n] = sum_(k in chunk j of kc) a[k, m] * b[k, n]" and
    // "c[m, n] = sum_j p[j, m, n]" (+ the bias term, added by stage 2).
    StringRef text = s.math;
    auto [lhs, rhs] = text.split(" = sum_k ");
    StringRef idx = lhs.substr(lhs.find('[') + 1).drop_back();
    StringRef bias;
    if (s.bias) {
      size_t plus = rhs.rfind(" + ");
      bias = rhs.substr(plus);
      rhs = rhs.take_front(plus);
    }
    math = llvm::formatv("p[j, {0}] = sum_(k in chunk j of {1}) {2}", idx, kc, rhs).str();
    sumMath = llvm::formatv("{0} = sum_j p[j, {1}]{2} (chunks in order: deterministic)", lhs, idx, bias).str();
  }
  Value C0 = kc ? partials : s.out;
  SmallVector<Value> args = {s.a, s.bm};
  if (s.bias && !kc)
    args.push_back(s.bias);
  args.push_back(C0);
  bool hasBias = s.bias && !kc;
  SmallVector<std::string> gridStr = {ceilDivStr("M", tm), ceilDivStr("N", tn)};
  if (batched)
    gridStr.push_back("batch");
  if (kc)
    gridStr.push_back(ceilDivStr("K", kc));
  SmallVector<StringRef> grid(gridStr.begin(), gridStr.end());
  KernelOp kernel = L.newKernel(kc ? (s.base + "_splitk").str() : s.base.str(), args, grid, math, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value A = body->getArgument(0), B = body->getArgument(1);
    Value Bias = hasBias ? body->getArgument(2) : Value();
    Value C = body->getArgument(hasBias ? 3 : 2);
    Value m0 = k.mul(k.pid(0), tm), n0 = k.mul(k.pid(1), tn);
    Value bIdx = batched ? k.pid(2) : Value();
    Value chunk = kc ? k.pid(2) : Value();
    unsigned cr = (batched || kc) ? 1 : 0; // first matrix dim of C
    Value M = k.dim(C, cr), N = k.dim(C, cr + 1);
    Value K = k.dim(A, kDim);
    Value zero = k.idx(0);
    // The k range of this program: all of k, or chunk j = [j·kc, min((j+1)·kc, K)).
    Value kLo = kc ? k.mul(chunk, kc) : zero;
    Value kHi = kc ? k.minIdx(k.add(kLo, kc), K) : K;
    TileType accT = k.f32({tm, tn});
    LawAttr stagesLaw = cfg->getLaw("stages");
    bool maskA = em.needsMask() || ek.needsMask();
    bool maskB = en.needsMask() || ek.needsMask();
    auto withBatch = [&](bool has, SmallVector<Value> off) {
      if (has)
        off.insert(off.begin(), bIdx);
      return off;
    };
    auto loop = k.loop(
        kLo, kHi, k.idx(tk), ValueRange{k.splat(accT, 0.0)},
        [&](Value k0, ValueRange it) -> SmallVector<Value> {
          // A tile: [tm, tk] at (m0, k0), or [tk, tm] at (k0, m0) when transposed.
          TileType aT = s.transA ? k.f32({tk, tm}, MemorySpace::smem)
                                 : k.f32({tm, tk}, MemorySpace::smem);
          SmallVector<Value> aOff = s.transA ? SmallVector<Value>{k0, m0}
                                             : SmallVector<Value>{m0, k0};
          SmallVector<Value> aBnd = s.transA ? SmallVector<Value>{K, M} : SmallVector<Value>{M, K};
          Value aMask = maskA ? k.bounds(aT, aOff, aBnd) : Value();
          Value aTile = k.load(aT, A, withBatch(s.batchedA, aOff), aMask, stagesLaw,
                               L.b.getI64IntegerAttr(0));
          TileType bT = s.transB ? k.f32({tn, tk}, MemorySpace::smem)
                                 : k.f32({tk, tn}, MemorySpace::smem);
          SmallVector<Value> bOff = s.transB ? SmallVector<Value>{n0, k0}
                                             : SmallVector<Value>{k0, n0};
          SmallVector<Value> bBnd = s.transB ? SmallVector<Value>{N, K} : SmallVector<Value>{K, N};
          Value bMask = maskB ? k.bounds(bT, bOff, bBnd) : Value();
          Value bTile = k.load(bT, B, withBatch(s.batchedB, bOff), bMask, stagesLaw,
                               L.b.getI64IntegerAttr(0));
          return {k.mma(accT, aTile, bTile, it[0], s.transA, s.transB)};
        });
    Value result = loop.getResult(0);
    if (Bias) {
      // Bias is viewed as [1, N] by the host.
      TileType biasT = k.f32({1, tn});
      Value bm = en.needsMask() ? k.bounds(biasT, {zero, n0}, {k.idx(1), N}) : Value();
      Value bt = k.load(biasT, Bias, {zero, n0}, bm);
      result = k.addT(result, k.bcast(bt, accT));
    }
    Value cMask =
        (em.needsMask() || en.needsMask()) ? k.bounds(accT, {m0, n0}, {M, N}) : Value();
    SmallVector<Value> cOff = {m0, n0};
    if (batched || kc)
      cOff.insert(cOff.begin(), batched ? bIdx : chunk);
    k.store(result, C, cOff, cMask);
    k.ret();
  }
  unsigned cr = (batched || kc) ? 1 : 0;
  SmallVector<Value> gridV = {L.gridFromDim(C0, cr, tm), L.gridFromDim(C0, cr + 1, tn)};
  if (batched || kc)
    gridV.push_back(L.hostDim(C0, 0));
  L.launch(kernel, gridV, args);
  if (kc)
    emitSplitKSum(L, s, *cfg, partials, sumMath);
  return success();
}

static LogicalResult lowerLinear(Lowering &L) {
  if (failed(L.expectOperands(2, 3)))
    return failure();
  Value x = L.op()->getOperand(0), w = L.op()->getOperand(1);
  RankedTensorType wT = L.rtype(w), xT = L.rtype(x);
  if (wT.getRank() != 2 || xT.getShape().back() != wT.getShape()[1])
    return L.op()->emitError("linear expects w[N, K] with K = the last dim of x");
  FailureOr<ExtentAttr> em = L.extent("m"), en = L.extent("n"), ek = L.extent("k");
  if (failed(em) || failed(en) || failed(ek))
    return failure();
  FailureOr<Value> y = L.allocFor(L.op()->getResult(0));
  if (failed(y))
    return failure();
  Value bias;
  if (L.op()->getNumOperands() == 3) {
    RankedTensorType bT = L.rtype(L.op()->getOperand(2));
    if (bT.getRank() != 1 || bT.getShape()[0] != wT.getShape()[0])
      return L.op()->emitError("linear bias must be [N] = [")
             << wT.getShape()[0] << "], got " << bT;
    bias = L.view(L.buf(L.op()->getOperand(2)), {1, wT.getShape()[0]});
  }
  MatmulSpec s;
  s.base = "linear";
  s.math = bias ? "y[m, n] = sum_k x[m, k] * w[n, k] + b[n]" : "y[m, n] = sum_k x[m, k] * w[n, k]";
  s.a = L.rows2D(L.buf(x));
  s.bm = L.buf(w);
  s.bias = bias;
  s.out = L.rows2D(*y);
  s.transB = true;
  s.em = *em, s.en = *en, s.ek = *ek;
  return emitMatmul(L, s);
}

/// matmul(a[..., M, K], b[..., K, N]) with transpose flags. A rank-2 `b`
/// (no transpose_a) flattens a's batch into rows: one GEMM. Otherwise each
/// operand's batch dims equal the result's or are absent (a shared rank-2
/// operand); the batch runs on grid axis 2.
static LogicalResult lowerMatmul(Lowering &L) {
  if (failed(L.expectOperands(2, 2)))
    return failure();
  Operation *op = L.op();
  RankedTensorType aT = L.rtype(op->getOperand(0)), bT = L.rtype(op->getOperand(1));
  auto cT = cast<RankedTensorType>(op->getResult(0).getType());
  if (aT.getRank() < 2 || bT.getRank() < 2)
    return op->emitError("matmul operands must have rank >= 2");
  bool transA = L.boolAttr("transpose_a"), transB = L.boolAttr("transpose_b");
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  FailureOr<Value> c = L.allocFor(op->getResult(0));
  if (failed(c))
    return failure();
  std::string math = llvm::formatv("c[{2}m, n] = sum_k {0} * {1}",
                                   transA ? "a[k, m]" : "a[m, k]", transB ? "b[n, k]" : "b[k, n]",
                                   cT.getRank() > 2 ? "..., " : "")
                         .str();
  MLIRContext *ctx = op->getContext();
  int64_t K = aT.getShape()[aT.getRank() - (transA ? 2 : 1)];
  MatmulSpec s;
  s.base = "matmul";
  s.math = math;
  s.transA = transA, s.transB = transB;
  s.bm = L.buf(op->getOperand(1));
  s.ek = rules::coverDim(ctx, K, cfg->getInt("tile_k"));
  int64_t N = cT.getShape().back();
  s.en = rules::coverDim(ctx, N, cfg->getInt("tile_n"));
  if (bT.getRank() == 2 && !transA) {
    // Rows of every batch in one GEMM.
    s.a = L.rows2D(L.buf(op->getOperand(0)));
    s.out = L.rows2D(*c);
    int64_t rows = cast<BufferType>(s.out.getType()).getShape()[0];
    s.em = rules::coverDim(ctx, rows, cfg->getInt("tile_m"));
    return emitMatmul(L, s);
  }
  ArrayRef<int64_t> batch = cT.getShape().drop_back(2);
  auto batchOf = [&](RankedTensorType t) { return t.getShape().drop_back(2); };
  for (RankedTensorType t : {aT, bT})
    if (t.getRank() != 2 && batchOf(t) != batch)
      return op->emitError("matmul lowering needs each operand's batch dims equal to the "
                           "result's or absent (rank 2); got ")
             << t << " for result " << cT;
  int64_t nb = product(batch);
  auto as3 = [&](Value v, RankedTensorType t) {
    if (t.getRank() == 2)
      return L.buf(v);
    return L.view(L.buf(v), {nb, t.getShape()[t.getRank() - 2], t.getShape().back()});
  };
  s.a = as3(op->getOperand(0), aT);
  s.bm = as3(op->getOperand(1), bT);
  s.batchedA = aT.getRank() > 2, s.batchedB = bT.getRank() > 2;
  int64_t M = cT.getShape()[cT.getRank() - 2];
  s.out = cT.getRank() == 2 ? *c : L.view(*c, {nb, M, N});
  s.em = rules::coverDim(ctx, M, cfg->getInt("tile_m"));
  return emitMatmul(L, s);
}

//--- row family ----------------------------------------------------------------

/// rmsnorm(x[, w]) / layernorm(x, w, b): one pow2 row tile per row.
static LogicalResult lowerNorm(Lowering &L, bool layer) {
  if (failed(L.expectOperands(layer ? 3 : 1, 3)))
    return failure();
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> er = L.extent("rows"), ec = L.extent("cols");
  if (failed(cfg) || failed(er) || failed(ec))
    return failure();
  double eps = L.floatAttr("eps", 1e-5);
  int64_t rt = er->getTile(), cp = ec->getTile(), cols = ec->getSize();
  FailureOr<Value> y = L.allocFor(L.op()->getResult(0));
  if (failed(y))
    return failure();
  SmallVector<Value> args = {L.rows2D(L.buf(L.op()->getOperand(0)))};
  bool hasW = L.op()->getNumOperands() >= 2, hasB = L.op()->getNumOperands() >= 3;
  for (unsigned i = 1; i < L.op()->getNumOperands(); ++i) {
    auto pT = cast<RankedTensorType>(L.ttype(L.op()->getOperand(i)));
    if (pT.getRank() != 1 || pT.getShape()[0] != cols)
      return L.op()->emitError("norm parameter #") << i << " must be [" << cols << "], got "
                                                      << pT;
    args.push_back(L.view(L.buf(L.op()->getOperand(i)), {1, cols}));
  }
  args.push_back(L.rows2D(*y));
  std::string math =
      layer ? llvm::formatv("mu = mean(x[r, :]); var = mean((x[r, :] - mu)^2); "
                            "y[r, c] = (x[r, c] - mu) * rsqrt(var + {0}) * w[c] + b[c]",
                            fmtNum(eps))
                  .str()
            : llvm::formatv("y[r, c] = x[r, c] * rsqrt(mean(x[r, :]^2) + {0}){1}",
                            fmtNum(eps), hasW ? " * w[c]" : "")
                  .str();
  std::string grid = ("ceildiv(rows, " + Twine(rt) + ")").str();
  KernelOp kernel = L.newKernel(layer ? "layernorm" : "rmsnorm", args, {grid}, math, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.op()->getLoc()};
    Value X = body->getArgument(0), Y = body->getArguments().back();
    Value r0 = k.mul(k.pid(0), rt), zero = k.idx(0);
    Value R = k.dim(X, 0), C = k.dim(X, 1);
    TileType rowT = k.f32({rt, cp}), colT = k.f32({rt, 1});
    bool masked = er->needsMask() || ec->needsMask();
    Value mask = masked ? k.bounds(rowT, {r0, zero}, {R, C}) : Value();
    Value x = k.load(rowT, X, {r0, zero}, mask);
    Value invC = k.splat(colT, 1.0 / static_cast<double>(cols));
    Value centered = x;
    if (layer) {
      Value mean = k.mulT(k.reduce(ReduceKind::sum, x, 1), invC);
      centered = k.subT(x, k.bcast(mean, rowT));
      // Padded lanes read 0; after centering they would hold -mean.
      if (ec->needsMask())
        centered = k.select(mask, centered, k.splat(rowT, 0.0));
    }
    Value ms = k.mulT(k.reduce(ReduceKind::sum, k.mulT(centered, centered), 1), invC);
    Value inv = RsqrtOp::create(L.b, k.loc, k.addT(ms, k.splat(colT, eps)));
    Value out = k.mulT(centered, k.bcast(inv, rowT));
    TileType vecT = k.f32({1, cp});
    Value vecMask = ec->needsMask() ? k.bounds(vecT, {zero, zero}, {k.idx(1), C}) : Value();
    if (hasW)
      out = k.mulT(out, k.bcast(k.load(vecT, body->getArgument(1), {zero, zero}, vecMask), rowT));
    if (hasB)
      out = k.addT(out, k.bcast(k.load(vecT, body->getArgument(2), {zero, zero}, vecMask), rowT));
    k.store(out, Y, {r0, zero}, mask);
    ReturnOp::create(L.b, k.loc);
  }
  L.launch(kernel, {L.gridFromDim(args.front(), 0, rt)}, args);
  return success();
}

/// The online (max, sum-of-exp) loop over column chunks of `X` rows
/// [r0, r0 + rt): returns (m, l) with l = sum_c exp(x[r, c] - m[r]).
/// Out-of-range columns take the stability floor.

static LogicalResult lowerSoftmax(Lowering &L) {
  if (failed(L.expectOperands(1, 1)))
    return failure();
  if (auto axis = L.op()->getAttrOfType<IntegerAttr>("axis")) {
    int64_t rank = cast<RankedTensorType>(L.ttype(L.op()->getOperand(0))).getRank();
    if (axis.getInt() != -1 && axis.getInt() != rank - 1)
      return L.op()->emitError("softmax lowering handles the last axis, got axis ")
             << axis.getInt();
  }
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> er = L.extent("rows"), ec = L.extent("cols");
  FailureOr<LawAttr> floor = L.floorLaw();
  if (failed(cfg) || failed(er) || failed(ec) || failed(floor))
    return failure();
  int64_t rt = er->getTile(), cc = ec->getTile();
  FailureOr<Value> y = L.allocFor(L.op()->getResult(0));
  if (failed(y))
    return failure();
  SmallVector<Value> args = {L.rows2D(L.buf(L.op()->getOperand(0))), L.rows2D(*y)};
  std::string grid = ("ceildiv(rows, " + Twine(rt) + ")").str();
  KernelOp kernel = L.newKernel("softmax", args, {grid},
                              "y[r, c] = exp(x[r, c] - max_c x[r, :]) / sum_c exp(x[r, c] - max)",
                              *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.op()->getLoc()};
    Value X = body->getArgument(0), Y = body->getArgument(1);
    Value r0 = k.mul(k.pid(0), rt), R = k.dim(X, 0), C = k.dim(X, 1);
    auto [m, l] = emitOnlineMaxSum(k, X, r0, R, C, *er, *ec, rt, *floor);
    TileType chunkT = k.f32({rt, cc});
    Value mB = k.bcast(m, chunkT), lB = k.bcast(l, chunkT);
    auto loop = scf::ForOp::create(L.b, k.loc, k.idx(0), C, k.idx(cc));
    {
      OpBuilder::InsertionGuard g(L.b);
      L.b.setInsertionPointToStart(loop.getBody());
      Value c0 = loop.getInductionVar();
      bool masked = er->needsMask() || ec->needsMask();
      Value mask = masked ? k.bounds(chunkT, {r0, c0}, {R, C}) : Value();
      Value x = k.load(chunkT, X, {r0, c0}, mask);
      k.store(k.divT(k.exp(k.subT(x, mB)), lB), Y, {r0, c0}, mask);
    }
    ReturnOp::create(L.b, k.loc);
  }
  L.launch(kernel, {L.gridFromDim(args.front(), 0, rt)}, args);
  return success();
}

/// cross_entropy(logits[..., V], targets[...] i32) → scalar mean loss.
/// Kernel 1 (row-tiled): losses[r] = logsumexp(x[r, :]) - x[r, t[r]].
/// Kernel 2 (one program): loss = mean_r losses[r] — deterministic, no atomics.
static LogicalResult lowerCrossEntropy(Lowering &L) {
  if (failed(L.expectOperands(2, 2)))
    return failure();
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> er = L.extent("rows"), ec = L.extent("cols");
  FailureOr<LawAttr> floor = L.floorLaw();
  if (failed(cfg) || failed(er) || failed(ec) || failed(floor))
    return failure();
  auto resT = cast<RankedTensorType>(L.op()->getResult(0).getType());
  if (resT.getRank() != 0 && product(resT.getShape()) != 1)
    return L.op()->emitError("cross_entropy lowering produces the scalar mean loss");
  int64_t rt = er->getTile(), cc = ec->getTile();
  Location loc = L.op()->getLoc();
  Value X = L.rows2D(L.buf(L.op()->getOperand(0)));
  Value Tg = L.flat(L.buf(L.op()->getOperand(1)));
  Tg = L.view(Tg, {cast<BufferType>(Tg.getType()).getShape()[0], 1});
  int64_t rowsStatic = cast<BufferType>(X.getType()).getShape()[0];
  SmallVector<Value> sizes;
  if (ShapedType::isDynamic(rowsStatic))
    sizes.push_back(DimOp::create(L.b, loc, X, 0));
  Value losses = AllocOp::create(L.b, loc, BufferType::get({rowsStatic, 1}, L.b.getF32Type()), sizes);
  FailureOr<Value> loss = L.allocFor(L.op()->getResult(0));
  if (failed(loss))
    return failure();

  // Kernel 1: per-row loss.
  SmallVector<Value> args1 = {X, Tg, losses};
  std::string grid = ("ceildiv(rows, " + Twine(rt) + ")").str();
  // With `classes` (spak-pad-vocab) the columns from `classes` on are vocabulary padding: outside the softmax.
  std::optional<int64_t> classes = classesOf(L.op());
  KernelOp k1 = L.newKernel(
      "cross_entropy_rows", args1, {grid},
      "losses[r] = log(sum_c exp(x[r, c] - m[r])) + m[r] - x[r, t[r]]" +
          (classes ? "  (c < " + std::to_string(*classes) +
                            ": the columns after it are vocabulary padding, rule pad_vocab)"
                      : std::string()),
      *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &k1.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, loc};
    Value Xa = body->getArgument(0), Ta = body->getArgument(1), La = body->getArgument(2);
    Value r0 = k.mul(k.pid(0), rt), R = k.dim(Xa, 0), zero = k.idx(0);
    Value C = classes ? k.idx(*classes) : k.dim(Xa, 1);
    auto [m, l] = emitOnlineMaxSum(k, Xa, r0, R, C, *er, *ec, rt, *floor, classes.has_value());
    // The target logit: sum over chunks of select(col == t[r], x, 0).
    TileType tgtT = TileType::get({rt, 1}, L.b.getI32Type());
    Value rowMask = er->needsMask() ? k.bounds(tgtT, {r0, zero}, {R, k.idx(1)}) : Value();
    Value tgt = k.load(tgtT, Ta, {r0, zero}, rowMask);
    TileType chunkT = k.f32({rt, cc}), colT = k.f32({rt, 1});
    TileType chunkI = TileType::get({rt, cc}, L.b.getI32Type());
    Value tgtB = k.bcast(tgt, chunkI);
    auto loop = scf::ForOp::create(L.b, loc, zero, C, k.idx(cc), ValueRange{k.splat(colT, 0.0)});
    {
      OpBuilder::InsertionGuard g(L.b);
      L.b.setInsertionPointToStart(loop.getBody());
      Value c0 = loop.getInductionVar();
      bool masked = classes || er->needsMask() || ec->needsMask();
      Value mask = masked ? k.bounds(chunkT, {r0, c0}, {R, C}) : Value();
      Value x = k.load(chunkT, Xa, {r0, c0}, mask);
      Value c0i = arith::IndexCastOp::create(L.b, loc, L.b.getI32Type(), c0);
      Value cols = k.addT(IotaOp::create(L.b, loc, chunkI, 1), k.bcast(c0i, chunkI));
      Value hit = CmpOp::create(L.b, loc, chunkI.getMaskType(), CmpPredicate::eq, cols, tgtB);
      Value picked = k.reduce(ReduceKind::sum, k.select(hit, x, k.splat(chunkT, 0.0)), 1);
      scf::YieldOp::create(L.b, loc, ValueRange{k.addT(loop.getRegionIterArgs()[0], picked)});
    }
    Value lossRow = k.subT(k.addT(k.log(l), m), loop.getResult(0));
    k.store(lossRow, La, {r0, zero}, rowMask);
    ReturnOp::create(L.b, loc);
  }
  L.launch(k1, {L.gridFromDim(X, 0, rt)}, args1);

  // Kernel 2: mean over rows, one program, a loop over row chunks.
  Value lossView = L.view(*loss, {1, 1});
  SmallVector<Value> args2 = {losses, lossView};
  KernelOp k2 = L.newKernel("mean_rows", args2, {"1"}, "loss = sum_r losses[r] / rows", *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &k2.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, loc};
    Value La = body->getArgument(0), Out = body->getArgument(1);
    Value R = k.dim(La, 0), zero = k.idx(0);
    int64_t chunk = rules::kSoftmaxChunk;
    TileType chunkT = k.f32({chunk, 1}), oneT = k.f32({1, 1});
    auto loop = scf::ForOp::create(L.b, loc, zero, R, k.idx(chunk), ValueRange{k.splat(oneT, 0.0)});
    {
      OpBuilder::InsertionGuard g(L.b);
      L.b.setInsertionPointToStart(loop.getBody());
      Value r0 = loop.getInductionVar();
      Value mask = k.bounds(chunkT, {r0, zero}, {R, k.idx(1)});
      Value v = k.load(chunkT, La, {r0, zero}, mask);
      scf::YieldOp::create(L.b, loc,
                           ValueRange{k.addT(loop.getRegionIterArgs()[0],
                                             k.reduce(ReduceKind::sum, v, 0))});
    }
    Value rf = arith::UIToFPOp::create(L.b, loc, L.b.getF32Type(),
                                       arith::IndexCastUIOp::create(L.b, loc, L.b.getI32Type(), R));
    k.store(k.divT(loop.getResult(0), k.bcast(rf, oneT)), Out, {zero, zero});
    ReturnOp::create(L.b, loc);
  }
  L.launch(k2, {L.hostIdx(1)}, args2);
  return success();
}

//--- attention ---------------------------------------------------------------------

/// Flash attention forward (fmha_kernel.dsl FusedAttention): per (query
/// tile, batch·head), loop over key/value tiles with an online softmax.
static LogicalResult lowerAttention(Lowering &L) {
  if (failed(L.expectOperands(3, 3)))
    return failure();
  FailureOr<ConfigAttr> cfg = L.config();
  FailureOr<ExtentAttr> eq = L.extent("q"), ekv = L.extent("kv"), ed = L.extent("d");
  FailureOr<LawAttr> floor = L.floorLaw();
  if (failed(cfg) || failed(eq) || failed(ekv) || failed(ed) || failed(floor))
    return failure();
  auto heads = L.op()->getAttrOfType<IntegerAttr>("heads");
  auto qT = cast<RankedTensorType>(L.ttype(L.op()->getOperand(0)));
  for (Value v : L.op()->getOperands())
    if (L.ttype(v) != qT)
      return L.op()->emitError("attention lowering expects q, k, v of one type [B, T, C]");
  int64_t H = heads.getInt(), hd = ed->getSize(), dp = ed->getTile();
  int64_t tm = eq->getTile(), tn = ekv->getTile();
  // Graph contract: `causal` defaults to true; an absent or 0.0 `scale` means 1/sqrt(head_dim).
  bool causal = L.op()->getAttr("causal") ? L.boolAttr("causal") : true;
  double scale = L.floatAttr("scale", 0.0);
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(static_cast<double>(hd));
  FailureOr<Value> o = L.allocFor(L.op()->getResult(0));
  if (failed(o))
    return failure();
  SmallVector<Value> args = {L.buf(L.op()->getOperand(0)), L.buf(L.op()->getOperand(1)),
                             L.buf(L.op()->getOperand(2)), *o};
  // The attention_grad of the same q, k, v and attributes in this function (the training step): this kernel also
  // writes lse = m + log l per query row for it, so its dq kernel need not recompute the forward.
  Operation *grad = nullptr;
  for (Operation *user : L.op()->getOperand(0).getUsers())
    if (user->getName().getStringRef() == "spak_graph.attention_grad" && user->getNumOperands() == 4 &&
        user->getBlock() == L.op()->getBlock() && L.op()->isBeforeInBlock(user) &&
        user->getOperand(1) == L.op()->getOperand(0) && user->getOperand(2) == L.op()->getOperand(1) &&
        user->getOperand(3) == L.op()->getOperand(2) && user->getAttr("heads") == L.op()->getAttr("heads") &&
        user->getAttr("causal") == L.op()->getAttr("causal") && user->getAttr("scale") == L.op()->getAttr("scale") &&
        !L.savedAttention.count(user)) {
      grad = user;
      break;
    }
  if (grad) {
    SmallVector<Value> statSizes;
    if (qT.isDynamicDim(0))
      statSizes.push_back(L.hostDim(args[0], 0));
    if (qT.isDynamicDim(1))
      statSizes.push_back(L.hostDim(args[0], 1));
    Value lse = L.alloc({qT.getShape()[0], H, qT.getShape()[1], 1}, L.b.getF32Type(), statSizes);
    args.push_back(lse);
    L.savedAttention[grad] = {lse, *o};
  }
  // q, k, v as column ranges of one qkv buffer (rule apply attention_reads_split: no split kernel).
  int64_t offQ = L.columnOffset(L.op()->getOperand(0)), offK = L.columnOffset(L.op()->getOperand(1)),
          offV = L.columnOffset(L.op()->getOperand(2));
  std::string offsets;
  if (offQ || offK || offV)
    offsets = llvm::formatv("; q, k, v = columns from {0}, {1}, {2} of one buffer (rule {3})", offQ, offK, offV,
                            attentionReadsSplitRule(L.op()).getName())
                  .str();
  std::string math = llvm::formatv(
      "o[b, t, h*{0}:(h+1)*{0}] = softmax_s(q k^T * {1}{2}) v  (online softmax, masked "
      "logits = stability floor){3}{4}",
      hd, fmtNum(scale), causal ? ", causal s <= t" : "",
      grad ? "; lse[b, h, t] = m + log l saved for attention_grad_dq / _dkdv" : "", offsets).str();
  std::string gq = ("ceildiv(T, " + Twine(tm) + ")").str();
  std::string gbh = ("B * " + Twine(H)).str();
  KernelOp kernel = L.newKernel("attention", args, {gq, gbh}, math, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.op()->getLoc()};
    Location loc = k.loc;
    Value Q = body->getArgument(0), K = body->getArgument(1), V = body->getArgument(2),
          O = body->getArgument(3);
    Value T = k.dim(Q, 1), zero = k.idx(0);
    // Causal: query block i attends to i + 1 key blocks; the heaviest blocks are launched first.
    Value m0 = k.mul(causal ? k.lastFirst(k.pid(0), T, tm) : k.pid(0), tm);
    Value bh = k.pid(1), hIdx = k.idx(H);
    Value bIdx = arith::DivUIOp::create(L.b, loc, bh, hIdx);
    Value h = arith::RemUIOp::create(L.b, loc, bh, hIdx);
    Value col0 = k.mul(h, hd);
    Value hdV = k.idx(hd);
    TileType qTile = k.f32({tm, dp}), kvTile = k.f32({tn, dp}, MemorySpace::smem);
    TileType sT = k.f32({tm, tn}), colT = k.f32({tm, 1});
    // Head-dim columns past hd (pow2 padding) belong to the next head: mask them.
    bool qMasked = eq->needsMask() || ed->needsMask();
    Value qMask = qMasked ? k.bounds(qTile, {m0, zero}, {T, hdV}) : Value();
    // Column starts outside the loop: the ring prologue issues the first k-tiles' copies before it.
    auto colOf = [&](int64_t off) { return off ? k.add(col0, k.idx(off)) : col0; };
    Value colK = colOf(offK), colV = colOf(offV);
    Value q = k.load(qTile, Q, {bIdx, m0, colOf(offQ)}, qMask);
    Value mInit = k.splat(colT, floor->getFloat(), *floor);
    Value lInit = k.splat(colT, 0.0);
    Value accInit = k.splat(qTile, 0.0);
    Value floorS = k.splat(sT, floor->getFloat(), *floor);
    Value scaleS = k.splat(sT, scale);
    // Causal: key tiles past the last query row of this tile contribute nothing.
    Value kvEnd = causal ? k.minIdx(T, k.add(m0, k.idx(tm))) : T;
    // One online-softmax loop over key tiles [lo, hi). `diagonal`: its tiles may cross the causal diagonal or the
    // end of the sequence, so the scores are masked; the key tiles wholly before the query tile need neither.
    auto kvLoop = [&](Value lo, Value hi, ValueRange init, bool diagonal) {
      auto loop = scf::ForOp::create(L.b, loc, lo, hi, k.idx(tn), init);
      OpBuilder::InsertionGuard g(L.b);
      L.b.setInsertionPointToStart(loop.getBody());
      Value n0 = loop.getInductionVar();
      Value mI = loop.getRegionIterArgs()[0], lI = loop.getRegionIterArgs()[1],
            acc = loop.getRegionIterArgs()[2];
      bool kvMasked = (diagonal && ekv->needsMask()) || ed->needsMask();
      Value kvMask = kvMasked ? k.bounds(kvTile, {n0, zero}, {T, hdV}) : Value();
      Value kt = k.load(kvTile, K, {bIdx, n0, colK}, kvMask, cfg->getLaw("k_lat"),
                        L.b.getI64IntegerAttr(0));
      Value vt = k.load(kvTile, V, {bIdx, n0, colV}, kvMask, cfg->getLaw("v_lat"),
                        L.b.getI64IntegerAttr(1));
      Value s = MmaOp::create(L.b, loc, sT, q, kt, k.splat(sT, 0.0), false, true);
      s = k.mulT(s, scaleS);
      Value valid;
      if (diagonal && ekv->needsMask())
        valid = k.bounds(sT, {zero, n0}, {k.idx(tm), T});
      if (diagonal && causal) {
        Value cm = MaskOp::create(L.b, loc, sT.getMaskType(), MaskKind::causal,
                                  ValueRange{m0, n0}, ValueRange{});
        valid = valid ? k.select(valid, cm, k.splatBool({tm, tn}, false)) : cm;
      }
      if (valid)
        s = k.select(valid, s, floorS);
      Value mNew = k.maxT(mI, k.reduce(ReduceKind::max, s, 1));
      Value p = k.exp(k.subT(s, k.bcast(mNew, sT)));
      Value alpha = k.exp(k.subT(mI, mNew));
      Value lNew = k.addT(k.mulT(lI, alpha), k.reduce(ReduceKind::sum, p, 1));
      Value scaled = k.mulT(acc, k.bcast(alpha, qTile));
      Value accNew = MmaOp::create(L.b, loc, qTile, p, vt, scaled, false, false);
      scf::YieldOp::create(L.b, loc, ValueRange{mNew, lNew, accNew});
      return loop;
    };
    SmallVector<Value, 3> state = {mInit, lInit, accInit};
    Value diagStart = zero;
    if (causal && tm % tn == 0) {
      // Key tiles [0, m0) end before the query tile's first row (m0 is a multiple of tn): no mask in their loop.
      state = llvm::to_vector_of<Value, 3>(kvLoop(zero, m0, state, /*diagonal=*/false).getResults());
      diagStart = m0;
    }
    auto loop = kvLoop(diagStart, kvEnd, state, /*diagonal=*/true);
    Value out = k.divT(loop.getResult(2), k.bcast(loop.getResult(1), qTile));
    k.store(out, O, {bIdx, m0, col0}, qMask);
    if (grad) {
      Value lse = k.addT(loop.getResult(0), k.log(loop.getResult(1)));
      Value rowMask = eq->needsMask() ? k.bounds(colT, {m0, zero}, {T, k.idx(1)}) : Value();
      k.store(lse, body->getArgument(4), {bIdx, h, m0, zero}, rowMask);
    }
    ReturnOp::create(L.b, loc);
  }
  Location loc = L.op()->getLoc();
  Value gridQ = L.gridFromDim(args[0], 1, tm);
  Value batch = DimOp::create(L.b, loc, args[0], 0);
  Value gridBH = arith::MulIOp::create(L.b, loc, batch, L.hostIdx(H));
  L.launch(kernel, {gridQ, gridBH}, args);
  return success();
}

//--- elementwise maps ------------------------------------------------------------

int64_t spak::tile::elementwiseBlock(ConfigAttr cfg) {
  return cfg.getInt("vec_width") * 32 * cfg.getInt("warps");
}

/// The extent of a flat map over `numel` elements: the planned `n` when it
/// matches, else a cover by the elementwise block of `cfg`.
static ExtentAttr flatExtent(Lowering &L, ConfigAttr cfg, int64_t numel) {
  if (auto dict = L.op()->getAttrOfType<DictionaryAttr>(rules::kExtentsAttr))
    if (auto e = dyn_cast_or_null<ExtentAttr>(dict.get("n")); e && e.getSize() == numel)
      return e;
  return rules::coverDim(L.op()->getContext(), numel, elementwiseBlock(cfg));
}

namespace {
/// One dimension group of a broadcasting map: adjacent result dims in which
/// every operand either matches the result or broadcasts (size 1).
struct DimGroup {
  int64_t size = 1;              // product of the result dims (may be dynamic)
  SmallVector<bool> broadcasts;  // per operand: the operand is 1 across the group
};
} // namespace

/// Groups the result dims of a broadcasting map (numpy trailing alignment).
/// Result dims of static size 1 are dropped; at least one group is returned.
static SmallVector<DimGroup> groupDims(ArrayRef<int64_t> out,
                                      ArrayRef<ArrayRef<int64_t>> operands) {
  SmallVector<DimGroup> groups;
  int64_t rank = out.size();
  for (int64_t d = 0; d < rank; ++d) {
    if (out[d] == 1)
      continue;
    SmallVector<bool> sig;
    for (ArrayRef<int64_t> s : operands) {
      int64_t od = d - (rank - static_cast<int64_t>(s.size()));
      sig.push_back(od < 0 || s[od] == 1);
    }
    if (!groups.empty() && groups.back().broadcasts == sig) {
      int64_t &g = groups.back().size;
      g = (ShapedType::isDynamic(g) || ShapedType::isDynamic(out[d])) ? ShapedType::kDynamic
                                                                      : g * out[d];
      continue;
    }
    groups.push_back({out[d], sig});
  }
  if (groups.empty())
    groups.push_back({1, SmallVector<bool>(operands.size(), false)});
  return groups;
}

LogicalResult spak::tile::emitMap(Lowering &L, StringRef base, StringRef math,
                                  ValueRange operands, Value result, ConfigAttr cfg, MapFn f,
                                  ArrayRef<SmallVector<int64_t>> shapeOverride) {
  Operation *op = L.op();
  auto resT = cast<RankedTensorType>(result.getType());
  if (!resT.getElementType().isF32())
    return op->emitError("elementwise lowering handles f32 tensors, got ") << resT;
  SmallVector<ArrayRef<int64_t>> shapes;
  bool sameShape = true;
  for (auto [i, v] : llvm::enumerate(operands)) {
    RankedTensorType t = L.rtype(v);
    if (!t || !t.getElementType().isF32())
      return op->emitError("elementwise lowering handles f32 tensors, got ") << L.ttype(v);
    ArrayRef<int64_t> shape = shapeOverride.empty() ? t.getShape() : shapeOverride[i];
    if (shape.size() > static_cast<size_t>(resT.getRank()))
      return op->emitError("operand ") << t << " has a higher rank than the result " << resT;
    shapes.push_back(shape);
    sameShape &= shape == resT.getShape();
  }
  FailureOr<Value> y = L.allocFor(result);
  if (failed(y))
    return failure();

  if (sameShape) {
    // A flat vectorised map over [numel] views.
    ExtentAttr en = flatExtent(L, cfg, product(resT.getShape()));
    int64_t blk = en.getTile();
    SmallVector<Value> args;
    for (Value v : operands)
      args.push_back(L.flat(L.buf(v)));
    args.push_back(L.flat(*y));
    KernelOp kernel = L.newKernel(base, args, {ceilDivStr("n", blk)}, math, cfg);
    {
      OpBuilder::InsertionGuard guard(L.b);
      Block *body = &kernel.getBody().front();
      L.b.setInsertionPointToStart(body);
      KernelBuilder k{L.b, L.loc()};
      Value i0 = k.mul(k.pid(0), blk);
      Value Y = body->getArguments().back();
      TileType t = k.f32({blk});
      Value mask = en.needsMask() ? k.bounds(t, {i0}, {k.dim(Y, 0)}) : Value();
      SmallVector<Value> xs;
      for (unsigned i = 0; i < operands.size(); ++i)
        xs.push_back(k.load(t, body->getArgument(i), {i0}, mask));
      k.store(f(k, xs, t), Y, {i0}, mask);
      k.ret();
    }
    L.launch(kernel, {L.gridFromDim(args.back(), 0, blk)}, args);
    return success();
  }

  // Broadcasting: result dims grouped so that each operand is either full or
  // of size 1 across a group; the tile runs along the last group, the grid
  // over it and over up to two outer groups.
  SmallVector<DimGroup> groups = groupDims(resT.getShape(), shapes);
  if (groups.size() > 3)
    return op->emitError("broadcast of ")
           << operands.size() << " operand(s) to " << resT << " alternates "
           << groups.size() << " times between broadcast and full dims; at most 3 groups lower";
  int64_t ng = groups.size();
  SmallVector<int64_t> outShape;
  for (const DimGroup &g : groups)
    outShape.push_back(g.size);
  ExtentAttr el = rules::coverDim(op->getContext(), outShape.back(), elementwiseBlock(cfg));
  int64_t blk = el.getTile();
  SmallVector<Value> args;
  for (auto [i, v] : llvm::enumerate(operands)) {
    SmallVector<int64_t> shape;
    for (const DimGroup &g : groups)
      shape.push_back(g.broadcasts[i] ? 1 : g.size);
    args.push_back(L.view(L.flat(L.buf(v)), shape));
  }
  args.push_back(L.view(L.flat(*y), outShape));
  SmallVector<std::string> gridStr = {ceilDivStr("inner", blk)};
  static const char *outerNames[] = {"outer0", "outer1"};
  for (int64_t g = ng - 2, j = 0; g >= 0; --g, ++j)
    gridStr.push_back(outerNames[j]);
  SmallVector<StringRef> grid(gridStr.begin(), gridStr.end());
  KernelOp kernel = L.newKernel(base, args, grid, math, cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value Y = body->getArguments().back();
    Value zero = k.idx(0);
    // Offsets of the tile in the result: outer groups by program id (axis 1
    // is the group just before the last), the last by blocks.
    SmallVector<Value> offs(ng), bnds(ng);
    for (int64_t g = 0; g < ng - 1; ++g) {
      offs[g] = k.pid(ng - 1 - g);
      bnds[g] = k.dim(Y, g);
    }
    offs[ng - 1] = k.mul(k.pid(0), blk);
    bnds[ng - 1] = k.dim(Y, ng - 1);
    SmallVector<int64_t> tileShape(ng, 1);
    tileShape.back() = blk;
    TileType t = k.f32(tileShape);
    Value mask = el.needsMask() ? k.bounds(t, offs, bnds) : Value();
    SmallVector<Value> xs;
    for (unsigned i = 0; i < operands.size(); ++i) {
      SmallVector<Value> o;
      for (int64_t g = 0; g < ng; ++g)
        o.push_back(groups[g].broadcasts[i] ? zero : offs[g]);
      if (groups.back().broadcasts[i]) {
        // One element along the tile, broadcast to it.
        Value one = k.load(k.f32(SmallVector<int64_t>(ng, 1)), body->getArgument(i), o);
        xs.push_back(k.bcast(one, t));
      } else {
        xs.push_back(k.load(t, body->getArgument(i), o, mask));
      }
    }
    k.store(f(k, xs, t), Y, offs, mask);
    k.ret();
  }
  SmallVector<Value> gridV = {L.gridFromDim(args.back(), ng - 1, blk)};
  for (int64_t g = ng - 2; g >= 0; --g)
    gridV.push_back(L.hostDim(args.back(), g));
  L.launch(kernel, gridV, args);
  return success();
}

/// add / sub / mul (broadcasting), scale, relu, gelu.
static LogicalResult lowerElementwise(Lowering &L, StringRef name) {
  bool binary = name == "add" || name == "sub" || name == "mul";
  if (failed(L.expectOperands(binary ? 2 : 1, binary ? 2 : 1)))
    return failure();
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  Operation *op = L.op();
  double scale = 1.0;
  if (name == "scale") {
    StringRef attr = op->getAttr("factor") ? "factor" : "scale";
    Attribute a = op->getAttr(attr);
    if (!a || (!isa<FloatAttr>(a) && !isa<IntegerAttr>(a)))
      return op->emitError("scale needs a numeric 'factor' attribute");
    scale = L.floatAttr(attr, 1.0);
  }
  std::string math = llvm::StringSwitch<std::string>(name)
                         .Case("add", "y[i] = a[i] + b[i]")
                         .Case("sub", "y[i] = a[i] - b[i]")
                         .Case("mul", "y[i] = a[i] * b[i]")
                         .Case("scale", "y[i] = x[i] * " + fmtNum(scale))
                         .Case("relu", "y[i] = max(x[i], 0)")
                         .Case("gelu", "y[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))")
                         .Default("");
  if (binary && L.rtype(op->getOperand(0)) != L.rtype(op->getOperand(1)))
    math += " (numpy broadcasting)";
  return emitMap(L, name, math, op->getOperands(), op->getResult(0), *cfg,
                 [&](KernelBuilder &k, ArrayRef<Value> x, TileType t) -> Value {
                   if (name == "add")
                     return k.addT(x[0], x[1]);
                   if (name == "sub")
                     return k.subT(x[0], x[1]);
                   if (name == "mul")
                     return k.mulT(x[0], x[1]);
                   if (name == "scale")
                     return k.mulT(x[0], k.splat(t, scale));
                   if (name == "relu")
                     return ReluOp::create(k.b, k.loc, x[0]);
                   return k.gelu(x[0], t);  // tanh approximation
                 });
}

//--- views ---------------------------------------------------------------------------

/// reshape is a host-side view of the same contiguous buffer (no kernel).
static LogicalResult lowerReshape(Lowering &L) {
  if (failed(L.expectOperands(1, 1)))
    return failure();
  auto resT = cast<BufferType>(Lowering::bufferTypeFor(L.op()->getResult(0).getType()));
  Value src = L.buf(L.op()->getOperand(0));
  auto srcT = cast<BufferType>(src.getType());
  if (product(srcT.getShape()) == ShapedType::kDynamic && resT.getNumDynamicDims() == 0)
    return L.op()->emitError("reshape of a dynamic tensor to a static shape");
  L.mapValue(L.op()->getResult(0), L.view(src, resT.getShape()));
  return success();
}

void spak::tile::populateForwardLowerings(LoweringTable &table) {
  table["linear"] = lowerLinear;
  table["matmul"] = lowerMatmul;
  table["rmsnorm"] = [](Lowering &L) { return lowerNorm(L, /*layer=*/false); };
  table["layernorm"] = [](Lowering &L) { return lowerNorm(L, /*layer=*/true); };
  table["softmax"] = lowerSoftmax;
  table["cross_entropy"] = lowerCrossEntropy;
  table["attention"] = lowerAttention;
  for (StringLiteral name : {StringLiteral("add"), StringLiteral("sub"), StringLiteral("mul"),
                             StringLiteral("scale"), StringLiteral("relu"), StringLiteral("gelu")})
    table[name] = [name](Lowering &L) { return lowerElementwise(L, name); };
  table["reshape"] = lowerReshape;
}
