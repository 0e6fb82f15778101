//===- TileDialect.cpp - spak_tile dialect, types and attributes ----------===//
//
// Registration, the custom syntax of !spak_tile.tile / !spak_tile.buffer /
// #spak_tile.extent, and the verifiers of types and attributes.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Tile/IR/Tile.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace spak::tile;

#include "spak/Dialect/Tile/IR/TileDialect.cpp.inc"
#include "spak/Dialect/Tile/IR/TileEnums.cpp.inc"

// A law value: an integer (`64`), a float (`-1.000000e+20`), or `inf`/`-inf`/`nan`
// (never a valid floor, but spelled so that the passes can diagnose it).
static ParseResult parseLawValue(AsmParser &p, Attribute &value) {
  Builder b(p.getContext());
  bool negative = succeeded(p.parseOptionalMinus());
  if (succeeded(p.parseOptionalKeyword("inf"))) {
    value = b.getF64FloatAttr(negative ? -std::numeric_limits<double>::infinity()
                                       : std::numeric_limits<double>::infinity());
    return success();
  }
  if (succeeded(p.parseOptionalKeyword("nan"))) {
    value = b.getF64FloatAttr(std::numeric_limits<double>::quiet_NaN());
    return success();
  }
  int64_t integer = 0;
  OptionalParseResult asInteger = p.parseOptionalInteger(integer);
  if (asInteger.has_value()) {
    if (failed(*asInteger))
      return failure();
    value = b.getI64IntegerAttr(negative ? -integer : integer);
    return success();
  }
  double number = 0;
  if (p.parseFloat(number))
    return failure();
  value = b.getF64FloatAttr(negative ? -number : number);
  return success();
}

static void printLawValue(AsmPrinter &p, Attribute value) {
  if (auto i = dyn_cast<IntegerAttr>(value)) {
    p << i.getInt();
    return;
  }
  if (auto f = dyn_cast<FloatAttr>(value)) {
    double d = f.getValueAsDouble();
    if (std::isnan(d))
      p << "nan";
    else if (std::isinf(d))
      p << (d < 0 ? "-inf" : "inf");
    else
      p.printFloat(f.getValue());
    return;
  }
  p.printAttribute(value); // rejected by the verifier; printed for diagnostics
}

#define GET_ATTRDEF_CLASSES
#include "spak/Dialect/Tile/IR/TileAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "spak/Dialect/Tile/IR/TileTypes.cpp.inc"

void TileDialect::initialize() {
  registerTypes();
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "spak/Dialect/Tile/IR/TileOps.cpp.inc"
      >();
}

void TileDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "spak/Dialect/Tile/IR/TileTypes.cpp.inc"
      >();
}

void TileDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "spak/Dialect/Tile/IR/TileAttrs.cpp.inc"
      >();
}

Operation *TileDialect::materializeConstant(OpBuilder &builder, Attribute value, Type type,
                                            Location loc) {
  if (isa<TileType>(type) && (isa<FloatAttr>(value) || isa<IntegerAttr>(value)))
    return ConstantOp::create(builder, loc, type, value, LawAttr());
  if (auto intAttr = dyn_cast<IntegerAttr>(value); intAttr && type.isIntOrIndex())
    return arith::ConstantOp::create(builder, loc, type, intAttr);
  return nullptr;
}

void spak::tile::registerTileDialect(DialectRegistry &registry) {
  registry.insert<TileDialect, arith::ArithDialect, scf::SCFDialect>();
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

static void printShape(AsmPrinter &p, ArrayRef<int64_t> shape) {
  for (int64_t d : shape) {
    if (ShapedType::isDynamic(d))
      p << '?';
    else
      p << d;
    p << 'x';
  }
}

static bool isTileElementType(Type t) { return isa<FloatType>(t) || isa<IntegerType>(t); }

//===----------------------------------------------------------------------===//
// TileType
//===----------------------------------------------------------------------===//

Type TileType::parse(AsmParser &p) {
  SmallVector<int64_t> shape;
  Type elementType;
  SMLoc loc = p.getCurrentLocation();
  if (p.parseLess() ||
      p.parseDimensionList(shape, /*allowDynamic=*/false, /*withTrailingX=*/true) ||
      p.parseType(elementType))
    return {};
  MemorySpace space = MemorySpace::reg;
  if (succeeded(p.parseOptionalComma())) {
    StringRef keyword;
    SMLoc kwLoc = p.getCurrentLocation();
    if (p.parseKeyword(&keyword))
      return {};
    std::optional<MemorySpace> parsed = symbolizeMemorySpace(keyword);
    if (!parsed) {
      p.emitError(kwLoc, "expected memory space 'reg' or 'smem', got '") << keyword << "'";
      return {};
    }
    space = *parsed;
  }
  if (p.parseGreater())
    return {};
  return p.getChecked<TileType>(loc, p.getContext(), shape, elementType, space);
}

void TileType::print(AsmPrinter &p) const {
  p << '<';
  printShape(p, getShape());
  p << getElementType();
  if (getMemorySpace() != MemorySpace::reg)
    p << ", " << stringifyMemorySpace(getMemorySpace());
  p << '>';
}

LogicalResult TileType::verify(function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> shape,
                               Type elementType, MemorySpace) {
  if (shape.empty())
    return emitError() << "a tile needs at least one dimension";
  for (int64_t d : shape)
    if (d <= 0)
      return emitError() << "tile dimensions must be static and positive, got " << d;
  if (!isTileElementType(elementType))
    return emitError() << "tile element type must be an integer or float type, got " << elementType;
  return success();
}

int64_t TileType::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : getShape())
    n *= d;
  return n;
}

