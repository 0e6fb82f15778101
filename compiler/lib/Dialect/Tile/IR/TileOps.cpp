//===- TileOps.cpp - spak_tile operations: builders, syntax, verifiers ----===//
//
// Every op verifies the shapes and types the emitters rely on, so that a
// malformed tile program is rejected with a precise message instead of
// producing wrong CUDA.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Tile/IR/Tile.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/FunctionImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace spak::tile;

#define GET_OP_CLASSES
#include "spak/Dialect/Tile/IR/TileOps.cpp.inc"

static std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << '[';
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << '?';
    else
      os << d;
  });
  os << ']';
  return s;
}

static bool isKernelArgumentType(Type t) {
  return isa<BufferType>(t) || t.isIndex() || isa<IntegerType>(t) || isa<FloatType>(t);
}

//===----------------------------------------------------------------------===//
// KernelOp
//===----------------------------------------------------------------------===//

void KernelOp::build(OpBuilder &builder, OperationState &state, StringRef name, FunctionType type,
                     ArrayRef<StringRef> grid, StringRef math) {
  state.addAttribute(getSymNameAttrName(state.name), builder.getStringAttr(name));
  state.addAttribute(getFunctionTypeAttrName(state.name), TypeAttr::get(type));
  state.addAttribute(getGridAttrName(state.name), builder.getStrArrayAttr(grid));
  state.addAttribute(getMathAttrName(state.name), builder.getStringAttr(math));
  state.addRegion();
}

Block *KernelOp::addEntryBlock() {
  Block *block = new Block();
  getBody().push_back(block);
  for (Type t : getArgumentTypes())
    block->addArgument(t, getLoc());
  return block;
}

ParseResult KernelOp::parse(OpAsmParser &parser, OperationState &result) {
  auto buildType = [](Builder &b, ArrayRef<Type> args, ArrayRef<Type> results,
                      function_interface_impl::VariadicFlag, std::string &) {
    return b.getFunctionType(args, results);
  };
  return function_interface_impl::parseFunctionOp(
      parser, result, /*allowVariadic=*/false, getFunctionTypeAttrName(result.name), buildType,
      getArgAttrsAttrName(result.name), getResAttrsAttrName(result.name));
}

void KernelOp::print(OpAsmPrinter &p) {
  function_interface_impl::printFunctionOp(p, *this, /*isVariadic=*/false,
                                           getFunctionTypeAttrName(), getArgAttrsAttrName(),
                                           getResAttrsAttrName());
}

LogicalResult KernelOp::verify() {
  if (!getFunctionType().getResults().empty())
    return emitOpError("kernels return nothing; write outputs through buffer arguments");
  for (auto [i, t] : llvm::enumerate(getArgumentTypes()))
    if (!isKernelArgumentType(t))
      return emitOpError("argument #") << i << " has type " << t
                                       << "; kernel arguments are buffers or scalars";
  if (getGrid().empty() || getGrid().size() > 3)
    return emitOpError("grid must describe 1 to 3 axes, got ") << getGrid().size();
  return success();
}

LogicalResult KernelOp::verifyRegions() {
  if (getBody().empty())
    return emitOpError("needs a body");
  Block &entry = getBody().front();
  if (entry.getNumArguments() != getArgumentTypes().size())
    return emitOpError("entry block has ") << entry.getNumArguments() << " arguments, signature has "
                                           << getArgumentTypes().size();
  for (auto [arg, t] : llvm::zip(entry.getArguments(), getArgumentTypes()))
    if (arg.getType() != t)
      return emitOpError("entry block argument type ") << arg.getType()
                                                       << " does not match signature type " << t;
  return success();
}

SmallVector<bool> KernelOp::getWrittenArguments() {
  Block &entry = getBody().front();
  SmallVector<bool> written(entry.getNumArguments(), false);
  walk([&](Operation *op) {
    Value buf;
    if (auto s = dyn_cast<StoreOp>(op))
      buf = s.getBuffer();
    else if (auto a = dyn_cast<AtomicAddOp>(op))
      buf = a.getBuffer();
    if (auto arg = dyn_cast_or_null<BlockArgument>(buf))
      if (arg.getOwner() == &entry)
        written[arg.getArgNumber()] = true;
  });
  return written;
}

