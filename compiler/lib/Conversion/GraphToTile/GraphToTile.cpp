//===- GraphToTile.cpp - spak-lower-graph-to-tile: the driver -------------===//
//
// Lowers every spak_graph op of a host function, in order, through the op
// table (see spak/Conversion/GraphToTile/Lowering.h for the files that fill
// it). Tensor arguments and results of the host function become row-major
// buffers; each graph op becomes kernels plus `alloc` / `view` / `launch` in
// the host function, which ends up a straight sequence of those.
//
// Host-function contract (docs/dialects/tile.md, "Host functions"):
//  - argument i keeps its position and becomes a buffer of the same shape
//    (rank-0 tensors become buffer<1x...>);
//  - a trailing `!spak_tile.buffer<1xi32>` argument marked `spak.status` is
//    appended when a kernel validates ids (embed, embed_grad,
//    cross_entropy_grad): kernels set status[0] = 1 on an id out of range;
//  - a result that is an argument buffer (updated in place, e.g. adam's
//    parameter and moments) carries `spak.in_place_of = <argument index>`;
//    every other result is a buffer the function allocated.
//
// This file also holds the KernelBuilder and Lowering helpers and the pass.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Graph/Graph.h"
#include "spak/Conversion/GraphToTile/Lowering.h"
#include "spak/Conversion/Passes.h"
#include "spak/Rules/Laws.h"

#include "mlir/IR/SymbolTable.h"

namespace spak {
#define GEN_PASS_DEF_LOWERGRAPHTOTILE
#include "spak/Conversion/Passes.h.inc"
} // namespace spak

using namespace mlir;
using namespace spak;
using namespace spak::tile;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

int64_t spak::tile::product(ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (ShapedType::isDynamic(d))
      return ShapedType::kDynamic;
    n *= d;
  }
  return n;
}

std::string spak::tile::fmtNum(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", v);
  return text;
}

std::string spak::tile::ceilDivStr(StringRef what, int64_t tile) {
  return ("ceildiv(" + what + ", " + Twine(tile) + ")").str();
}

//===----------------------------------------------------------------------===//
// KernelBuilder
//===----------------------------------------------------------------------===//

Value KernelBuilder::idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
Value KernelBuilder::mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }
Value KernelBuilder::mul(Value a, int64_t c) { return c == 1 ? a : mul(a, idx(c)); }
Value KernelBuilder::add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
Value KernelBuilder::add(Value a, int64_t c) { return c == 0 ? a : add(a, idx(c)); }
Value KernelBuilder::divui(Value a, int64_t c) { return arith::DivUIOp::create(b, loc, a, idx(c)); }
Value KernelBuilder::remui(Value a, int64_t c) { return arith::RemUIOp::create(b, loc, a, idx(c)); }
Value KernelBuilder::minIdx(Value a, Value c) { return arith::MinUIOp::create(b, loc, a, c); }
Value KernelBuilder::lastFirst(Value pid, Value extent, int64_t tile) {
  Value blocks = divui(add(extent, tile - 1), tile);
  return arith::SubIOp::create(b, loc, arith::SubIOp::create(b, loc, blocks, idx(1)), pid);
}
Value KernelBuilder::pid(int64_t axis) { return ProgramIdOp::create(b, loc, axis); }
Value KernelBuilder::dim(Value buf, int64_t i) { return DimOp::create(b, loc, buf, i); }
Value KernelBuilder::indexToF32(Value v) {
  Value i = arith::IndexCastUIOp::create(b, loc, b.getI32Type(), v);
  return arith::UIToFPOp::create(b, loc, b.getF32Type(), i);
}

