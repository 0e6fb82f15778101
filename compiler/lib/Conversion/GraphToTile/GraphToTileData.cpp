//===- GraphToTileData.cpp - data-movement ops → tile programs ------------===//
//
//   embed           row gather, one program per row; ids checked against
//                   [0, V) (bad ids read no memory and set the status flag)
//   positions       iota kernel: p[t] = t
//   split / concat  strided 2-D copies [outer, parts·L] ↔ parts × [outer, L]
//   transpose       perms that keep the last axis: a row copy with the
//                   permuted row index; perms that swap the last two axes: a
//                   tile transpose (mma with an identity tile, exact in f32)
//   reduce_sum      contiguous reduced axes, viewed as [K1, R, K2]: a row sum
//                   (K2 = 1) or a deterministic two-stage column sum
//                   (ColumnSum.h: (column tile x row chunk) programs with a
//                   [row_tile·vec_width x 32·warps] accumulator, then a sum
//                   of the chunk partials in order) — no atomics
//   broadcast_like  a broadcasting map (the VJP of reduce_sum)
//   zeros_like      a flat fill
//   dropout         p = 0 only: the identity (the result aliases the input)
//
//===----------------------------------------------------------------------===//
#include "spak/Conversion/GraphToTile/Lowering.h"
#include "ColumnSum.h"
#include "spak/Rules/Laws.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace spak;
using namespace spak::tile;

static const StringLiteral kElementwiseLaws[] = {"vec_width", "warps"};

/// Widest tile of a row copy / column sum along the contiguous dimension.
static int64_t rowChunk(int64_t size, int64_t cap) {
  if (ShapedType::isDynamic(size))
    return cap;
  return std::min(rules::nextPowerOf2(size), cap);
}

static bool needsMask(int64_t size, int64_t tile) {
  return ShapedType::isDynamic(size) || size % tile != 0;
}

//--- embed ---------------------------------------------------------------------

/// embed(table[V, C], ids[...]) → [..., C]: out[r, :] = table[ids[r], :].
static LogicalResult lowerEmbed(Lowering &L) {
  if (failed(L.expectOperands(2, 2)))
    return failure();
  Operation *op = L.op();
  RankedTensorType tabT = L.rtype(op->getOperand(0));
  if (tabT.getRank() != 2 || tabT.isDynamicDim(0) || tabT.isDynamicDim(1))
    return op->emitError("embed lowering needs a static [V, C] table, got ") << tabT;
  if (!tabT.getElementType().isF32())
    return op->emitError("embed lowering handles f32 tables");
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  int64_t V = tabT.getShape()[0], C = tabT.getShape()[1];
  // A table padded by spak-pad-vocab (rule pad_vocab) has ids only below its real rows.
  if (auto valid = op->getAttrOfType<IntegerAttr>("spak.valid_rows"); valid && valid.getInt() >= 1 &&
                                                                       valid.getInt() < V)
    V = valid.getInt();
  int64_t cp = rules::nextPowerOf2(C);
  // Result [ids..., C]: dim i < rank(ids) is the ids' dim i.
  Value idsBuf = L.buf(op->getOperand(1));
  SmallVector<std::pair<Value, int64_t>> dimOf;
  for (int64_t i = 0, e = L.rtype(op->getOperand(1)).getRank(); i <= e; ++i)
    dimOf.push_back({idsBuf, std::min(i, e - 1)});
  Value y = L.allocFor(op->getResult(0), dimOf);
  Value status = L.statusBuffer();
  if (!status)
    return op->emitError("cannot add the status argument to the host function");
  Value ids = L.flat(L.buf(op->getOperand(1)));
  Value out = L.rows2D(y);
  SmallVector<Value> args = {L.buf(op->getOperand(0)), ids, out, status};
  std::string math = llvm::formatv("y[r, c] = table[ids[r], c]  (ids outside [0, {0}) read "
                                   "nothing and set status[0] = 1)",
                                   V)
                         .str();
  KernelOp kernel = L.newKernel("embed", args, {"rows"}, math, *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value Tab = body->getArgument(0), Ids = body->getArgument(1), Y = body->getArgument(2),
          St = body->getArgument(3);
    Value r = k.pid(0), zero = k.idx(0);
    Value id = ExtractOp::create(L.b, k.loc, L.b.getI32Type(),
                                 k.load(k.i32({1}), Ids, {r}), L.b.getDenseI64ArrayAttr({0}));
    Value valid = arith::AndIOp::create(
        L.b, k.loc,
        arith::CmpIOp::create(L.b, k.loc, arith::CmpIPredicate::sge, id,
                              arith::ConstantIntOp::create(L.b, k.loc, L.b.getI32Type(), 0)),
        arith::CmpIOp::create(L.b, k.loc, arith::CmpIPredicate::slt, id,
                              arith::ConstantIntOp::create(L.b, k.loc, L.b.getI32Type(), V)));
    // An invalid id addresses row 0 under an all-false mask: no memory is read.
    Value row = arith::SelectOp::create(L.b, k.loc, valid,
                                        arith::IndexCastOp::create(L.b, k.loc,
                                                                   L.b.getIndexType(), id),
                                        zero);
    TileType t = k.f32({1, cp});
    Value validT = k.bcast(k.bcast(valid, TileType::get({1, 1}, L.b.getI1Type())),
                           t.getMaskType());
    Value colMask = needsMask(C, cp) ? k.bounds(t, {zero, zero}, {k.idx(1), k.idx(C)}) : Value();
    Value x = k.load(t, Tab, {row, zero}, k.andMask(validT, colMask));
    k.store(x, Y, {r, zero}, colMask);
    Value bad = arith::XOrIOp::create(
        L.b, k.loc, valid, arith::ConstantIntOp::create(L.b, k.loc, L.b.getI1Type(), 1));
    TileType st = k.i32({1});
    k.store(k.splatInt(st, 1), St, {zero}, k.bcast(bad, st.getMaskType()));
    k.ret();
  }
  L.launch(kernel, {L.hostDim(out, 0)}, args);
  return success();
}