//===----------------------------------------------------------------------===//
// LaunchOp
//===----------------------------------------------------------------------===//

LogicalResult LaunchOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto kernel = symbolTable.lookupNearestSymbolFrom<KernelOp>(*this, getKernelAttr());
  if (!kernel)
    return emitOpError("'") << getKernel() << "' does not name a spak_tile.kernel";
  if (getGrid().size() != kernel.getGridRank())
    return emitOpError("kernel '") << getKernel() << "' has a " << kernel.getGridRank()
                                   << "-axis grid but the launch gives " << getGrid().size()
                                   << " extents";
  ArrayRef<Type> params = kernel.getArgumentTypes();
  if (params.size() != getArgs().size())
    return emitOpError("kernel '") << getKernel() << "' takes " << params.size()
                                   << " arguments, the launch passes " << getArgs().size();
  for (auto [i, pair] : llvm::enumerate(llvm::zip(getArgs().getTypes(), params)))
    if (std::get<0>(pair) != std::get<1>(pair))
      return emitOpError("argument #") << i << " has type " << std::get<0>(pair) << " but kernel '"
                                       << getKernel() << "' expects " << std::get<1>(pair);
  return success();
}

//===----------------------------------------------------------------------===//
// AllocOp, ViewOp, DimOp
//===----------------------------------------------------------------------===//

LogicalResult AllocOp::verify() {
  unsigned dynamic = getResult().getType().getNumDynamicDims();
  if (getDynamicSizes().size() != dynamic)
    return emitOpError("needs one size per dynamic dimension: ")
           << dynamic << " expected, " << getDynamicSizes().size() << " given";
  return success();
}

LogicalResult ViewOp::verify() {
  BufferType src = getSource().getType(), dst = getResult().getType();
  if (src.getElementType() != dst.getElementType())
    return emitOpError("cannot change the element type (") << src.getElementType() << " to "
                                                           << dst.getElementType() << ")";
  auto numel = [](BufferType t) -> std::optional<int64_t> {
    int64_t n = 1;
    for (int64_t d : t.getShape()) {
      if (ShapedType::isDynamic(d))
        return std::nullopt;
      n *= d;
    }
    return n;
  };
  std::optional<int64_t> a = numel(src), b = numel(dst);
  if (a && b && *a != *b)
    return emitOpError("element counts differ: ") << shapeStr(src.getShape()) << " has " << *a
                                                  << ", " << shapeStr(dst.getShape()) << " has "
                                                  << *b;
  if (a && !b) {
    // A static buffer seen with one inferred dimension (spak-bf16-operands' flat 1 x ? views): the known dims must
    // divide its element count.
    if (dst.getNumDynamicDims() != 1)
      return emitOpError("a static buffer can be viewed with one dynamic (inferred) dimension, not ")
             << dst.getNumDynamicDims();
    int64_t known = 1;
    for (int64_t d : dst.getShape())
      if (!ShapedType::isDynamic(d))
        known *= d;
    if (known == 0 || *a % known != 0)
      return emitOpError("element counts differ: ") << shapeStr(src.getShape()) << " has " << *a
                                                    << ", not a multiple of " << known;
  }
  return success();
}

LogicalResult DimOp::verify() {
  if (getIndex() < 0 || getIndex() >= getSource().getType().getRank())
    return emitOpError("dimension ") << getIndex() << " out of range for a rank-"
                                     << getSource().getType().getRank() << " buffer";
  return success();
}

OpFoldResult DimOp::fold(FoldAdaptor) {
  BufferType t = getSource().getType();
  if (getIndex() < 0 || getIndex() >= t.getRank() || t.isDynamicDim(getIndex()))
    return {};
  return IntegerAttr::get(IndexType::get(getContext()), t.getShape()[getIndex()]);
}

//===----------------------------------------------------------------------===//
// ProgramIdOp
//===----------------------------------------------------------------------===//