TileType KernelBuilder::f32(ArrayRef<int64_t> shape, MemorySpace s) {
  return TileType::get(shape, b.getF32Type(), s);
}
TileType KernelBuilder::i32(ArrayRef<int64_t> shape) {
  return TileType::get(shape, b.getI32Type());
}
Value KernelBuilder::splat(TileType t, double v, LawAttr law) {
  return ConstantOp::create(b, loc, t, b.getF64FloatAttr(v), law);
}
Value KernelBuilder::splatInt(TileType t, int64_t v) {
  return ConstantOp::create(b, loc, t, b.getI64IntegerAttr(v), LawAttr());
}
Value KernelBuilder::splatBool(ArrayRef<int64_t> shape, bool v) {
  return splatInt(TileType::get(shape, b.getI1Type()), v ? 1 : 0);
}
Value KernelBuilder::bounds(TileType t, ArrayRef<Value> offsets, ArrayRef<Value> bnds) {
  return MaskOp::create(b, loc, t.getMaskType(), MaskKind::bounds, offsets, bnds);
}
Value KernelBuilder::andMask(Value a, Value c) {
  if (!a)
    return c;
  if (!c)
    return a;
  auto t = cast<TileType>(a.getType());
  return select(a, c, splatBool(t.getShape(), false));
}
Value KernelBuilder::load(TileType t, Value buf, ArrayRef<Value> offsets, Value mask,
                          LawAttr latency, IntegerAttr stage) {
  return LoadOp::create(b, loc, t, buf, offsets, mask, latency, stage);
}
void KernelBuilder::store(Value v, Value buf, ArrayRef<Value> offsets, Value mask) {
  StoreOp::create(b, loc, v, buf, offsets, mask);
}
void KernelBuilder::atomicAdd(Value v, Value buf, ArrayRef<Value> offsets, Value mask) {
  AtomicAddOp::create(b, loc, v, buf, offsets, mask);
}
Value KernelBuilder::bcast(Value v, TileType to) {
  if (v.getType() == to)
    return v;
  return BroadcastOp::create(b, loc, to, v);
}
Value KernelBuilder::reduce(ReduceKind k, Value v, int64_t axis) {
  auto t = cast<TileType>(v.getType());
  SmallVector<int64_t> shape(t.getShape());
  shape[axis] = 1;
  return ReduceOp::create(b, loc, t.withShape(shape), k, v, axis);
}
Value KernelBuilder::select(Value c, Value t, Value f) { return SelectOp::create(b, loc, c, t, f); }
Value KernelBuilder::cmp(CmpPredicate p, Value x, Value y) {
  auto t = cast<TileType>(x.getType());
  return CmpOp::create(b, loc, t.getMaskType(), p, x, y);
}
Value KernelBuilder::mma(TileType acc, Value a, Value bt, Value c, bool ta, bool tb) {
  return MmaOp::create(b, loc, acc, a, bt, c, ta, tb);
}
Value KernelBuilder::addT(Value x, Value y) { return AddOp::create(b, loc, x, y); }
Value KernelBuilder::subT(Value x, Value y) { return SubOp::create(b, loc, x, y); }
Value KernelBuilder::mulT(Value x, Value y) { return MulOp::create(b, loc, x, y); }
Value KernelBuilder::divT(Value x, Value y) { return DivOp::create(b, loc, x, y); }
Value KernelBuilder::maxT(Value x, Value y) { return MaxOp::create(b, loc, x, y); }
Value KernelBuilder::exp(Value x) { return ExpOp::create(b, loc, x); }
Value KernelBuilder::log(Value x) { return LogOp::create(b, loc, x); }
Value KernelBuilder::sqrt(Value x) { return SqrtOp::create(b, loc, x); }
Value KernelBuilder::rsqrt(Value x) { return RsqrtOp::create(b, loc, x); }
Value KernelBuilder::tanh(Value x) { return TanhOp::create(b, loc, x); }

Value KernelBuilder::gelu(Value x, TileType t) {
  Value x3 = mulT(mulT(x, x), x);
  Value inner = mulT(splat(t, 0.7978845608028654), addT(x, mulT(splat(t, 0.044715), x3)));
  return mulT(mulT(splat(t, 0.5), x), addT(splat(t, 1.0), tanh(inner)));
}