//--- positions -------------------------------------------------------------------

/// positions(ids[..., T]) → [T] i32 with p[t] = t.
static LogicalResult lowerPositions(Lowering &L) {
  if (failed(L.expectOperands(1, 1)))
    return failure();
  Operation *op = L.op();
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  auto resT = cast<RankedTensorType>(op->getResult(0).getType());
  if (resT.getRank() != 1 || !resT.getElementType().isInteger(32))
    return op->emitError("positions lowering produces [T] i32, got ") << resT;
  // The result's T is the last dim of ids: allocate from it.
  Value ids = L.buf(op->getOperand(0));
  auto idsT = cast<BufferType>(ids.getType());
  SmallVector<Value> sizes;
  if (resT.isDynamicDim(0))
    sizes.push_back(L.hostDim(ids, idsT.getRank() - 1));
  Value y = L.alloc(resT.getShape(), resT.getElementType(), sizes);
  L.mapValue(op->getResult(0), y);
  int64_t blk = rowChunk(resT.getShape()[0], elementwiseBlock(*cfg));
  KernelOp kernel = L.newKernel("positions", {y}, {ceilDivStr("T", blk)}, "p[t] = t", *cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value P = body->getArgument(0);
    Value t0 = k.mul(k.pid(0), blk);
    TileType t = k.i32({blk});
    Value base = arith::IndexCastOp::create(L.b, k.loc, L.b.getI32Type(), t0);
    Value v = k.addT(IotaOp::create(L.b, k.loc, t, 0), k.bcast(base, t));
    Value mask = needsMask(resT.getShape()[0], blk) ? k.bounds(t, {t0}, {k.dim(P, 0)}) : Value();
    k.store(v, P, {t0}, mask);
    k.ret();
  }
  L.launch(kernel, {L.gridFromDim(y, 0, blk)}, {y});
  return success();
}

//--- split / concat ------------------------------------------------------------------

/// The [outer, L] decomposition of a split along `axis` of `shape` into
/// `parts`: part i is columns [i·L, (i+1)·L) of the [outer, parts·L] view.
static LogicalResult splitGeometry(Operation *op, ArrayRef<int64_t> shape, int64_t axis,
                                   int64_t parts, int64_t &outer, int64_t &len) {
  int64_t rank = shape.size();
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank)
    return op->emitError("axis out of range for rank ") << rank;
  int64_t inner = product(shape.drop_front(axis + 1));
  if (ShapedType::isDynamic(shape[axis]) || ShapedType::isDynamic(inner))
    return op->emitError("split/concat lowering needs the split axis and the dims after it "
                         "static");
  if (parts <= 0 || shape[axis] % parts != 0)
    return op->emitError("axis size ") << shape[axis] << " does not split into " << parts;
  outer = product(shape.take_front(axis));
  len = shape[axis] / parts * inner;
  return success();
}

/// Copies between `whole` [outer, parts·L] and `pieces` (each [outer, L]):
/// split reads whole, concat writes it. Grid (ceildiv(L, blk), outer).
static LogicalResult emitSplitConcat(Lowering &L, bool isSplit, Value whole,
                                     ArrayRef<Value> pieces, int64_t len, ConfigAttr cfg) {
  int64_t parts = pieces.size();
  int64_t blk = rowChunk(len, elementwiseBlock(cfg));
  SmallVector<Value> args = {whole};
  args.append(pieces.begin(), pieces.end());
  std::string math =
      isSplit ? llvm::formatv("y_i[o, c] = x[o, i*{0} + c], i < {1}", len, parts).str()
              : llvm::formatv("y[o, i*{0} + c] = x_i[o, c], i < {1}", len, parts).str();
  KernelOp kernel = L.newKernel(isSplit ? "split" : "concat", args,
                                {ceilDivStr("L", blk), "outer"}, math, cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value W = body->getArgument(0);
    Value c0 = k.mul(k.pid(0), blk), o = k.pid(1);
    TileType t = k.f32({1, blk});
    Value mask = needsMask(len, blk) ? k.bounds(t, {o, c0}, {k.dim(W, 0), k.idx(len)}) : Value();
    for (int64_t i = 0; i < parts; ++i) {
      Value P = body->getArgument(1 + i);
      Value wc = k.add(c0, i * len);
      if (isSplit)
        k.store(k.load(t, W, {o, wc}, mask), P, {o, c0}, mask);
      else
        k.store(k.load(t, P, {o, c0}, mask), W, {o, wc}, mask);
    }
    k.ret();
  }
  L.launch(kernel, {L.hostCeilDiv(L.hostIdx(len), blk), L.hostDim(whole, 0)}, args);
  return success();
}