LogicalResult ProgramIdOp::verify() {
  auto kernel = (*this)->getParentOfType<KernelOp>();
  if (!kernel)
    return emitOpError("must be inside a spak_tile.kernel");
  if (static_cast<uint64_t>(getAxis()) >= kernel.getGridRank())
    return emitOpError("axis ") << getAxis() << " is outside the kernel's " << kernel.getGridRank()
                                << "-axis grid";
  return success();
}

//===----------------------------------------------------------------------===//
// load / store / atomic_add
//===----------------------------------------------------------------------===//

/// The shared addressing and mask contract of the memory ops.
static LogicalResult verifyMemOp(Operation *op, BufferType buffer, TileType tile,
                                 ValueRange offsets, Value mask) {
  if (offsets.size() != static_cast<size_t>(buffer.getRank()))
    return op->emitOpError("needs one offset per buffer dimension: ")
           << buffer.getRank() << " expected, " << offsets.size() << " given";
  if (tile.getRank() > buffer.getRank())
    return op->emitOpError("a rank-") << tile.getRank() << " tile does not fit a rank-"
                                      << buffer.getRank() << " buffer";
  if (tile.getElementType() != buffer.getElementType())
    return op->emitOpError("tile element type ")
           << tile.getElementType() << " differs from buffer element type "
           << buffer.getElementType();
  if (mask) {
    auto maskType = cast<TileType>(mask.getType());
    if (maskType.getShape() != tile.getShape())
      return op->emitOpError("mask shape ") << shapeStr(maskType.getShape())
                                            << " differs from tile shape "
                                            << shapeStr(tile.getShape());
    return success();
  }
  // `spak.in_bounds`: the access stays inside the buffer by construction (e.g. the whole chunks of a row before
  // its masked tail: the loop bound does the masking), though its extent does not divide a static dimension.
  if (op->hasAttr("spak.in_bounds"))
    return success();
  int64_t lead = buffer.getRank() - tile.getRank();
  for (int64_t i = 0; i < tile.getRank(); ++i) {
    int64_t size = buffer.getShape()[lead + i], extent = tile.getShape()[i];
    if (!ShapedType::isDynamic(size) && size % extent != 0)
      return op->emitOpError("tile extent ")
             << extent << " does not evenly cover buffer dimension " << (lead + i) << " (size "
             << size << "): the access needs a mask (run --spak-pow2-masking before lowering)";
  }
  return success();
}

LogicalResult LoadOp::verify() {
  if (failed(verifyMemOp(*this, getBuffer().getType(), getTileType(), getOffsets(), getMask())))
    return failure();
  if (auto latency = getLatencyAttr())
    if (!latency.isInteger() || latency.getInt() < 1)
      return emitOpError("latency law '") << latency.getName()
                                          << "' must be a positive integer (loads in flight)";
  return success();
}

LogicalResult StoreOp::verify() {
  return verifyMemOp(*this, getBuffer().getType(), getTileType(), getOffsets(), getMask());
}

LogicalResult AtomicAddOp::verify() {
  return verifyMemOp(*this, getBuffer().getType(), getTileType(), getOffsets(), getMask());
}

//===----------------------------------------------------------------------===//
// MmaOp
//===----------------------------------------------------------------------===//

LogicalResult MmaOp::verify() {
  TileType a = getA().getType(), b = getB().getType(), acc = getAcc().getType();
  if (a.getRank() != 2 || b.getRank() != 2 || acc.getRank() != 2)
    return emitOpError("operands must be rank-2 tiles");
  // Operands are f32 or bf16; they may differ only as f32 beside bf16 (spak-bf16-operands, mma_schedule 8: an
  // attention loop tile read from a bf16 copy, the other operand f32; the tensor cores round both to bf16).
  auto f32OrBf16 = [](Type t) { return t.isF32() || t.isBF16(); };
  if (a.getElementType() != b.getElementType() &&
      !(f32OrBf16(a.getElementType()) && f32OrBf16(b.getElementType())))
    return emitOpError("a and b element types differ (") << a.getElementType() << " vs "
                                                         << b.getElementType() << ")";
  int64_t m = getTransposeA() ? a.getShape()[1] : a.getShape()[0];
  int64_t ka = getTransposeA() ? a.getShape()[0] : a.getShape()[1];
  int64_t kb = getTransposeB() ? b.getShape()[1] : b.getShape()[0];
  int64_t n = getTransposeB() ? b.getShape()[0] : b.getShape()[1];
  if (ka != kb)
    return emitOpError("contraction extents differ: op(a) is ")
           << m << "x" << ka << ", op(b) is " << kb << "x" << n;
  if (acc.getShape()[0] != m || acc.getShape()[1] != n)
    return emitOpError("accumulator must be ") << m << "x" << n << ", got "
                                               << shapeStr(acc.getShape());
  if (getResult().getType().getShape() != acc.getShape() ||
      getResult().getType().getElementType() != acc.getElementType())
    return emitOpError("result type must equal the accumulator type");
  return success();
}