Value KernelBuilder::geluDeriv(Value x, TileType t) {
  Value c = splat(t, 0.7978845608028654), half = splat(t, 0.5), one = splat(t, 1.0);
  Value x2 = mulT(x, x);
  Value u = mulT(c, addT(x, mulT(splat(t, 0.044715), mulT(x2, x))));
  Value th = tanh(u);
  Value sech2 = subT(one, mulT(th, th));
  Value du = mulT(c, addT(one, mulT(splat(t, 3.0 * 0.044715), x2)));
  return addT(mulT(half, addT(one, th)), mulT(mulT(half, x), mulT(sech2, du)));
}

scf::ForOp KernelBuilder::loop(
    Value lb, Value ub, Value step, ValueRange init,
    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto forOp = scf::ForOp::create(b, loc, lb, ub, step, init);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(forOp.getBody());
  SmallVector<Value> yielded = body(forOp.getInductionVar(), forOp.getRegionIterArgs());
  // scf.for without iter_args comes with an empty yield; with iter_args it
  // has no terminator yet.
  Block *block = forOp.getBody();
  if (!block->empty() && block->back().hasTrait<OpTrait::IsTerminator>()) {
    if (yielded.empty())
      return forOp;
    block->back().erase();
  }
  b.setInsertionPointToEnd(block);
  scf::YieldOp::create(b, loc, yielded);
  return forOp;
}

void KernelBuilder::ret() { ReturnOp::create(b, loc); }

spak::graph::RuleAttr spak::tile::attentionReadsSplitRule(Operation *anyOp) {
  return spak::graph::findEnabledRule(anyOp ? anyOp->getParentOfType<ModuleOp>() : ModuleOp(),
                                      "attention_reads_split");
}

/// Last-axis split / concat of rank-3 tensors with a static last dim.
static bool lastAxisRank3(Operation *op, RankedTensorType t) {
  auto axis = op->getAttrOfType<IntegerAttr>("axis");
  int64_t ax = axis ? axis.getInt() : -1;
  return t && t.getRank() == 3 && !t.isDynamicDim(2) && (ax == -1 || ax == 2);
}

bool spak::tile::splitReadByAttention(Operation *split) {
  if (!split || split->getName().getStringRef() != "spak_graph.split" || split->getNumOperands() != 1 ||
      !lastAxisRank3(split, dyn_cast<RankedTensorType>(split->getOperand(0).getType())) ||
      !attentionReadsSplitRule(split))
    return false;
  for (Value r : split->getResults())
    for (OpOperand &use : r.getUses()) {
      Operation *user = use.getOwner();
      StringRef name = user->getName().getStringRef();
      unsigned i = use.getOperandNumber();
      bool flash = name == "spak_graph.attention" && !user->hasAttr("spak.unfused") && i < 3;
      bool grad = name == "spak_graph.attention_grad" && i >= 1 && i <= 3;
      if (!flash && !grad)
        return false;
    }
  return true;
}

Operation *spak::tile::concatOfAttentionGrad(Operation *grad) {
  if (!grad || grad->getNumResults() != 3 || !attentionReadsSplitRule(grad))
    return nullptr;
  Operation *concat = nullptr;
  for (auto [i, r] : llvm::enumerate(grad->getResults())) {
    if (!r.hasOneUse())
      return nullptr;
    OpOperand &use = *r.getUses().begin();
    Operation *user = use.getOwner();
    if (user->getName().getStringRef() != "spak_graph.concat" || user->getNumOperands() != 3 ||
        use.getOperandNumber() != i || (concat && user != concat) ||
        !lastAxisRank3(user, dyn_cast<RankedTensorType>(user->getResult(0).getType())))
      return nullptr;
    concat = user;
  }
  return concat;
}