static LogicalResult lowerSplit(Lowering &L) {
  Operation *op = L.op();
  int64_t parts = L.intAttr("parts", 0);
  if (failed(L.expectOperands(1, 1, op->getNumResults())) || op->getNumResults() != parts)
    return op->emitError("split expects one operand and `parts` (") << parts << ") results";
  RankedTensorType xT = L.rtype(op->getOperand(0));
  int64_t outer, len;
  if (failed(splitGeometry(op, xT.getShape(), L.intAttr("axis", -1), parts, outer, len)))
    return failure();
  // Rule apply attention_reads_split: the attention kernels read the pieces as column ranges of the input.
  if (splitReadByAttention(op)) {
    for (auto [i, r] : llvm::enumerate(op->getResults())) {
      L.mapValue(r, L.buf(op->getOperand(0)));
      L.columnOffsets[r] = static_cast<int64_t>(i) * len;
    }
    return success();
  }
  SmallVector<Value> pieces;
  for (Value r : op->getResults()) {
    FailureOr<Value> y = L.allocFor(r);
    if (failed(y))
      return failure();
    pieces.push_back(L.view(*y, {outer, len}));
  }
  Value whole = L.view(L.buf(op->getOperand(0)), {outer, parts * len});
  return emitSplitConcat(L, /*isSplit=*/true, whole, pieces, len,
                         L.configOrModuleLaws(kElementwiseLaws));
}

static LogicalResult lowerConcat(Lowering &L) {
  Operation *op = L.op();
  int64_t parts = op->getNumOperands();
  if (parts < 1 || failed(L.expectOperands(1, parts)))
    return failure();
  for (Value v : op->getOperands())
    if (L.rtype(v) != L.rtype(op->getOperand(0)))
      return op->emitError("concat lowering needs equally shaped operands");
  auto resT = cast<RankedTensorType>(op->getResult(0).getType());
  int64_t outer, len;
  if (failed(splitGeometry(op, resT.getShape(), L.intAttr("axis", -1), parts, outer, len)))
    return failure();
  // Rule apply attention_reads_split: attention_grad already wrote dq, dk, dv into this concat's buffer.
  if (L.buf(op->getResult(0)) != op->getResult(0))
    return success();
  // The result's dynamic dims (before the axis) come from the operands.
  Value y = L.allocWithDimsOf(op->getResult(0), L.buf(op->getOperand(0)));
  SmallVector<Value> pieces;
  for (Value v : op->getOperands())
    pieces.push_back(L.view(L.buf(v), {outer, len}));
  return emitSplitConcat(L, /*isSplit=*/false, L.view(y, {outer, parts * len}), pieces, len,
                         L.configOrModuleLaws(kElementwiseLaws));
}

//--- transpose ---------------------------------------------------------------------

/// A perm that keeps the last axis moves whole rows: program r of the grid
/// is output row r (its multi-index decomposed from r), copying the row from
/// the input at the permuted index.
static LogicalResult emitRowTranspose(Lowering &L, ArrayRef<int64_t> perm, Value X, Value Y,
                                      ConfigAttr cfg) {
  auto yT = cast<BufferType>(Y.getType());
  int64_t rank = yT.getRank(), D = yT.getShape().back();
  int64_t blk = rowChunk(D, elementwiseBlock(cfg));
  std::string permStr;
  for (int64_t p : perm)
    permStr += (permStr.empty() ? "" : ", ") + std::to_string(p);
  std::string math =
      llvm::formatv("y[i_0, ..., c] = x[i_perm..., c], perm = [{0}]  (rows moved whole)", permStr)
          .str();
  SmallVector<Value> args = {X, Y};
  KernelOp kernel =
      L.newKernel("transpose", args, {"rows", ceilDivStr("D", blk)}, math, cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value Xa = body->getArgument(0), Ya = body->getArgument(1);
    Value r = k.pid(0), c0 = k.mul(k.pid(1), blk);
    // Output multi-index of row r (row-major over the leading dims).
    SmallVector<Value> outIdx(rank);
    Value rest = r;
    for (int64_t d = rank - 2; d >= 0; --d) {
      Value size = k.dim(Ya, d);
      outIdx[d] = d == 0 ? rest : arith::RemUIOp::create(L.b, k.loc, rest, size);
      if (d > 0)
        rest = arith::DivUIOp::create(L.b, k.loc, rest, size);
    }
    outIdx[rank - 1] = c0;
    // Input index: in[perm[d]] = out[d].
    SmallVector<Value> inIdx(rank);
    for (int64_t d = 0; d < rank; ++d)
      inIdx[perm[d]] = outIdx[d];
    TileType t = k.f32({blk});
    Value mask = needsMask(D, blk) ? k.bounds(t, {c0}, {k.idx(D)}) : Value();
    k.store(k.load(t, Xa, inIdx, mask), Ya, outIdx, mask);
    k.ret();
  }
  Value rows = L.hostIdx(1);
  for (int64_t d = 0; d < rank - 1; ++d)
    rows = arith::MulIOp::create(L.b, L.loc(), rows, L.hostDim(Y, d));
  L.launch(kernel, {rows, L.hostCeilDiv(L.hostIdx(D), blk)}, args);
  return success();
}

