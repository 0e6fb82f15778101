//===- GraphToTile.cpp - spak-lower-graph-to-tile -------------------------===//
//
// Lowers every spak_graph op of a host function to one spak_tile.kernel (a
// tile program) plus, in the host function, the allocation of its result and
// one spak_tile.launch. Tensors become row-major buffers.
//
// Kernel families (the laws each reads come from `spak.tile_config`, tile
// extents and masks from `spak.extents`, masking constants from `spak.floor`):
//   matmul     linear, matmul        tiled k-loop of loads + mma, bias epilogue
//   row        rmsnorm, layernorm    one pow2 row tile per row, masked
//              softmax, cross_entropy  online max/sum over column chunks
//   attention  attention             flash loop (online softmax, K/V latencies)
//   elementwise add sub mul scale relu gelu   flat vectorised map
//
// The graph ops are matched by name and read through the generic Operation
// API (operands in the documented order, attributes by name), so this file
// depends on the graph dialect's contract, not on its C++ classes.
//
//===----------------------------------------------------------------------===//
#include "spak/Conversion/Passes.h"
#include "spak/Rules/Laws.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

namespace spak {
#define GEN_PASS_DEF_LOWERGRAPHTOTILE
#include "spak/Conversion/Passes.h.inc"
} // namespace spak

using namespace mlir;
using namespace spak;
using namespace spak::tile;

namespace {

//===----------------------------------------------------------------------===//
// Small builders for kernel bodies
//===----------------------------------------------------------------------===//

/// Builds inside one kernel: index math, constants, masks.
struct KB {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }
  Value mul(Value a, int64_t c) { return mul(a, idx(c)); }
  Value add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
  Value minIdx(Value a, Value c) { return arith::MinUIOp::create(b, loc, a, c); }
  Value pid(int64_t axis) { return ProgramIdOp::create(b, loc, axis); }
  Value dim(Value buf, int64_t i) { return DimOp::create(b, loc, buf, i); }

  TileType f32(ArrayRef<int64_t> shape, MemorySpace s = MemorySpace::reg) {
    return TileType::get(shape, b.getF32Type(), s);
  }
  Value splat(TileType t, double v, LawAttr law = {}) {
    return ConstantOp::create(b, loc, t, b.getF64FloatAttr(v), law);
  }
  Value splatBool(ArrayRef<int64_t> shape, bool v) {
    auto t = TileType::get(shape, b.getI1Type());
    return ConstantOp::create(b, loc, t, b.getI64IntegerAttr(v ? 1 : 0), LawAttr());
  }
  /// In-bounds mask of a tile at `offsets` against `bounds`.
  Value bounds(TileType t, ArrayRef<Value> offsets, ArrayRef<Value> bnds) {
    return MaskOp::create(b, loc, t.getMaskType(), MaskKind::bounds, offsets, bnds);
  }
  Value load(TileType t, Value buf, ArrayRef<Value> offsets, Value mask = {},
             LawAttr latency = {}, IntegerAttr stage = {}) {
    return LoadOp::create(b, loc, t, buf, offsets, mask, latency, stage);
  }
  void store(Value v, Value buf, ArrayRef<Value> offsets, Value mask = {}) {
    StoreOp::create(b, loc, v, buf, offsets, mask);
  }
  Value bcast(Value v, TileType to) { return BroadcastOp::create(b, loc, to, v); }
  Value reduce(ReduceKind k, Value v, int64_t axis) {
    auto t = cast<TileType>(v.getType());
    SmallVector<int64_t> shape(t.getShape());
    shape[axis] = 1;
    return ReduceOp::create(b, loc, t.withShape(shape), k, v, axis);
  }
  Value select(Value c, Value t, Value f) { return SelectOp::create(b, loc, c, t, f); }
  Value addT(Value x, Value y) { return AddOp::create(b, loc, x, y); }
  Value subT(Value x, Value y) { return SubOp::create(b, loc, x, y); }
  Value mulT(Value x, Value y) { return MulOp::create(b, loc, x, y); }
  Value divT(Value x, Value y) { return DivOp::create(b, loc, x, y); }
  Value maxT(Value x, Value y) { return MaxOp::create(b, loc, x, y); }
  Value exp(Value x) { return ExpOp::create(b, loc, x); }
  Value log(Value x) { return LogOp::create(b, loc, x); }
};

static int64_t product(ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (ShapedType::isDynamic(d))
      return ShapedType::kDynamic;
    n *= d;
  }
  return n;
}

/// By namespace, so that the lowering also sees ops of an unregistered graph
/// dialect (tests in generic form).
static bool isGraphOp(Operation *op) {
  return op->getName().getDialectNamespace() == "spak_graph";
}

/// Shortest readable spelling of a number for the kernel's math comment.
static std::string fmtNum(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", v);
  return text;
}

//===----------------------------------------------------------------------===//
// The lowering of one module
//===----------------------------------------------------------------------===//

class GraphToTile {
public:
  explicit GraphToTile(ModuleOp module) : module(module), b(module.getContext()) {}

  LogicalResult run() {
    SmallVector<func::FuncOp> funcs;
    for (auto f : module.getOps<func::FuncOp>())
      if (!f.isExternal())
        funcs.push_back(f);
    for (func::FuncOp f : funcs)
      if (failed(lowerFunc(f)))
        return failure();
    return success();
  }

private:
  ModuleOp module;
  OpBuilder b;
  IRMapping map;            // tensor value → buffer value
  func::FuncOp hostFunc;    // function being lowered
  Operation *currentOp = nullptr;
  llvm::StringMap<unsigned> nameCounts;
  DenseMap<Value, Type> argTensorTypes;

  //--- types -----------------------------------------------------------------

  static Type bufferTypeFor(Type t) {
    auto ranked = dyn_cast<RankedTensorType>(t);
    if (!ranked)
      return t;
    ArrayRef<int64_t> shape = ranked.getShape();
    SmallVector<int64_t> one = {1};
    return BufferType::get(t.getContext(), shape.empty() ? ArrayRef<int64_t>(one) : shape,
                           ranked.getElementType());
  }