std::optional<int64_t> spak::tile::classesOf(Operation *op) {
  auto classes = op ? op->getAttrOfType<IntegerAttr>("classes") : IntegerAttr();
  auto logits = classes ? dyn_cast<RankedTensorType>(op->getOperand(op->getNumOperands() == 3 ? 1 : 0).getType())
                        : RankedTensorType();
  if (!logits || logits.getRank() < 1 || logits.isDynamicDim(logits.getRank() - 1) ||
      classes.getInt() >= logits.getShape().back())
    return std::nullopt;
  return classes.getInt();
}

bool spak::tile::rowsInBounds(ExtentAttr er) { return !er.needsMask() || er.getTile() == 1; }

std::pair<Value, Value> spak::tile::emitOnlineMaxSum(KernelBuilder &k, Value X, Value r0, Value R,
                                                     Value C, ExtentAttr er, ExtentAttr ec,
                                                     int64_t rt, LawAttr floor, bool forceMask) {
  int64_t cc = ec.getTile();
  TileType chunkT = k.f32({rt, cc}), colT = k.f32({rt, 1});
  Value m0 = k.splat(colT, floor.getFloat(), floor), l0 = k.splat(colT, 0.0);
  Value floorT = k.splat(chunkT, floor.getFloat(), floor);
  bool masked = forceMask || er.needsMask() || ec.needsMask();
  auto body = [&](bool withMask) {
    return [&, withMask](Value c0, ValueRange it) -> SmallVector<Value> {
      Value m = it[0], l = it[1];
      Value mask = withMask ? k.bounds(chunkT, {r0, c0}, {R, C}) : Value();
      Value x = k.load(chunkT, X, {r0, c0}, mask);
      if (!withMask)  // a whole chunk before the tail: in bounds by the loop's bound
        x.getDefiningOp()->setAttr("spak.in_bounds", UnitAttr::get(x.getContext()));
      if (mask)
        x = k.select(mask, x, floorT);
      Value mNew = k.maxT(m, k.reduce(ReduceKind::max, x, 1));
      Value p = k.exp(k.subT(x, k.bcast(mNew, chunkT)));
      Value lNew = k.addT(k.mulT(l, k.exp(k.subT(m, mNew))), k.reduce(ReduceKind::sum, p, 1));
      return {mNew, lNew};
    };
  };
  if (masked && rowsInBounds(er)) {
    // The chunks before the last whole one need no mask (no bounds per element), the rest one loop step with it.
    Value whole = k.mul(k.divui(C, cc), cc);
    auto inner = k.loop(k.idx(0), whole, k.idx(cc), ValueRange{m0, l0}, body(false));
    auto tail = k.loop(whole, C, k.idx(cc), inner.getResults(), body(true));
    return {tail.getResult(0), tail.getResult(1)};
  }
  auto loop = k.loop(k.idx(0), C, k.idx(cc), ValueRange{m0, l0}, body(masked));
  return {loop.getResult(0), loop.getResult(1)};
}

//===----------------------------------------------------------------------===//
// Lowering: host side
//===----------------------------------------------------------------------===//

/// By namespace, so that the lowering also sees ops of an unregistered graph
/// dialect (tests in generic form).
static bool isGraphOp(Operation *op) {
  return op->getName().getDialectNamespace() == "spak_graph";
}

Lowering::Lowering(ModuleOp module, const LoweringTable &table)
    : b(module.getContext()), module(module), table(table) {}

Type Lowering::ttype(Value v) const {
  Type t = argTensorTypes.lookup(v);
  return t ? t : v.getType();
}

Type Lowering::bufferTypeFor(Type t) {
  auto ranked = dyn_cast<RankedTensorType>(t);
  if (!ranked)
    return t;
  ArrayRef<int64_t> shape = ranked.getShape();
  SmallVector<int64_t> one = {1};
  return BufferType::get(t.getContext(), shape.empty() ? ArrayRef<int64_t>(one) : shape,
                         ranked.getElementType());
}