/// Swapping the last two axes of [batch, R, C]: per (tile of R, tile of C,
/// batch) load a [tr, tc] tile and store its transpose, computed as
/// mma(x, I, 0) with transpose_a — every output element is one product with
/// 1.0 plus zeros, exact in f32 (emitters must not lower this mma to tf32).
static LogicalResult emitTileTranspose(Lowering &L, Value X, Value Y, ConfigAttr cfg) {
  auto xT = cast<BufferType>(X.getType());
  int64_t R = xT.getShape()[1], C = xT.getShape()[2];
  int64_t tile = 32;
  int64_t tr = rowChunk(R, tile), tc = rowChunk(C, tile);
  SmallVector<Value> args = {X, Y};
  KernelOp kernel = L.newKernel(
      "transpose", args, {ceilDivStr("R", tr), ceilDivStr("C", tc), "batch"},
      "y[b, c, r] = x[b, r, c]  (tile transpose as mma(x^T, I) in exact f32)", cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value Xa = body->getArgument(0), Ya = body->getArgument(1);
    Value r0 = k.mul(k.pid(0), tr), c0 = k.mul(k.pid(1), tc), bi = k.pid(2);
    Value Rv = k.dim(Xa, 1), Cv = k.dim(Xa, 2);
    TileType xt = k.f32({tr, tc}), yt = k.f32({tc, tr}), it = k.i32({tr, tr});
    bool masked = needsMask(R, tr) || needsMask(C, tc);
    Value xm = masked ? k.bounds(xt, {r0, c0}, {Rv, Cv}) : Value();
    Value ym = masked ? k.bounds(yt, {c0, r0}, {Cv, Rv}) : Value();
    Value x = k.load(xt, Xa, {bi, r0, c0}, xm);
    Value eye = k.select(k.cmp(CmpPredicate::eq, IotaOp::create(L.b, k.loc, it, 0),
                               IotaOp::create(L.b, k.loc, it, 1)),
                         k.splat(k.f32({tr, tr}), 1.0), k.splat(k.f32({tr, tr}), 0.0));
    Value y = k.mma(yt, x, eye, k.splat(yt, 0.0), /*ta=*/true, /*tb=*/false);
    k.store(y, Ya, {bi, c0, r0}, ym);
    k.ret();
  }
  L.launch(kernel, {L.gridFromDim(X, 1, tr), L.gridFromDim(X, 2, tc), L.hostDim(X, 0)}, args);
  return success();
}

static LogicalResult lowerTranspose(Lowering &L) {
  if (failed(L.expectOperands(1, 1)))
    return failure();
  Operation *op = L.op();
  auto permAttr = op->getAttrOfType<DenseI64ArrayAttr>("perm");
  RankedTensorType xT = L.rtype(op->getOperand(0));
  if (!permAttr || static_cast<int64_t>(permAttr.size()) != xT.getRank())
    return op->emitError("transpose needs a 'perm' of rank ") << xT.getRank();
  if (!xT.getElementType().isF32())
    return op->emitError("transpose lowering handles f32 tensors");
  ArrayRef<int64_t> perm = permAttr.asArrayRef();
  int64_t rank = xT.getRank();
  ConfigAttr cfg = L.configOrModuleLaws(kElementwiseLaws);
  bool identity = llvm::all_of(llvm::enumerate(perm), [](auto p) {
    return static_cast<int64_t>(p.index()) == p.value();
  });
  if (identity) {
    L.mapValue(op->getResult(0), L.buf(op->getOperand(0)));
    return success();
  }
  auto resT = cast<RankedTensorType>(op->getResult(0).getType());
  auto bt = cast<BufferType>(Lowering::bufferTypeFor(resT));
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < rank; ++d)
    if (bt.isDynamicDim(d))
      sizes.push_back(L.hostDim(L.buf(op->getOperand(0)), perm[d]));
  Value y = L.alloc(bt.getShape(), bt.getElementType(), sizes);
  L.mapValue(op->getResult(0), y);
  Value x = L.buf(op->getOperand(0));
  if (perm.back() == rank - 1)
    return emitRowTranspose(L, perm, x, y, cfg);
  bool swapLastTwo = rank >= 2 && perm[rank - 1] == rank - 2 && perm[rank - 2] == rank - 1;
  for (int64_t d = 0; d + 2 < rank; ++d)
    swapLastTwo &= perm[d] == d;
  if (!swapLastTwo)
    return op->emitError("transpose lowering handles perms that keep the last axis or swap only "
                         "the last two axes; split this perm into two transposes");
  ArrayRef<int64_t> s = xT.getShape();
  int64_t nb = product(s.drop_back(2));
  Value x3 = L.view(x, {nb, s[rank - 2], s[rank - 1]});
  Value y3 = L.view(y, {nb, s[rank - 1], s[rank - 2]});
  return emitTileTranspose(L, x3, y3, cfg);
}