  //--- host side -------------------------------------------------------------

  Value buf(Value tensor) { return map.lookupOrDefault(tensor); }
  /// The tensor type of a graph value (function arguments are retyped to
  /// buffers up front; their tensor types are remembered here).
  Type ttype(Value v) { return argTensorTypes.lookup(v) ? argTensorTypes.lookup(v) : v.getType(); }

  /// Host view of `buffer` with a new shape (identity if equal).
  Value view(Value buffer, ArrayRef<int64_t> shape) {
    auto t = cast<BufferType>(buffer.getType());
    if (t.getShape() == shape)
      return buffer;
    return ViewOp::create(b, currentOp->getLoc(), BufferType::get(shape, t.getElementType()),
                          buffer);
  }
  /// [d0, ..., dn-1, C] → [d0*...*dn-1, C].
  Value rows2D(Value buffer) {
    auto t = cast<BufferType>(buffer.getType());
    if (t.getRank() == 2)
      return buffer;
    int64_t rows = product(t.getShape().drop_back());
    return view(buffer, {rows, t.getShape().back()});
  }
  Value flat(Value buffer) {
    auto t = cast<BufferType>(buffer.getType());
    return view(buffer, {product(t.getShape())});
  }

  /// Allocates the buffer of `result`; each dynamic dim is read from an
  /// operand buffer of the same rank that is dynamic in that dim.
  FailureOr<Value> allocFor(Value result) {
    auto type = cast<BufferType>(bufferTypeFor(result.getType()));
    SmallVector<Value> sizes;
    for (int64_t i = 0; i < type.getRank(); ++i) {
      if (!type.isDynamicDim(i))
        continue;
      Value source;
      for (Value operand : currentOp->getOperands()) {
        auto bt = dyn_cast<BufferType>(buf(operand).getType());
        if (bt && bt.getRank() == type.getRank() && bt.isDynamicDim(i)) {
          source = buf(operand);
          break;
        }
      }
      if (!source)
        return currentOp->emitError("cannot size dynamic dimension ")
               << i << " of the result from the operands";
      sizes.push_back(DimOp::create(b, currentOp->getLoc(), source, i));
    }
    Value alloc = AllocOp::create(b, currentOp->getLoc(), type, sizes);
    map.map(result, alloc);
    return alloc;
  }

  /// Host-side index: `ceildiv(extent, tile)` where extent is a buffer dim.
  Value gridFromDim(Value buffer, int64_t dimIndex, int64_t tileExtent) {
    Location loc = currentOp->getLoc();
    Value d = DimOp::create(b, loc, buffer, dimIndex);
    Value t = arith::ConstantIndexOp::create(b, loc, tileExtent);
    return arith::CeilDivUIOp::create(b, loc, d, t);
  }
  Value hostIdx(int64_t v) { return arith::ConstantIndexOp::create(b, currentOp->getLoc(), v); }

  //--- kernels ---------------------------------------------------------------

  /// A fresh kernel before the host function; the builder's insertion point
  /// is restored by the caller's guard.
  KernelOp newKernel(StringRef base, ArrayRef<Value> args, ArrayRef<StringRef> grid,
                     StringRef math, ConfigAttr config) {
    std::string name = (base + "_" + Twine(nameCounts[base]++)).str();
    while (SymbolTable::lookupSymbolIn(module, name))
      name = (base + "_" + Twine(nameCounts[base]++)).str();
    SmallVector<Type> types;
    for (Value a : args)
      types.push_back(a.getType());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(hostFunc);
    auto kernel = KernelOp::create(b, currentOp->getLoc(), name, b.getFunctionType(types, {}),
                                   grid, math);
    if (config)
      kernel.setConfigAttr(config);
    kernel.addEntryBlock();
    return kernel;
  }

  void launch(KernelOp kernel, ArrayRef<Value> grid, ArrayRef<Value> args) {
    LaunchOp::create(b, currentOp->getLoc(), kernel.getSymName(), grid, args);
  }

  //--- op attributes -----------------------------------------------------------

  FailureOr<ConfigAttr> config() {
    auto c = currentOp->getAttrOfType<ConfigAttr>(rules::kTileConfigAttr);
    if (!c)
      return currentOp->emitError("has no spak.tile_config; run --spak-apply-laws first (or the "
                                  "spak-graph-to-tile pipeline)");
    return c;
  }
  FailureOr<ExtentAttr> extent(StringRef name) {
    auto dict = currentOp->getAttrOfType<DictionaryAttr>(rules::kExtentsAttr);
    if (!dict)
      return currentOp->emitError("has no spak.extents; run --spak-pow2-masking first (or the "
                                  "spak-graph-to-tile pipeline)");
    auto e = dyn_cast_or_null<ExtentAttr>(dict.get(name));
    if (!e)
      return currentOp->emitError("spak.extents lacks '") << name << "'";
    return e;
  }
  FailureOr<LawAttr> floorLaw() {
    auto f = currentOp->getAttrOfType<LawAttr>(rules::kFloorAttr);
    if (!f)
      return currentOp->emitError("has no spak.floor; run --spak-stability-floor first (or the "
                                  "spak-graph-to-tile pipeline)");
    return f;
  }
  double floatAttr(StringRef name, double fallback) {
    Attribute a = currentOp->getAttr(name);
    if (auto f = dyn_cast_or_null<FloatAttr>(a))
      return f.getValueAsDouble();
    if (auto i = dyn_cast_or_null<IntegerAttr>(a))
      return static_cast<double>(i.getInt());
    return fallback;
  }
  bool boolAttr(StringRef name) {
    Attribute a = currentOp->getAttr(name);
    if (auto bv = dyn_cast_or_null<BoolAttr>(a))
      return bv.getValue();
    return a && isa<UnitAttr>(a);
  }