Value Lowering::view(Value buffer, ArrayRef<int64_t> shape) {
  auto t = cast<BufferType>(buffer.getType());
  if (t.getShape() == shape)
    return buffer;
  return ViewOp::create(b, loc(), BufferType::get(shape, t.getElementType()), buffer);
}

Value Lowering::rows2D(Value buffer) {
  auto t = cast<BufferType>(buffer.getType());
  if (t.getRank() == 2)
    return buffer;
  if (t.getRank() == 1)
    return view(buffer, {1, t.getShape()[0]});
  return view(buffer, {product(t.getShape().drop_back()), t.getShape().back()});
}

Value Lowering::flat(Value buffer) {
  auto t = cast<BufferType>(buffer.getType());
  return view(buffer, {product(t.getShape())});
}

FailureOr<Value> Lowering::allocFor(Value result) {
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
    sizes.push_back(DimOp::create(b, loc(), source, i));
  }
  Value a = AllocOp::create(b, loc(), type, sizes);
  map.map(result, a);
  return a;
}

Value Lowering::allocFor(Value result, ArrayRef<std::pair<Value, int64_t>> dimOf) {
  auto type = cast<BufferType>(bufferTypeFor(result.getType()));
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      sizes.push_back(DimOp::create(b, loc(), dimOf[i].first, dimOf[i].second));
  Value a = AllocOp::create(b, loc(), type, sizes);
  map.map(result, a);
  return a;
}

Value Lowering::allocWithDimsOf(Value result, Value source) {
  auto type = cast<BufferType>(bufferTypeFor(result.getType()));
  SmallVector<std::pair<Value, int64_t>> dimOf;
  for (int64_t i = 0; i < type.getRank(); ++i)
    dimOf.push_back({source, i});
  return allocFor(result, dimOf);
}

Value Lowering::alloc(ArrayRef<int64_t> shape, Type elt, ValueRange dynamicSizes) {
  return AllocOp::create(b, loc(), BufferType::get(shape, elt), dynamicSizes);
}

Value Lowering::hostIdx(int64_t v) { return arith::ConstantIndexOp::create(b, loc(), v); }
Value Lowering::hostDim(Value buffer, int64_t i) { return DimOp::create(b, loc(), buffer, i); }
Value Lowering::hostCeilDiv(Value v, int64_t d) {
  if (d == 1)
    return v;
  return arith::CeilDivUIOp::create(b, loc(), v, hostIdx(d));
}
Value Lowering::gridFromDim(Value buffer, int64_t dimIndex, int64_t tileExtent) {
  return hostCeilDiv(hostDim(buffer, dimIndex), tileExtent);
}

Value Lowering::statusBuffer() {
  if (status)
    return status;
  Block &entry = hostFunc.getBody().front();
  unsigned index = entry.getNumArguments();
  auto type = BufferType::get({1}, b.getI32Type());
  NamedAttribute marker(b.getStringAttr("spak.status"), b.getUnitAttr());
  if (failed(hostFunc.insertArgument(index, type, b.getDictionaryAttr({marker}),
                                     hostFunc.getLoc())))
    return {};
  status = entry.getArgument(index);
  return status;
}