//--- reduce_sum -----------------------------------------------------------------------

/// Row sums of X [K1, R] into Y [K1, 1]: grid ceildiv(K1, rt), column chunks.
static void emitRowSum(Lowering &L, Value X, Value Y, int64_t rt, ConfigAttr cfg) {
  int64_t R = cast<BufferType>(X.getType()).getShape()[1];
  int64_t K1 = cast<BufferType>(X.getType()).getShape()[0];
  int64_t cc = rowChunk(R, rules::kSoftmaxChunk);
  SmallVector<Value> args = {X, Y};
  KernelOp kernel = L.newKernel("reduce_rows", args, {ceilDivStr("K1", rt)},
                                "y[k] = sum_r x[k, r]", cfg);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value Xa = body->getArgument(0), Ya = body->getArgument(1);
    Value r0 = k.mul(k.pid(0), rt), Kv = k.dim(Xa, 0), Rv = k.dim(Xa, 1), zero = k.idx(0);
    TileType t = k.f32({rt, cc}), colT = k.f32({rt, 1});
    bool masked = needsMask(K1, rt) || needsMask(R, cc);
    auto loop = k.loop(zero, Rv, k.idx(cc), ValueRange{k.splat(colT, 0.0)},
                       [&](Value c0, ValueRange it) -> SmallVector<Value> {
                         Value m = masked ? k.bounds(t, {r0, c0}, {Kv, Rv}) : Value();
                         Value x = k.load(t, Xa, {r0, c0}, m);
                         return {k.addT(it[0], k.reduce(ReduceKind::sum, x, 1))};
                       });
    Value m = needsMask(K1, rt) ? k.bounds(colT, {r0, zero}, {Kv, k.idx(1)}) : Value();
    k.store(loop.getResult(0), Ya, {r0, zero}, m);
    k.ret();
  }
  L.launch(kernel, {L.gridFromDim(X, 0, rt)}, args);
}

//--- column sums (shared with layernorm_grad: ColumnSum.h) --------------------------

ColumnSumPlan spak::tile::planColumnSum(Lowering &L, ConfigAttr rowConfig, int64_t K2) {
  MLIRContext *ctx = rowConfig.getContext();
  SmallVector<NamedAttribute> entries(rowConfig.getLaws().getValue());
  LawAttr vec = rowConfig.getLaw("vec_width");
  if (!vec) {
    // Row kernels carry row_tile and warps; the step also reads vec_width (module law or default).
    vec = rules::lookupLaw(L.getModule(), "vec_width");
    entries.push_back(NamedAttribute(StringAttr::get(ctx, "vec_width"), vec));
  }
  LawAttr steps = rowConfig.getLaw("colsum_steps");
  if (!steps) {
    steps = rules::lookupLaw(L.getModule(), "colsum_steps");
    entries.push_back(NamedAttribute(StringAttr::get(ctx, "colsum_steps"), steps));
  }
  ColumnSumPlan plan;
  plan.config = ConfigAttr::get(ctx, DictionaryAttr::get(ctx, entries));
  int64_t warps = plan.config.getInt("warps");
  plan.cols = rowChunk(K2, 32 * warps);
  plan.step = plan.config.getInt("row_tile") * vec.getInt();
  plan.chunk = plan.step * steps.getInt();
  // Stage 2 (and a one-stage sum): few rows (the partials) and few programs, so each program
  // spreads its rows over the warps: one warp wide, `warps` times the rows per step.
  plan.sumCols = rowChunk(K2, 32);
  plan.sumStep = plan.step * warps;
  return plan;
}

int64_t spak::tile::columnSumStep(const ColumnSumPlan &plan, int64_t rows) {
  return rowChunk(rows, plan.step);
}

int64_t spak::tile::columnSumFinalStep(const ColumnSumPlan &plan, int64_t rows) {
  return rowChunk(rows, plan.sumStep);
}

bool spak::tile::columnSumTwoStage(const ColumnSumPlan &plan, int64_t rows) {
  return ShapedType::isDynamic(rows) || rows > plan.chunk;
}