  LogicalResult expectOperands(unsigned lo, unsigned hi) {
    unsigned n = currentOp->getNumOperands();
    if (n < lo || n > hi || currentOp->getNumResults() != 1)
      return currentOp->emitError("expected ")
             << lo << (lo == hi ? "" : "-" + std::to_string(hi)) << " operands and one result";
    for (Value v : currentOp->getOperands())
      if (!isa<RankedTensorType>(ttype(v)))
        return currentOp->emitError("operands must be ranked tensors");
    if (!isa<RankedTensorType>(currentOp->getResult(0).getType()))
      return currentOp->emitError("the result must be a ranked tensor");
    return success();
  }

  //--- lowering driver -----------------------------------------------------------

  LogicalResult lowerFunc(func::FuncOp f) {
    hostFunc = f;
    bool hasGraph = false;
    f.walk([&](Operation *op) {
      if (isGraphOp(op))
        hasGraph = true;
    });
    bool hasTensorArgs = llvm::any_of(f.getArgumentTypes(),
                                      [](Type t) { return isa<RankedTensorType>(t); });
    if (!hasGraph && !hasTensorArgs)
      return success();
    if (!f.getBody().hasOneBlock())
      return f.emitError("graph functions must have a single block");
    Block &entry = f.getBody().front();

    // Tensor arguments become buffers.
    for (BlockArgument arg : entry.getArguments()) {
      argTensorTypes[arg] = arg.getType();
      arg.setType(bufferTypeFor(arg.getType()));
    }

    SmallVector<Operation *> graphOps;
    for (Operation &op : entry)
      if (isGraphOp(&op))
        graphOps.push_back(&op);
    for (Operation *op : graphOps) {
      currentOp = op;
      b.setInsertionPoint(op);
      if (failed(lowerOp(op)))
        return failure();
    }
    // Returned tensors become returned buffers.
    auto ret = cast<func::ReturnOp>(entry.getTerminator());
    for (OpOperand &operand : ret->getOpOperands())
      operand.set(buf(operand.get()));
    for (Operation *op : llvm::reverse(graphOps)) {
      op->dropAllUses();
      op->erase();
    }
    f.setFunctionType(FunctionType::get(f.getContext(), entry.getArgumentTypes(),
                                        ret.getOperandTypes()));
    return success();
  }

  /// The planning passes ran on this op: one precise error otherwise.
  LogicalResult checkPlanned(Operation *op) {
    StringRef full = op->getName().getStringRef();
    if (rules::classifyGraphOp(full) == rules::KernelKind::None)
      return success();
    if (failed(config()))
      return failure();
    if (!op->getAttrOfType<DictionaryAttr>(rules::kExtentsAttr))
      return op->emitError("has no spak.extents; run --spak-pow2-masking first (or the "
                           "spak-graph-to-tile pipeline)");
    if (rules::usesStabilityFloor(full) && failed(floorLaw()))
      return failure();
    return success();
  }

  LogicalResult lowerOp(Operation *op) {
    StringRef name = op->getName().getStringRef();
    if (failed(checkPlanned(op)))
      return failure();
    name.consume_front("spak_graph.");
    if (name == "linear")
      return lowerLinear();
    if (name == "matmul")
      return lowerMatmul();
    if (name == "rmsnorm" || name == "layernorm")
      return lowerNorm(name == "layernorm");
    if (name == "softmax")
      return lowerSoftmax();
    if (name == "cross_entropy")
      return lowerCrossEntropy();
    if (name == "attention")
      return lowerAttention();
    if (name == "add" || name == "sub" || name == "mul" || name == "scale" || name == "relu" ||
        name == "gelu")
      return lowerElementwise(name);
    if (name == "reshape")
      return lowerReshape();
    return op->emitError("no tile lowering for '") << op->getName() << "' yet";
  }

  //--- matmul family -----------------------------------------------------------