TileType TileType::withElementType(Type type) const {
  return TileType::get(getContext(), getShape(), type, getMemorySpace());
}

TileType TileType::getMaskType() const {
  return TileType::get(getContext(), getShape(), IntegerType::get(getContext(), 1), MemorySpace::reg);
}

TileType TileType::withShape(ArrayRef<int64_t> shape) const {
  return TileType::get(getContext(), shape, getElementType(), getMemorySpace());
}

//===----------------------------------------------------------------------===//
// BufferType
//===----------------------------------------------------------------------===//

Type BufferType::parse(AsmParser &p) {
  SmallVector<int64_t> shape;
  Type elementType;
  SMLoc loc = p.getCurrentLocation();
  if (p.parseLess() ||
      p.parseDimensionList(shape, /*allowDynamic=*/true, /*withTrailingX=*/true) ||
      p.parseType(elementType) || p.parseGreater())
    return {};
  return p.getChecked<BufferType>(loc, p.getContext(), shape, elementType);
}

void BufferType::print(AsmPrinter &p) const {
  p << '<';
  printShape(p, getShape());
  p << getElementType() << '>';
}

LogicalResult BufferType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape, Type elementType) {
  if (shape.empty())
    return emitError() << "a buffer needs at least one dimension (use 1 for a scalar)";
  for (int64_t d : shape)
    if (!ShapedType::isDynamic(d) && d <= 0)
      return emitError() << "buffer dimensions must be positive or '?', got " << d;
  if (!isTileElementType(elementType))
    return emitError() << "buffer element type must be an integer or float type, got "
                       << elementType;
  return success();
}

unsigned BufferType::getNumDynamicDims() const {
  return llvm::count_if(getShape(), [](int64_t d) { return ShapedType::isDynamic(d); });
}

//===----------------------------------------------------------------------===//
// LawAttr
//===----------------------------------------------------------------------===//

LogicalResult LawAttr::verify(function_ref<InFlightDiagnostic()> emitError, StringRef name,
                              Attribute value, StringRef provenance) {
  if (name.empty())
    return emitError() << "a law needs a name";
  if (!isa<IntegerAttr>(value) && !isa<FloatAttr>(value))
    return emitError() << "law '" << name << "' must have an integer or float value, got "
                       << value;
  if (provenance.empty())
    return emitError() << "law '" << name
                       << "' needs a provenance (file:line:col, \"default\" or \"option:<flag>\")";
  return success();
}

int64_t LawAttr::getInt() const {
  assert(isInteger() && "law is not an integer");
  return cast<IntegerAttr>(getValue()).getInt();
}

double LawAttr::getFloat() const {
  if (auto i = dyn_cast<IntegerAttr>(getValue()))
    return static_cast<double>(i.getInt());
  return cast<FloatAttr>(getValue()).getValueAsDouble();
}

//===----------------------------------------------------------------------===//
// ConfigAttr
//===----------------------------------------------------------------------===//

LogicalResult ConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 DictionaryAttr laws) {
  for (NamedAttribute entry : laws) {
    auto law = dyn_cast<LawAttr>(entry.getValue());
    if (!law)
      return emitError() << "config entry '" << entry.getName().getValue()
                         << "' must be a #spak_tile.law attribute";
    if (law.getName() != entry.getName().getValue())
      return emitError() << "config entry '" << entry.getName().getValue()
                         << "' holds law '" << law.getName() << "'";
  }
  return success();
}

LawAttr ConfigAttr::getLaw(StringRef name) const {
  return dyn_cast_or_null<LawAttr>(getLaws().get(name));
}

int64_t ConfigAttr::getInt(StringRef name) const {
  LawAttr law = getLaw(name);
  assert(law && law.isInteger() && "config lacks an integer law of that name");
  return law.getInt();
}

//===----------------------------------------------------------------------===//
// ExtentAttr
//===----------------------------------------------------------------------===//

Attribute ExtentAttr::parse(AsmParser &p, Type) {
  int64_t size = ShapedType::kDynamic, tileExtent = 0;
  SMLoc loc = p.getCurrentLocation();
  if (p.parseLess())
    return {};
  if (failed(p.parseOptionalQuestion()) && p.parseInteger(size))
    return {};
  if (p.parseComma() || p.parseInteger(tileExtent) || p.parseGreater())
    return {};
  return p.getChecked<ExtentAttr>(loc, p.getContext(), size, tileExtent);
}

void ExtentAttr::print(AsmPrinter &p) const {
  p << '<';
  if (isDynamic())
    p << '?';
  else
    p << getSize();
  p << ", " << getTile() << '>';
}

LogicalResult ExtentAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t size,
                                 int64_t tileExtent) {
  if (!ShapedType::isDynamic(size) && size <= 0)
    return emitError() << "extent size must be positive or '?', got " << size;
  if (tileExtent <= 0)
    return emitError() << "extent tile must be positive, got " << tileExtent;
  return success();
}

int64_t ExtentAttr::getPadded() const {
  if (isDynamic())
    return ShapedType::kDynamic;
  return (getSize() + getTile() - 1) / getTile() * getTile();
}

int64_t ExtentAttr::getNumTiles() const {
  if (isDynamic())
    return ShapedType::kDynamic;
  return (getSize() + getTile() - 1) / getTile();
}