SmallVector<Value> spak::tile::emitColumnAccumulate(
    KernelBuilder &k, const ColumnSumPlan &plan, int64_t step, unsigned n, Value lo, Value hi,
    Value c0, Value colBound, bool masked,
    function_ref<SmallVector<Value>(Value r0, Value mask)> terms) {
  TileType t = k.f32({step, plan.cols});
  SmallVector<Value> init(n, k.splat(t, 0.0));
  // The loop body is loads and element-wise adds only: each thread owns one column of the tile
  // (with more threads than columns, every threads/cols-th row), so there is no cross-thread
  // traffic until the one reduce below.
  auto loop = k.loop(lo, hi, k.idx(step), init, [&](Value r0, ValueRange it) -> SmallVector<Value> {
    Value m = masked ? k.bounds(t, {r0, c0}, {hi, colBound}) : Value();
    SmallVector<Value> add = terms(r0, m);
    SmallVector<Value> out;
    for (unsigned i = 0; i < n; ++i)
      out.push_back(k.addT(it[i], add[i]));
    return out;
  });
  SmallVector<Value> sums;
  for (unsigned i = 0; i < n; ++i)
    sums.push_back(k.reduce(ReduceKind::sum, loop.getResult(i), 0));
  return sums;
}

void spak::tile::emitColumnSumKernel(Lowering &L, StringRef base, StringRef math,
                                     const ColumnSumPlan &plan, ArrayRef<Value> Xs,
                                     ArrayRef<Value> Ys, bool chunked) {
  auto xT = cast<BufferType>(Xs[0].getType());
  int64_t R = xT.getShape()[1], K2 = xT.getShape()[2];
  unsigned n = Xs.size();
  // Stage 1 reads [step x cols] tiles; stage 2 and one-stage sums the wider, narrower final tiles.
  ColumnSumPlan p = plan;
  if (!chunked)
    p.cols = plan.sumCols;
  int64_t step = chunked ? plan.step : columnSumFinalStep(plan, R);
  SmallVector<Value> args(Xs.begin(), Xs.end());
  args.append(Ys.begin(), Ys.end());
  std::string g0 = ceilDivStr("K2", p.cols), g1 = chunked ? ceilDivStr("R", plan.chunk) : "1";
  KernelOp kernel = L.newKernel(base, args, {g0, g1, "K1"}, math, plan.config);
  {
    OpBuilder::InsertionGuard guard(L.b);
    Block *body = &kernel.getBody().front();
    L.b.setInsertionPointToStart(body);
    KernelBuilder k{L.b, L.loc()};
    Value X0 = body->getArgument(0);
    Value c0 = k.mul(k.pid(0), p.cols), k1 = k.pid(2), zero = k.idx(0);
    Value j = chunked ? k.pid(1) : zero;
    Value Rv = k.dim(X0, 1), K2v = k.dim(X0, 2);
    Value lo = chunked ? k.mul(j, plan.chunk) : zero;
    // A chunk is a whole number of steps: only the last step of the last chunk can pass R.
    Value hi = chunked ? k.minIdx(k.add(lo, plan.chunk), Rv) : Rv;
    bool masked = needsMask(R, step) || needsMask(K2, p.cols);
    TileType t = k.f32({step, p.cols}), rowT = k.f32({1, p.cols});
    SmallVector<Value> sums =
        emitColumnAccumulate(k, p, step, n, lo, hi, c0, K2v, masked,
                             [&](Value r0, Value m) -> SmallVector<Value> {
                               SmallVector<Value> xs;
                               for (unsigned i = 0; i < n; ++i)
                                 xs.push_back(k.load(t, body->getArgument(i), {k1, r0, c0}, m));
                               return xs;
                             });
    Value cm = needsMask(K2, p.cols) ? k.bounds(rowT, {zero, c0}, {k.idx(1), K2v}) : Value();
    for (unsigned i = 0; i < n; ++i)
      k.store(sums[i], body->getArgument(n + i), {k1, j, c0}, cm);
    k.ret();
  }
  Value chunks = chunked ? L.hostCeilDiv(L.hostDim(Xs[0], 1), plan.chunk) : L.hostIdx(1);
  L.launch(kernel, {L.gridFromDim(Xs[0], 2, p.cols), chunks, L.hostDim(Xs[0], 0)}, args);
}