//===----------------------------------------------------------------------===//
// ConvertOp
//===----------------------------------------------------------------------===//

LogicalResult ConvertOp::verify() {
  TileType src = getX().getType(), dst = getResult().getType();
  if (src.getShape() != dst.getShape() || src.getMemorySpace() != dst.getMemorySpace())
    return emitOpError("changes only the element type: ") << src << " -> " << dst;
  auto supported = [](Type t) { return t.isF32() || t.isBF16(); };
  if (!supported(src.getElementType()) || !supported(dst.getElementType()))
    return emitOpError("converts between f32 and bf16, got ") << src.getElementType() << " -> "
                                                              << dst.getElementType();
  return success();
}

//===----------------------------------------------------------------------===//
// ReduceOp, BroadcastOp
//===----------------------------------------------------------------------===//

LogicalResult ReduceOp::verify() {
  TileType src = getSource().getType(), dst = getResult().getType();
  if (getAxis() >= src.getRank())
    return emitOpError("axis ") << getAxis() << " out of range for a rank-" << src.getRank()
                                << " tile";
  SmallVector<int64_t> expected(src.getShape());
  expected[getAxis()] = 1;
  if (dst.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("result shape must be ") << shapeStr(expected) << " (the reduced axis kept "
                                                << "with extent 1), got " << shapeStr(dst.getShape());
  if (src.getElementType() != dst.getElementType())
    return emitOpError("result element type must equal the source's");
  return success();
}

LogicalResult BroadcastOp::verify() {
  TileType dst = getResult().getType();
  Type srcType = getSource().getType();
  auto src = dyn_cast<TileType>(srcType);
  if (!src) {
    if (srcType != dst.getElementType())
      return emitOpError("scalar type ") << srcType << " differs from the tile element type "
                                         << dst.getElementType();
    return success();
  }
  if (src.getElementType() != dst.getElementType())
    return emitOpError("element types differ");
  if (src.getRank() != dst.getRank())
    return emitOpError("ranks differ (") << src.getRank() << " vs " << dst.getRank()
                                         << "); keep reduced axes with extent 1";
  for (int64_t i = 0; i < src.getRank(); ++i)
    if (src.getShape()[i] != 1 && src.getShape()[i] != dst.getShape()[i])
      return emitOpError("dimension ") << i << " of extent " << src.getShape()[i]
                                       << " cannot broadcast to " << dst.getShape()[i];
  return success();
}

//===----------------------------------------------------------------------===//
// ConstantOp, IotaOp, MaskOp, CmpOp, SelectOp, ExtractOp
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::verify() {
  Type elt = getResult().getType().getElementType();
  bool isFloatValue = isa<FloatAttr>(getValue());
  if (isa<FloatType>(elt) && !isFloatValue)
    return emitOpError("a float tile needs a float value (write 0.0, not 0)");
  if (isa<IntegerType>(elt) && isFloatValue)
    return emitOpError("an integer tile needs an integer value");
  if (LawAttr law = getLawAttr()) {
    double v = isFloatValue ? cast<FloatAttr>(getValue()).getValueAsDouble()
                            : static_cast<double>(cast<IntegerAttr>(getValue()).getInt());
    double lv = law.getFloat();
    if (!(v == lv) && !(std::isnan(v) && std::isnan(lv)))
      return emitOpError("value ") << v << " differs from law '" << law.getName() << "' (" << lv
                                   << ")";
  }
  return success();
}

// `spak_tile.constant <number> attr-dict : <tile type>`: the tile's element type
// decides whether the number is stored as f64 or i64.
ParseResult ConstantOp::parse(OpAsmParser &parser, OperationState &result) {
  double number = 0;
  SMLoc loc = parser.getCurrentLocation();
  bool negative = succeeded(parser.parseOptionalMinus());
  int64_t integer = 0;
  OptionalParseResult asInteger = parser.parseOptionalInteger(integer);
  if (asInteger.has_value()) {
    if (failed(*asInteger))
      return failure();
    number = static_cast<double>(integer);
  } else if (parser.parseFloat(number)) {
    return failure();
  }
  if (negative)
    number = -number;
  Type type;
  if (parser.parseOptionalAttrDict(result.attributes) || parser.parseColonType(type))
    return failure();
  auto tile = dyn_cast<TileType>(type);
  if (!tile)
    return parser.emitError(loc, "expected a !spak_tile.tile result type, got ") << type;
  Builder &b = parser.getBuilder();
  Attribute value;
  if (isa<FloatType>(tile.getElementType())) {
    value = b.getF64FloatAttr(number);
  } else {
    if (number != std::trunc(number))
      return parser.emitError(loc, "an integer tile needs an integer value, got ") << number;
    value = b.getI64IntegerAttr(static_cast<int64_t>(number));
  }
  result.addAttribute(getValueAttrName(result.name), value);
  result.addTypes(type);
  return success();
}

void ConstantOp::print(OpAsmPrinter &p) {
  p << ' ';
  if (auto f = dyn_cast<FloatAttr>(getValue()))
    p.printFloat(f.getValue());
  else
    p << cast<IntegerAttr>(getValue()).getInt();
  p.printOptionalAttrDict((*this)->getAttrs(), {getValueAttrName()});
  p << " : " << getResult().getType();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult IotaOp::verify() {
  TileType t = getResult().getType();
  if (getAxis() >= t.getRank())
    return emitOpError("axis ") << getAxis() << " out of range for a rank-" << t.getRank()
                                << " tile";
  if (t.getElementType().isInteger(1))
    return emitOpError("iota needs an integer type wider than i1");
  return success();
}

LogicalResult MaskOp::verify() {
  int64_t rank = getResult().getType().getRank();
  if (getKind() == MaskKind::bounds) {
    if (getOffsets().size() != static_cast<size_t>(rank) ||
        getBounds().size() != static_cast<size_t>(rank))
      return emitOpError("a bounds mask of rank ")
             << rank << " needs " << rank << " offsets and " << rank << " bounds, got "
             << getOffsets().size() << " and " << getBounds().size();
    return success();
  }
  if (rank != 2 || getOffsets().size() != 2 || !getBounds().empty())
    return emitOpError("a causal mask is rank 2 with two offsets (row, column) and no bounds");
  return success();
}

LogicalResult CmpOp::verify() {
  if (getResult().getType().getShape() != getLhs().getType().getShape())
    return emitOpError("result shape must equal the operand shape");
  return success();
}

LogicalResult SelectOp::verify() {
  if (getCondition().getType().getShape() != getResult().getType().getShape())
    return emitOpError("condition shape ") << shapeStr(getCondition().getType().getShape())
                                           << " differs from value shape "
                                           << shapeStr(getResult().getType().getShape());
  return success();
}

LogicalResult ExtractOp::verify() {
  TileType src = getSource().getType();
  ArrayRef<int64_t> pos = getPosition();
  if (pos.size() != static_cast<size_t>(src.getRank()))
    return emitOpError("needs ") << src.getRank() << " indices, got " << pos.size();
  for (auto [i, p] : llvm::enumerate(pos))
    if (p < 0 || p >= src.getShape()[i])
      return emitOpError("index ") << p << " out of range for dimension " << i << " (extent "
                                   << src.getShape()[i] << ")";
  if (getResult().getType() != src.getElementType())
    return emitOpError("result type must be the tile element type ") << src.getElementType();
  return success();
}