bool Lowering::isLastUse(Value v) const {
  for (Operation *user : v.getUsers()) {
    if (user == currentOp)
      continue;
    if (user->getBlock() != currentOp->getBlock() || !user->isBeforeInBlock(currentOp))
      return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Lowering: kernels and planning attributes
//===----------------------------------------------------------------------===//

KernelOp Lowering::newKernel(StringRef base, ArrayRef<Value> args, ArrayRef<StringRef> grid,
                             StringRef math, ConfigAttr config) {
  std::string name = (base + "_" + Twine(nameCounts[base]++)).str();
  while (SymbolTable::lookupSymbolIn(module, name))
    name = (base + "_" + Twine(nameCounts[base]++)).str();
  SmallVector<Type> types;
  for (Value a : args)
    types.push_back(a.getType());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(hostFunc);
  auto kernel = KernelOp::create(b, loc(), name, b.getFunctionType(types, {}), grid, math);
  if (config)
    kernel.setConfigAttr(config);
  kernel.addEntryBlock();
  return kernel;
}

void Lowering::launch(KernelOp kernel, ArrayRef<Value> grid, ArrayRef<Value> args) {
  LaunchOp::create(b, loc(), kernel.getSymName(), grid, args);
}

FailureOr<ConfigAttr> Lowering::config() {
  auto c = currentOp->getAttrOfType<ConfigAttr>(rules::kTileConfigAttr);
  if (!c)
    return currentOp->emitError("has no spak.tile_config; run --spak-apply-laws first (or the "
                                "spak-graph-to-tile pipeline)");
  return c;
}

ConfigAttr Lowering::configOrModuleLaws(ArrayRef<StringLiteral> laws) {
  if (auto c = currentOp->getAttrOfType<ConfigAttr>(rules::kTileConfigAttr))
    return c;
  SmallVector<NamedAttribute> entries;
  for (StringLiteral name : laws)
    if (LawAttr law = rules::lookupLaw(module, name))
      entries.push_back(b.getNamedAttr(name, law));
  return ConfigAttr::get(b.getContext(), b.getDictionaryAttr(entries));
}

FailureOr<ExtentAttr> Lowering::extent(StringRef name) {
  auto dict = currentOp->getAttrOfType<DictionaryAttr>(rules::kExtentsAttr);
  if (!dict)
    return currentOp->emitError("has no spak.extents; run --spak-pow2-masking first (or the "
                                "spak-graph-to-tile pipeline)");
  auto e = dyn_cast_or_null<ExtentAttr>(dict.get(name));
  if (!e)
    return currentOp->emitError("spak.extents lacks '") << name << "'";
  return e;
}

FailureOr<LawAttr> Lowering::floorLaw() {
  auto f = currentOp->getAttrOfType<LawAttr>(rules::kFloorAttr);
  if (!f)
    return currentOp->emitError("has no spak.floor; run --spak-stability-floor first (or the "
                                "spak-graph-to-tile pipeline)");
  return f;
}

double Lowering::floatAttr(StringRef name, double fallback) {
  Attribute a = currentOp->getAttr(name);
  if (auto f = dyn_cast_or_null<FloatAttr>(a))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(a))
    return static_cast<double>(i.getInt());
  return fallback;
}

int64_t Lowering::intAttr(StringRef name, int64_t fallback) {
  if (auto i = currentOp->getAttrOfType<IntegerAttr>(name))
    return i.getInt();
  return fallback;
}

bool Lowering::boolAttr(StringRef name, bool fallback) {
  Attribute a = currentOp->getAttr(name);
  if (!a)
    return fallback;
  if (auto bv = dyn_cast<BoolAttr>(a))
    return bv.getValue();
  return isa<UnitAttr>(a);
}

LogicalResult Lowering::expectOperands(unsigned lo, unsigned hi, unsigned results) {
  unsigned n = currentOp->getNumOperands();
  if (n < lo || n > hi || currentOp->getNumResults() != results)
    return currentOp->emitError("expected ")
           << lo << (lo == hi ? "" : "-" + std::to_string(hi)) << " operands and " << results
           << (results == 1 ? " result" : " results");
  for (Value v : currentOp->getOperands())
    if (!isa<RankedTensorType>(ttype(v)))
      return currentOp->emitError("operands must be ranked tensors");
  for (Value v : currentOp->getResults())
    if (!isa<RankedTensorType>(v.getType()))
      return currentOp->emitError("results must be ranked tensors");
  return success();
}

//===----------------------------------------------------------------------===//
// Lowering: driver
//===----------------------------------------------------------------------===//

LogicalResult Lowering::run() {
  SmallVector<func::FuncOp> funcs;
  for (auto f : module.getOps<func::FuncOp>())
    if (!f.isExternal())
      funcs.push_back(f);
  for (func::FuncOp f : funcs)
    if (failed(lowerFunc(f)))
      return failure();
  return success();
}

LogicalResult Lowering::checkPlanned(Operation *op) {
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

LogicalResult Lowering::lowerFunc(func::FuncOp f) {
  hostFunc = f;
  status = {};
  bool hasGraph = false;
  f.walk([&](Operation *op) {
    if (isGraphOp(op))
      hasGraph = true;
  });
  bool hasTensorArgs =
      llvm::any_of(f.getArgumentTypes(), [](Type t) { return isa<RankedTensorType>(t); });
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
  for (Operation &op : entry) {
    if (isGraphOp(&op)) {
      graphOps.push_back(&op);
      continue;
    }
    if (op.hasTrait<OpTrait::IsTerminator>())
      continue;
    // Other ops that produce tensors lower through the table by full name
    // (e.g. "arith.constant" splats that autodiff emits), or are an error.
    if (llvm::any_of(op.getResultTypes(), [](Type t) { return isa<TensorType>(t); })) {
      if (!table.count(op.getName().getStringRef()))
        return op.emitError("cannot lower '")
               << op.getName() << "' in a graph function: no tile lowering for it";
      graphOps.push_back(&op);
    }
  }
  for (Operation *op : graphOps) {
    currentOp = op;
    b.setInsertionPoint(op);
    if (failed(checkPlanned(op)))
      return failure();
    StringRef name = op->getName().getStringRef();
    if (isGraphOp(op))
      name.consume_front("spak_graph.");
    auto it = table.find(name);
    if (it == table.end())
      return op->emitError("no tile lowering for '") << op->getName() << "'";
    if (failed(it->second(*this)))
      return failure();
    for (Value r : op->getResults())
      if (!map.contains(r))
        return op->emitError("internal error: the lowering of '")
               << op->getName() << "' left result #" << cast<OpResult>(r).getResultNumber()
               << " without a buffer";
  }
  // Returned tensors become returned buffers; in-place results say which
  // argument they are.
  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  for (OpOperand &operand : ret->getOpOperands())
    operand.set(buf(operand.get()));
  for (Operation *op : llvm::reverse(graphOps)) {
    op->dropAllUses();
    op->erase();
  }
  f.setFunctionType(
      FunctionType::get(f.getContext(), entry.getArgumentTypes(), ret.getOperandTypes()));
  for (OpOperand &operand : ret->getOpOperands())
    if (auto arg = dyn_cast<BlockArgument>(operand.get()); arg && arg.getOwner() == &entry)
      f.setResultAttr(operand.getOperandNumber(), "spak.in_place_of",
                      b.getI64IntegerAttr(arg.getArgNumber()));
  return success();
}

//===----------------------------------------------------------------------===//
// The op table and the pass
//===----------------------------------------------------------------------===//

void spak::tile::populateGraphToTileLowerings(LoweringTable &table) {
  populateForwardLowerings(table);
  populateDataLowerings(table);
  populateBackwardLowerings(table);
  populateOptimizerLowerings(table);
#ifdef SPAK_HAVE_FUSED_REGIONS
  populateFusedRegionLowerings(table);
#endif
}

namespace {
struct LowerGraphToTilePass : spak::impl::LowerGraphToTileBase<LowerGraphToTilePass> {
  void runOnOperation() override {
    static const LoweringTable table = [] {
      LoweringTable t;
      populateGraphToTileLowerings(t);
      return t;
    }();
    Lowering lowering(getOperation(), table);
    if (failed(lowering.run()))
      signalPassFailure();
  }
};
} // namespace