/// sum of X3 [K1, R, K2] over R into Y2 [K1, K2].
static void emitReduceMiddle(Lowering &L, Value X3, Value Y2, ConfigAttr cfg) {
  auto xT = cast<BufferType>(X3.getType());
  int64_t K1 = xT.getShape()[0], R = xT.getShape()[1], K2 = xT.getShape()[2];
  if (K2 == 1) {
    emitRowSum(L, L.view(X3, {K1, R}), L.view(Y2, {K1, 1}), cfg.getInt("row_tile"), cfg);
    return;
  }
  ColumnSumPlan plan = planColumnSum(L, cfg, K2);
  Value Y3 = L.view(Y2, {K1, 1, K2});
  if (!columnSumTwoStage(plan, R)) {
    emitColumnSumKernel(L, "reduce_cols", "y[k1, c] = sum_r x[k1, r, c]", plan, {X3}, {Y3}, false);
    return;
  }
  // Long or dynamic columns: stage 1 sums chunks of rows into partials [K1, chunks, K2] over a
  // (column tile, chunk, k1) grid; stage 2 sums the chunks in order.
  int64_t chunks = ShapedType::isDynamic(R) ? ShapedType::kDynamic : (R + plan.chunk - 1) / plan.chunk;
  SmallVector<Value> sizes;
  if (ShapedType::isDynamic(K1))
    sizes.push_back(L.hostDim(X3, 0));
  if (ShapedType::isDynamic(chunks))
    sizes.push_back(L.hostCeilDiv(L.hostDim(X3, 1), plan.chunk));
  if (ShapedType::isDynamic(K2))  // e.g. the [T, C] positional-embedding gradient summed over a batch of B > chunk
    sizes.push_back(L.hostDim(X3, 2));
  Value partials = L.alloc({K1, chunks, K2}, L.b.getF32Type(), sizes);
  std::string math =
      llvm::formatv("p[k1, j, c] = sum_(r in chunk j of {0} rows) x[k1, r, c]", plan.chunk).str();
  emitColumnSumKernel(L, "reduce_cols_partial", math, plan, {X3}, {partials}, true);
  emitColumnSumKernel(L, "reduce_cols", "y[k1, c] = sum_r x[k1, r, c]", plan, {partials}, {Y3},
                      false);
}

static LogicalResult lowerReduceSum(Lowering &L) {
  if (failed(L.expectOperands(1, 1)))
    return failure();
  Operation *op = L.op();
  FailureOr<ConfigAttr> cfg = L.config();
  if (failed(cfg))
    return failure();
  RankedTensorType xT = L.rtype(op->getOperand(0));
  if (!xT.getElementType().isF32())
    return op->emitError("reduce_sum lowering handles f32 tensors");
  int64_t rank = xT.getRank();
  SmallVector<bool> reduced(rank, false);
  auto axes = op->getAttrOfType<DenseI64ArrayAttr>("axes");
  if (!axes || axes.empty())
    reduced.assign(rank, true);
  else
    for (int64_t a : axes.asArrayRef()) {
      int64_t d = a < 0 ? a + rank : a;
      if (d < 0 || d >= rank)
        return op->emitError("axis ") << a << " out of range for rank " << rank;
      reduced[d] = true;
    }
  // [K1, R, K2]: the reduced dims must be contiguous once size-1 dims are ignored.
  ArrayRef<int64_t> s = xT.getShape();
  int64_t first = -1, last = -1;
  for (int64_t d = 0; d < rank; ++d)
    if (reduced[d] && s[d] != 1) {
      if (first < 0)
        first = d;
      last = d;
    }
  Value X = L.buf(op->getOperand(0));
  if (first < 0) {
    // Only size-1 axes are reduced: the same elements, a host-side view.
    auto resBT = cast<BufferType>(Lowering::bufferTypeFor(op->getResult(0).getType()));
    if (product(cast<BufferType>(X.getType()).getShape()) == ShapedType::kDynamic &&
        resBT.getNumDynamicDims() == 0)
      return op->emitError("reduce_sum of a dynamic tensor to a static shape");
    L.mapValue(op->getResult(0), L.view(X, resBT.getShape()));
    return success();
  }
  for (int64_t d = first; d <= last; ++d)
    if (!reduced[d] && s[d] != 1)
      return op->emitError("reduce_sum lowering needs the reduced axes contiguous (ignoring "
                           "size-1 dims); got axes ")
             << axes << " of " << xT;
  int64_t K1 = product(s.take_front(first)), R = product(s.slice(first, last - first + 1)),
          K2 = product(s.drop_front(last + 1));
  // Result dim i is input dim i (keepdims) or the i-th kept input dim.
  auto resBT = cast<BufferType>(Lowering::bufferTypeFor(op->getResult(0).getType()));
  SmallVector<int64_t> resultToInput;
  for (int64_t d = 0; d < rank; ++d)
    if (L.boolAttr("keepdims") || !reduced[d])
      resultToInput.push_back(d);
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < resBT.getRank(); ++i)
    if (resBT.isDynamicDim(i)) {
      if (i >= static_cast<int64_t>(resultToInput.size()))
        return op->emitError("cannot size dynamic dimension ") << i << " of the result";
      sizes.push_back(L.hostDim(X, resultToInput[i]));
    }
  Value y = L.alloc(resBT.getShape(), resBT.getElementType(), sizes);
  L.mapValue(op->getResult(0), y);
  emitReduceMiddle(L, L.view(X, {K1, R, K2}), L.view(y, {K1, K2}), *cfg);
  return success();
}

//--- broadcast_like / zeros_like / dropout ----------------------------------------------