  /// The shared k-loop: C[m0:, n0:] = op(A) · op(B) (+ bias). A is [M, K] (or
  /// [K, M] with transA), B is [N, K] with transB (the linear weight layout)
  /// or [K, N].
  LogicalResult emitMatmul(StringRef base, StringRef math, Value a, Value bm, Value bias,
                           Value out, bool transA, bool transB) {
    FailureOr<ConfigAttr> cfg = config();
    FailureOr<ExtentAttr> em = extent("m"), en = extent("n"), ek = extent("k");
    if (failed(cfg) || failed(em) || failed(en) || failed(ek))
      return failure();
    int64_t tm = em->getTile(), tn = en->getTile(), tk = ek->getTile();
    auto outT = cast<BufferType>(out.getType());
    SmallVector<Value> args = {a, bm};
    if (bias)
      args.push_back(bias);
    args.push_back(out);
    std::string gm = ("ceildiv(M, " + Twine(tm) + ")").str();
    std::string gn = ("ceildiv(N, " + Twine(tn) + ")").str();
    KernelOp kernel = newKernel(base, args, {gm, gn}, math, *cfg);

    {
      OpBuilder::InsertionGuard guard(b);
      Block *body = &kernel.getBody().front();
      b.setInsertionPointToStart(body);
      KB k{b, currentOp->getLoc()};
      Value A = body->getArgument(0), B = body->getArgument(1);
      Value Bias = bias ? body->getArgument(2) : Value();
      Value C = body->getArgument(bias ? 3 : 2);
      Value m0 = k.mul(k.pid(0), tm), n0 = k.mul(k.pid(1), tn);
      Value M = k.dim(C, 0), N = k.dim(C, 1);
      Value K = k.dim(A, transA ? 0 : 1);
      Value zero = k.idx(0);
      TileType accT = k.f32({tm, tn});
      Value acc0 = k.splat(accT, 0.0);
      LawAttr stagesLaw = cfg->getLaw("stages");
      bool maskA = em->needsMask() || ek->needsMask();
      bool maskB = en->needsMask() || ek->needsMask();
      auto loop = scf::ForOp::create(b, k.loc, zero, K, k.idx(tk), ValueRange{acc0});
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loop.getBody());
        Value k0 = loop.getInductionVar();
        Value acc = loop.getRegionIterArgs()[0];
        // A tile: [tm, tk] at (m0, k0), or [tk, tm] at (k0, m0) when transposed.
        TileType aT = transA ? k.f32({tk, tm}, MemorySpace::smem) : k.f32({tm, tk}, MemorySpace::smem);
        SmallVector<Value> aOff = transA ? SmallVector<Value>{k0, m0} : SmallVector<Value>{m0, k0};
        SmallVector<Value> aBnd = transA ? SmallVector<Value>{K, M} : SmallVector<Value>{M, K};
        Value aMask = maskA ? k.bounds(aT, aOff, aBnd) : Value();
        Value aTile = k.load(aT, A, aOff, aMask, stagesLaw, b.getI64IntegerAttr(0));
        TileType bT = transB ? k.f32({tn, tk}, MemorySpace::smem) : k.f32({tk, tn}, MemorySpace::smem);
        SmallVector<Value> bOff = transB ? SmallVector<Value>{n0, k0} : SmallVector<Value>{k0, n0};
        SmallVector<Value> bBnd = transB ? SmallVector<Value>{N, K} : SmallVector<Value>{K, N};
        Value bMask = maskB ? k.bounds(bT, bOff, bBnd) : Value();
        Value bTile = k.load(bT, B, bOff, bMask, stagesLaw, b.getI64IntegerAttr(0));
        auto mma = MmaOp::create(b, k.loc, accT, aTile, bTile, acc, transA, transB);
        scf::YieldOp::create(b, k.loc, mma.getResult());
      }
      Value result = loop.getResult(0);
      if (Bias) {
        // Bias is viewed as [1, N] by the host.
        TileType biasT = k.f32({1, tn});
        Value bm = en->needsMask() ? k.bounds(biasT, {zero, n0}, {k.idx(1), N}) : Value();
        Value bt = k.load(biasT, Bias, {zero, n0}, bm);
        result = k.addT(result, k.bcast(bt, accT));
      }
      Value cMask = (em->needsMask() || en->needsMask()) ? k.bounds(accT, {m0, n0}, {M, N}) : Value();
      k.store(result, C, {m0, n0}, cMask);
      ReturnOp::create(b, k.loc);
    }

    Value gridM = gridFromDim(out, 0, tm);
    Value gridN = outT.isDynamicDim(1) ? gridFromDim(out, 1, tn)
                                       : hostIdx((outT.getShape()[1] + tn - 1) / tn);
    launch(kernel, {gridM, gridN}, args);
    return success();
  }

  LogicalResult lowerLinear() {
    if (failed(expectOperands(2, 3)))
      return failure();
    Value x = currentOp->getOperand(0), w = currentOp->getOperand(1);
    auto wT = cast<RankedTensorType>(ttype(w));
    auto xT = cast<RankedTensorType>(ttype(x));
    if (wT.getRank() != 2 || xT.getShape().back() != wT.getShape()[1])
      return currentOp->emitError("linear expects w[N, K] with K = the last dim of x");
    FailureOr<Value> y = allocFor(currentOp->getResult(0));
    if (failed(y))
      return failure();
    Value bias;
    if (currentOp->getNumOperands() == 3) {
      auto bT = cast<RankedTensorType>(ttype(currentOp->getOperand(2)));
      if (bT.getRank() != 1 || bT.getShape()[0] != wT.getShape()[0])
        return currentOp->emitError("linear bias must be [N] = [")
               << wT.getShape()[0] << "], got " << bT;
      bias = view(buf(currentOp->getOperand(2)), {1, wT.getShape()[0]});
    }
    return emitMatmul("linear",
                      bias ? "y[m, n] = sum_k x[m, k] * w[n, k] + b[n]"
                           : "y[m, n] = sum_k x[m, k] * w[n, k]",
                      rows2D(buf(x)), buf(w), bias, rows2D(*y), /*transA=*/false,
                      /*transB=*/true);
  }

  LogicalResult lowerMatmul() {
    if (failed(expectOperands(2, 2)))
      return failure();
    auto aT = cast<RankedTensorType>(ttype(currentOp->getOperand(0)));
    auto bT = cast<RankedTensorType>(ttype(currentOp->getOperand(1)));
    if (aT.getRank() != 2 || bT.getRank() != 2)
      return currentOp->emitError("matmul lowering handles rank-2 operands");
    bool transA = boolAttr("transpose_a"), transB = boolAttr("transpose_b");
    FailureOr<Value> c = allocFor(currentOp->getResult(0));
    if (failed(c))
      return failure();
    std::string math = llvm::formatv("c[m, n] = sum_k {0} * {1}", transA ? "a[k, m]" : "a[m, k]",
                                     transB ? "b[n, k]" : "b[k, n]")
                           .str();
    return emitMatmul("matmul", math, buf(currentOp->getOperand(0)),
                      buf(currentOp->getOperand(1)), Value(), *c, transA, transB);
  }

  //--- row family ----------------------------------------------------------------

  /// rmsnorm(x[, w]) / layernorm(x, w, b): one pow2 row tile per row.
  LogicalResult lowerNorm(bool layer) {
    if (failed(expectOperands(layer ? 3 : 1, 3)))
      return failure();
    FailureOr<ConfigAttr> cfg = config();
    FailureOr<ExtentAttr> er = extent("rows"), ec = extent("cols");
    if (failed(cfg) || failed(er) || failed(ec))
      return failure();
    double eps = floatAttr("eps", 1e-5);
    int64_t rt = er->getTile(), cp = ec->getTile(), cols = ec->getSize();
    FailureOr<Value> y = allocFor(currentOp->getResult(0));
    if (failed(y))
      return failure();
    SmallVector<Value> args = {rows2D(buf(currentOp->getOperand(0)))};
    bool hasW = currentOp->getNumOperands() >= 2, hasB = currentOp->getNumOperands() >= 3;
    for (unsigned i = 1; i < currentOp->getNumOperands(); ++i) {
      auto pT = cast<RankedTensorType>(ttype(currentOp->getOperand(i)));
      if (pT.getRank() != 1 || pT.getShape()[0] != cols)
        return currentOp->emitError("norm parameter #") << i << " must be [" << cols << "], got "
                                                        << pT;
      args.push_back(view(buf(currentOp->getOperand(i)), {1, cols}));
    }
    args.push_back(rows2D(*y));
    std::string math =
        layer ? llvm::formatv("mu = mean(x[r, :]); var = mean((x[r, :] - mu)^2); "
                              "y[r, c] = (x[r, c] - mu) * rsqrt(var + {0}) * w[c] + b[c]",
                              fmtNum(eps))
                    .str()
              : llvm::formatv("y[r, c] = x[r, c] * rsqrt(mean(x[r, :]^2) + {0}){1}",
                              fmtNum(eps), hasW ? " * w[c]" : "")
                    .str();
    std::string grid = ("ceildiv(rows, " + Twine(rt) + ")").str();
    KernelOp kernel = newKernel(layer ? "layernorm" : "rmsnorm", args, {grid}, math, *cfg);
    {
      OpBuilder::InsertionGuard guard(b);
      Block *body = &kernel.getBody().front();
      b.setInsertionPointToStart(body);
      KB k{b, currentOp->getLoc()};
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
      Value inv = RsqrtOp::create(b, k.loc, k.addT(ms, k.splat(colT, eps)));
      Value out = k.mulT(centered, k.bcast(inv, rowT));
      TileType vecT = k.f32({1, cp});
      Value vecMask = ec->needsMask() ? k.bounds(vecT, {zero, zero}, {k.idx(1), C}) : Value();
      if (hasW)
        out = k.mulT(out, k.bcast(k.load(vecT, body->getArgument(1), {zero, zero}, vecMask), rowT));
      if (hasB)
        out = k.addT(out, k.bcast(k.load(vecT, body->getArgument(2), {zero, zero}, vecMask), rowT));
      k.store(out, Y, {r0, zero}, mask);
      ReturnOp::create(b, k.loc);
    }
    launch(kernel, {gridFromDim(args.front(), 0, rt)}, args);
    return success();
  }

  /// The online (max, sum-of-exp) loop over column chunks of `X` rows
  /// [r0, r0 + rt): returns (m, l) with l = sum_c exp(x[r, c] - m[r]).
  /// Out-of-range columns take the stability floor.
  std::pair<Value, Value> emitOnlineMaxSum(KB &k, Value X, Value r0, Value R, Value C,
                                           ExtentAttr er, ExtentAttr ec, int64_t rt,
                                           LawAttr floor) {
    int64_t cc = ec.getTile();
    TileType chunkT = k.f32({rt, cc}), colT = k.f32({rt, 1});
    Value m0 = k.splat(colT, floor.getFloat(), floor), l0 = k.splat(colT, 0.0);
    Value floorT = k.splat(chunkT, floor.getFloat(), floor);
    auto loop = scf::ForOp::create(b, k.loc, k.idx(0), C, k.idx(cc), ValueRange{m0, l0});
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    Value c0 = loop.getInductionVar();
    Value m = loop.getRegionIterArgs()[0], l = loop.getRegionIterArgs()[1];
    bool masked = er.needsMask() || ec.needsMask();
    Value mask = masked ? k.bounds(chunkT, {r0, c0}, {R, C}) : Value();
    Value x = k.load(chunkT, X, {r0, c0}, mask);
    if (mask)
      x = k.select(mask, x, floorT);
    Value mNew = k.maxT(m, k.reduce(ReduceKind::max, x, 1));
    Value p = k.exp(k.subT(x, k.bcast(mNew, chunkT)));
    Value lNew = k.addT(k.mulT(l, k.exp(k.subT(m, mNew))), k.reduce(ReduceKind::sum, p, 1));
    scf::YieldOp::create(b, k.loc, ValueRange{mNew, lNew});
    return {loop.getResult(0), loop.getResult(1)};
  }

  LogicalResult lowerSoftmax() {
    if (failed(expectOperands(1, 1)))
      return failure();
    if (auto axis = currentOp->getAttrOfType<IntegerAttr>("axis")) {
      int64_t rank = cast<RankedTensorType>(ttype(currentOp->getOperand(0))).getRank();
      if (axis.getInt() != -1 && axis.getInt() != rank - 1)
        return currentOp->emitError("softmax lowering handles the last axis, got axis ")
               << axis.getInt();
    }
    FailureOr<ConfigAttr> cfg = config();
    FailureOr<ExtentAttr> er = extent("rows"), ec = extent("cols");
    FailureOr<LawAttr> floor = floorLaw();
    if (failed(cfg) || failed(er) || failed(ec) || failed(floor))
      return failure();
    int64_t rt = er->getTile(), cc = ec->getTile();
    FailureOr<Value> y = allocFor(currentOp->getResult(0));
    if (failed(y))
      return failure();
    SmallVector<Value> args = {rows2D(buf(currentOp->getOperand(0))), rows2D(*y)};
    std::string grid = ("ceildiv(rows, " + Twine(rt) + ")").str();
    KernelOp kernel = newKernel("softmax", args, {grid},
                                "y[r, c] = exp(x[r, c] - max_c x[r, :]) / sum_c exp(x[r, c] - max)",
                                *cfg);
    {
      OpBuilder::InsertionGuard guard(b);
      Block *body = &kernel.getBody().front();
      b.setInsertionPointToStart(body);
      KB k{b, currentOp->getLoc()};
      Value X = body->getArgument(0), Y = body->getArgument(1);
      Value r0 = k.mul(k.pid(0), rt), R = k.dim(X, 0), C = k.dim(X, 1);
      auto [m, l] = emitOnlineMaxSum(k, X, r0, R, C, *er, *ec, rt, *floor);
      TileType chunkT = k.f32({rt, cc});
      Value mB = k.bcast(m, chunkT), lB = k.bcast(l, chunkT);
      auto loop = scf::ForOp::create(b, k.loc, k.idx(0), C, k.idx(cc));
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(loop.getBody());
        Value c0 = loop.getInductionVar();
        bool masked = er->needsMask() || ec->needsMask();
        Value mask = masked ? k.bounds(chunkT, {r0, c0}, {R, C}) : Value();
        Value x = k.load(chunkT, X, {r0, c0}, mask);
        k.store(k.divT(k.exp(k.subT(x, mB)), lB), Y, {r0, c0}, mask);
      }
      ReturnOp::create(b, k.loc);
    }
    launch(kernel, {gridFromDim(args.front(), 0, rt)}, args);
    return success();
  }

  /// cross_entropy(logits[..., V], targets[...] i32) → scalar mean loss.
  /// Kernel 1 (row-tiled): losses[r] = logsumexp(x[r, :]) - x[r, t[r]].
  /// Kernel 2 (one program): loss = mean_r losses[r] — deterministic, no atomics.
  LogicalResult lowerCrossEntropy() {
    if (failed(expectOperands(2, 2)))
      return failure();
    FailureOr<ConfigAttr> cfg = config();
    FailureOr<ExtentAttr> er = extent("rows"), ec = extent("cols");
    FailureOr<LawAttr> floor = floorLaw();
    if (failed(cfg) || failed(er) || failed(ec) || failed(floor))
      return failure();
    auto resT = cast<RankedTensorType>(currentOp->getResult(0).getType());
    if (resT.getRank() != 0 && product(resT.getShape()) != 1)
      return currentOp->emitError("cross_entropy lowering produces the scalar mean loss");
    int64_t rt = er->getTile(), cc = ec->getTile();
    Location loc = currentOp->getLoc();
    Value X = rows2D(buf(currentOp->getOperand(0)));
    Value Tg = flat(buf(currentOp->getOperand(1)));
    Tg = view(Tg, {cast<BufferType>(Tg.getType()).getShape()[0], 1});
    int64_t rowsStatic = cast<BufferType>(X.getType()).getShape()[0];
    SmallVector<Value> sizes;
    if (ShapedType::isDynamic(rowsStatic))
      sizes.push_back(DimOp::create(b, loc, X, 0));
    Value losses = AllocOp::create(b, loc, BufferType::get({rowsStatic, 1}, b.getF32Type()), sizes);
    FailureOr<Value> loss = allocFor(currentOp->getResult(0));
    if (failed(loss))
      return failure();

    // Kernel 1: per-row loss.
    SmallVector<Value> args1 = {X, Tg, losses};
    std::string grid = ("ceildiv(rows, " + Twine(rt) + ")").str();
    KernelOp k1 = newKernel("cross_entropy_rows", args1, {grid},
                            "losses[r] = log(sum_c exp(x[r, c] - m[r])) + m[r] - x[r, t[r]]", *cfg);
    {
      OpBuilder::InsertionGuard guard(b);
      Block *body = &k1.getBody().front();
      b.setInsertionPointToStart(body);
      KB k{b, loc};
      Value Xa = body->getArgument(0), Ta = body->getArgument(1), La = body->getArgument(2);
      Value r0 = k.mul(k.pid(0), rt), R = k.dim(Xa, 0), C = k.dim(Xa, 1), zero = k.idx(0);
      auto [m, l] = emitOnlineMaxSum(k, Xa, r0, R, C, *er, *ec, rt, *floor);
      // The target logit: sum over chunks of select(col == t[r], x, 0).
      TileType tgtT = TileType::get({rt, 1}, b.getI32Type());
      Value rowMask = er->needsMask() ? k.bounds(tgtT, {r0, zero}, {R, k.idx(1)}) : Value();
      Value tgt = k.load(tgtT, Ta, {r0, zero}, rowMask);
      TileType chunkT = k.f32({rt, cc}), colT = k.f32({rt, 1});
      TileType chunkI = TileType::get({rt, cc}, b.getI32Type());
      Value tgtB = k.bcast(tgt, chunkI);
      auto loop = scf::ForOp::create(b, loc, zero, C, k.idx(cc), ValueRange{k.splat(colT, 0.0)});
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(loop.getBody());
        Value c0 = loop.getInductionVar();
        bool masked = er->needsMask() || ec->needsMask();
        Value mask = masked ? k.bounds(chunkT, {r0, c0}, {R, C}) : Value();
        Value x = k.load(chunkT, Xa, {r0, c0}, mask);
        Value c0i = arith::IndexCastOp::create(b, loc, b.getI32Type(), c0);
        Value cols = k.addT(IotaOp::create(b, loc, chunkI, 1), k.bcast(c0i, chunkI));
        Value hit = CmpOp::create(b, loc, chunkI.getMaskType(), CmpPredicate::eq, cols, tgtB);
        Value picked = k.reduce(ReduceKind::sum, k.select(hit, x, k.splat(chunkT, 0.0)), 1);
        scf::YieldOp::create(b, loc, ValueRange{k.addT(loop.getRegionIterArgs()[0], picked)});
      }
      Value lossRow = k.subT(k.addT(k.log(l), m), loop.getResult(0));
      k.store(lossRow, La, {r0, zero}, rowMask);
      ReturnOp::create(b, loc);
    }
    launch(k1, {gridFromDim(X, 0, rt)}, args1);

    // Kernel 2: mean over rows, one program, a loop over row chunks.
    Value lossView = view(*loss, {1, 1});
    SmallVector<Value> args2 = {losses, lossView};
    KernelOp k2 = newKernel("mean_rows", args2, {"1"}, "loss = sum_r losses[r] / rows", *cfg);
    {
      OpBuilder::InsertionGuard guard(b);
      Block *body = &k2.getBody().front();
      b.setInsertionPointToStart(body);
      KB k{b, loc};
      Value La = body->getArgument(0), Out = body->getArgument(1);
      Value R = k.dim(La, 0), zero = k.idx(0);
      int64_t chunk = rules::kSoftmaxChunk;
      TileType chunkT = k.f32({chunk, 1}), oneT = k.f32({1, 1});
      auto loop = scf::ForOp::create(b, loc, zero, R, k.idx(chunk), ValueRange{k.splat(oneT, 0.0)});
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(loop.getBody());
        Value r0 = loop.getInductionVar();
        Value mask = k.bounds(chunkT, {r0, zero}, {R, k.idx(1)});
        Value v = k.load(chunkT, La, {r0, zero}, mask);
        scf::YieldOp::create(b, loc,
                             ValueRange{k.addT(loop.getRegionIterArgs()[0],
                                               k.reduce(ReduceKind::sum, v, 0))});
      }
      Value rf = arith::UIToFPOp::create(b, loc, b.getF32Type(),
                                         arith::IndexCastUIOp::create(b, loc, b.getI32Type(), R));
      k.store(k.divT(loop.getResult(0), k.bcast(rf, oneT)), Out, {zero, zero});
      ReturnOp::create(b, loc);
    }
    launch(k2, {hostIdx(1)}, args2);
    return success();
  }

  //--- attention ---------------------------------------------------------------------

  /// Flash attention forward (fmha_kernel.dsl FusedAttention): per (query
  /// tile, batch·head), loop over key/value tiles with an online softmax.
  LogicalResult lowerAttention() {
    if (failed(expectOperands(3, 3)))
      return failure();
    FailureOr<ConfigAttr> cfg = config();
    FailureOr<ExtentAttr> eq = extent("q"), ekv = extent("kv"), ed = extent("d");
    FailureOr<LawAttr> floor = floorLaw();
    if (failed(cfg) || failed(eq) || failed(ekv) || failed(ed) || failed(floor))
      return failure();
    auto heads = currentOp->getAttrOfType<IntegerAttr>("heads");
    auto qT = cast<RankedTensorType>(ttype(currentOp->getOperand(0)));
    for (Value v : currentOp->getOperands())
      if (ttype(v) != qT)
        return currentOp->emitError("attention lowering expects q, k, v of one type [B, T, C]");
    int64_t H = heads.getInt(), hd = ed->getSize(), dp = ed->getTile();
    int64_t tm = eq->getTile(), tn = ekv->getTile();
    // Graph contract: `causal` defaults to true; an absent or 0.0 `scale` means 1/sqrt(head_dim).
    bool causal = currentOp->getAttr("causal") ? boolAttr("causal") : true;
    double scale = floatAttr("scale", 0.0);
    if (scale == 0.0)
      scale = 1.0 / std::sqrt(static_cast<double>(hd));
    FailureOr<Value> o = allocFor(currentOp->getResult(0));
    if (failed(o))
      return failure();
    SmallVector<Value> args = {buf(currentOp->getOperand(0)), buf(currentOp->getOperand(1)),
                               buf(currentOp->getOperand(2)), *o};
    std::string math = llvm::formatv(
        "o[b, t, h*{0}:(h+1)*{0}] = softmax_s(q k^T * {1}{2}) v  (online softmax, masked "
        "logits = stability floor)",
        hd, fmtNum(scale), causal ? ", causal s <= t" : "").str();
    std::string gq = ("ceildiv(T, " + Twine(tm) + ")").str();
    std::string gbh = ("B * " + Twine(H)).str();
    KernelOp kernel = newKernel("attention", args, {gq, gbh}, math, *cfg);
    {
      OpBuilder::InsertionGuard guard(b);
      Block *body = &kernel.getBody().front();
      b.setInsertionPointToStart(body);
      KB k{b, currentOp->getLoc()};
      Location loc = k.loc;
      Value Q = body->getArgument(0), K = body->getArgument(1), V = body->getArgument(2),
            O = body->getArgument(3);
      Value m0 = k.mul(k.pid(0), tm);
      Value bh = k.pid(1), hIdx = k.idx(H);
      Value bIdx = arith::DivUIOp::create(b, loc, bh, hIdx);
      Value h = arith::RemUIOp::create(b, loc, bh, hIdx);
      Value col0 = k.mul(h, hd);
      Value T = k.dim(Q, 1), zero = k.idx(0);
      Value hdV = k.idx(hd);
      TileType qTile = k.f32({tm, dp}), kvTile = k.f32({tn, dp}, MemorySpace::smem);
      TileType sT = k.f32({tm, tn}), colT = k.f32({tm, 1});
      // Head-dim columns past hd (pow2 padding) belong to the next head: mask them.
      bool qMasked = eq->needsMask() || ed->needsMask();
      Value qMask = qMasked ? k.bounds(qTile, {m0, zero}, {T, hdV}) : Value();
      Value q = k.load(qTile, Q, {bIdx, m0, col0}, qMask);
      Value mInit = k.splat(colT, floor->getFloat(), *floor);
      Value lInit = k.splat(colT, 0.0);
      Value accInit = k.splat(qTile, 0.0);
      Value floorS = k.splat(sT, floor->getFloat(), *floor);
      Value scaleS = k.splat(sT, scale);
      // Causal: key tiles past the last query row of this tile contribute nothing.
      Value kvEnd = causal ? k.minIdx(T, k.add(m0, k.idx(tm))) : T;
      auto loop = scf::ForOp::create(b, loc, zero, kvEnd, k.idx(tn),
                                     ValueRange{mInit, lInit, accInit});
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(loop.getBody());
        Value n0 = loop.getInductionVar();
        Value mI = loop.getRegionIterArgs()[0], lI = loop.getRegionIterArgs()[1],
              acc = loop.getRegionIterArgs()[2];
        bool kvMasked = ekv->needsMask() || ed->needsMask();
        Value kvMask = kvMasked ? k.bounds(kvTile, {n0, zero}, {T, hdV}) : Value();
        Value kt = k.load(kvTile, K, {bIdx, n0, col0}, kvMask, cfg->getLaw("k_lat"),
                          b.getI64IntegerAttr(0));
        Value vt = k.load(kvTile, V, {bIdx, n0, col0}, kvMask, cfg->getLaw("v_lat"),
                          b.getI64IntegerAttr(1));
        Value s = MmaOp::create(b, loc, sT, q, kt, k.splat(sT, 0.0), false, true);
        s = k.mulT(s, scaleS);
        Value valid;
        if (ekv->needsMask())
          valid = k.bounds(sT, {zero, n0}, {k.idx(tm), T});
        if (causal) {
          Value cm = MaskOp::create(b, loc, sT.getMaskType(), MaskKind::causal,
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
        Value accNew = MmaOp::create(b, loc, qTile, p, vt, scaled, false, false);
        scf::YieldOp::create(b, loc, ValueRange{mNew, lNew, accNew});
      }
      Value out = k.divT(loop.getResult(2), k.bcast(loop.getResult(1), qTile));
      k.store(out, O, {bIdx, m0, col0}, qMask);
      ReturnOp::create(b, loc);
    }
    Location loc = currentOp->getLoc();
    Value gridQ = gridFromDim(args[0], 1, tm);
    Value batch = DimOp::create(b, loc, args[0], 0);
    Value gridBH = arith::MulIOp::create(b, loc, batch, hostIdx(H));
    launch(kernel, {gridQ, gridBH}, args);
    return success();
  }

  //--- elementwise ------------------------------------------------------------------------

  LogicalResult lowerElementwise(StringRef name) {
    bool binary = name == "add" || name == "sub" || name == "mul";
    if (failed(expectOperands(binary ? 2 : 1, binary ? 2 : 1)))
      return failure();
    Type resT = currentOp->getResult(0).getType();
    for (Value v : currentOp->getOperands())
      if (ttype(v) != resT)
        return currentOp->emitError("elementwise lowering needs operands of the result type ")
               << resT << " (broadcasting is not lowered); got " << ttype(v);
    if (!cast<RankedTensorType>(resT).getElementType().isF32())
      return currentOp->emitError("elementwise lowering handles f32 tensors");
    FailureOr<ConfigAttr> cfg = config();
    FailureOr<ExtentAttr> en = extent("n");
    if (failed(cfg) || failed(en))
      return failure();
    int64_t blk = en->getTile();
    double scale = 1.0;
    if (name == "scale") {
      Attribute a = currentOp->getAttr("scale") ? currentOp->getAttr("scale")
                                                : currentOp->getAttr("factor");
      if (!a || (!isa<FloatAttr>(a) && !isa<IntegerAttr>(a)))
        return currentOp->emitError("scale needs a numeric 'scale' attribute");
      scale = floatAttr(currentOp->getAttr("scale") ? "scale" : "factor", 1.0);
    }
    FailureOr<Value> y = allocFor(currentOp->getResult(0));
    if (failed(y))
      return failure();
    SmallVector<Value> args;
    for (Value v : currentOp->getOperands())
      args.push_back(flat(buf(v)));
    args.push_back(flat(*y));
    std::string math = llvm::StringSwitch<std::string>(name)
                           .Case("add", "y[i] = a[i] + b[i]")
                           .Case("sub", "y[i] = a[i] - b[i]")
                           .Case("mul", "y[i] = a[i] * b[i]")
                           .Case("scale", "y[i] = x[i] * " + fmtNum(scale))
                           .Case("relu", "y[i] = max(x[i], 0)")
                           .Case("gelu", "y[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))")
                           .Default("");
    std::string grid = ("ceildiv(n, " + Twine(blk) + ")").str();
    KernelOp kernel = newKernel(name, args, {grid}, math, *cfg);
    {
      OpBuilder::InsertionGuard guard(b);
      Block *body = &kernel.getBody().front();
      b.setInsertionPointToStart(body);
      KB k{b, currentOp->getLoc()};
      Value i0 = k.mul(k.pid(0), blk);
      Value Y = body->getArguments().back();
      TileType t = k.f32({blk});
      Value mask = en->needsMask() ? k.bounds(t, {i0}, {k.dim(Y, 0)}) : Value();
      Value x = k.load(t, body->getArgument(0), {i0}, mask);
      Value r;
      if (binary) {
        Value y2 = k.load(t, body->getArgument(1), {i0}, mask);
        r = name == "add" ? k.addT(x, y2) : name == "sub" ? k.subT(x, y2) : k.mulT(x, y2);
      } else if (name == "scale") {
        r = k.mulT(x, k.splat(t, scale));
      } else if (name == "relu") {
        r = ReluOp::create(b, k.loc, x);
      } else { // gelu, tanh approximation
        Value x3 = k.mulT(k.mulT(x, x), x);
        Value inner = k.mulT(k.splat(t, 0.7978845608028654),
                             k.addT(x, k.mulT(k.splat(t, 0.044715), x3)));
        Value th = TanhOp::create(b, k.loc, inner);
        r = k.mulT(k.mulT(k.splat(t, 0.5), x), k.addT(k.splat(t, 1.0), th));
      }
      k.store(r, Y, {i0}, mask);
      ReturnOp::create(b, k.loc);
    }
    launch(kernel, {gridFromDim(args.back(), 0, blk)}, args);
    return success();
  }

  /// reshape is a host-side view of the same contiguous buffer (no kernel).
  LogicalResult lowerReshape() {
    if (failed(expectOperands(1, 1)))
      return failure();
    auto resT = cast<BufferType>(bufferTypeFor(currentOp->getResult(0).getType()));
    Value src = buf(currentOp->getOperand(0));
    auto srcT = cast<BufferType>(src.getType());
    if (product(srcT.getShape()) == ShapedType::kDynamic && resT.getNumDynamicDims() == 0)
      return currentOp->emitError("reshape of a dynamic tensor to a static shape");
    map.map(currentOp->getResult(0), view(src, resT.getShape()));
    return success();
  }
};

struct LowerGraphToTilePass : spak::impl::LowerGraphToTileBase<LowerGraphToTilePass> {
  void runOnOperation() override {
    GraphToTile lowering(getOperation());
    if (failed(lowering.run()))
      signalPassFailure();
  }
};

} // namespace