static LogicalResult lowerBroadcastLike(Lowering &L) {
  if (failed(L.expectOperands(2, 2)))
    return failure();
  Operation *op = L.op();
  RankedTensorType likeT = L.rtype(op->getOperand(1));
  auto axes = op->getAttrOfType<DenseI64ArrayAttr>("axes");
  SmallVector<int64_t> shape(likeT.getShape());
  int64_t rank = shape.size();
  for (int64_t a : axes ? axes.asArrayRef() : ArrayRef<int64_t>()) {
    int64_t d = a < 0 ? a + rank : a;
    if (d < 0 || d >= rank)
      return op->emitError("axis ") << a << " out of range for rank " << rank;
    shape[d] = 1;
  }
  // The input's dynamic dims must be the like's, in the kept positions.
  SmallVector<SmallVector<int64_t>> shapes = {shape};
  // emitMap allocates from operands of the result's rank: `like` provides sizes.
  return emitMap(L, "broadcast_like", "y[i] = x[i with the broadcast axes at 0]",
                 ValueRange{op->getOperand(0)}, op->getResult(0),
                 L.configOrModuleLaws(kElementwiseLaws),
                 [](KernelBuilder &, ArrayRef<Value> xs, TileType) { return xs[0]; }, shapes);
}

static LogicalResult lowerZerosLike(Lowering &L) {
  if (failed(L.expectOperands(1, 1)))
    return failure();
  return emitMap(L, "zeros", "y[i] = 0", ValueRange{}, L.op()->getResult(0),
                 L.configOrModuleLaws(kElementwiseLaws),
                 [](KernelBuilder &k, ArrayRef<Value>, TileType t) { return k.splat(t, 0.0); });
}

static LogicalResult lowerDropout(Lowering &L) {
  Operation *op = L.op();
  double p = L.floatAttr("p", 0.0);
  if (p != 0.0)
    return op->emitError("dropout with p = ")
           << fmtNum(p) << " has no tile lowering: the counter-based mask (splitmix64) needs integer "
                   "shift/xor tile ops; use p = 0";
  L.mapValue(op->getResult(0), L.buf(op->getOperand(0)));
  return success();
}

/// True when `use` is the upstream gradient of a fused softmax_xent region (the body argument is read only as
/// cross_entropy_grad's first operand): that lowering folds a splat constant into its kernel
/// (FusedRegions.cpp, lowerSoftmaxXent), so the constant needs no buffer.
static bool isFoldedXentSeed(OpOperand &use) {
  Operation *user = use.getOwner();
  auto kind = user->getAttrOfType<StringAttr>("kind");
  if (user->getName().getStringRef() != "spak_graph.fused" || !kind || kind.getValue() != "softmax_xent" ||
      user->getNumRegions() != 1 || !user->getRegion(0).hasOneBlock())
    return false;
  Block &body = user->getRegion(0).front();
  if (use.getOperandNumber() >= body.getNumArguments())
    return false;
  Value arg = body.getArgument(use.getOperandNumber());
  return !arg.use_empty() && llvm::all_of(arg.getUses(), [](OpOperand &u) {
    return u.getOwner()->getName().getStringRef() == "spak_graph.cross_entropy_grad" && u.getOperandNumber() == 0;
  });
}

/// `arith.constant dense<v> : tensor<...xf32>` (autodiff's seeds and zeros):
/// a buffer filled by a flat kernel, or nothing when every reader folds it (isFoldedXentSeed).
static LogicalResult lowerTensorConstant(Lowering &L) {
  Operation *op = L.op();
#ifdef SPAK_HAVE_FUSED_REGIONS
  if (!op->use_empty() && llvm::all_of(op->getUses(), isFoldedXentSeed)) {
    // No buffer: the result maps to itself, so a reader that did want a buffer fails verification loudly.
    L.mapValue(op->getResult(0), op->getResult(0));
    return success();
  }
#endif
  auto value = op->getAttrOfType<DenseElementsAttr>("value");
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!value || !value.isSplat() || !type || !type.hasStaticShape() ||
      !type.getElementType().isF32())
    return op->emitError("tile lowering handles splat constants of static f32 tensors");
  double v = value.getSplatValue<APFloat>().convertToDouble();
  return emitMap(L, "fill", ("y[i] = " + fmtNum(v)), ValueRange{}, op->getResult(0),
                 L.configOrModuleLaws(kElementwiseLaws),
                 [v](KernelBuilder &k, ArrayRef<Value>, TileType t) { return k.splat(t, v); });
}

void spak::tile::populateDataLowerings(LoweringTable &table) {
  table["arith.constant"] = lowerTensorConstant;
  table["embed"] = lowerEmbed;
  table["positions"] = lowerPositions;
  table["split"] = lowerSplit;
  table["concat"] = lowerConcat;
  table["transpose"] = lowerTranspose;
  table["reduce_sum"] = lowerReduceSum;
  table["broadcast_like"] = lowerBroadcastLike;
  table["zeros_like"] = lowerZerosLike;
  table["dropout"] = lowerDropout;
}
