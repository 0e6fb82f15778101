//===- GraphDialect.cpp - spak_graph dialect, attributes, type helpers ----===//
//
// Registers the ops and the #spak_graph.rule attribute, and implements the
// type-compatibility / refinement helpers used by every op's shape function
// and by the ShapeInference interface.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Graph/Graph.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace spak::graph;

#include "spak/Dialect/Graph/GraphDialect.cpp.inc"
#include "spak/Dialect/Graph/ShapeInferenceInterface.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "spak/Dialect/Graph/GraphAttrs.cpp.inc"

void GraphDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "spak/Dialect/Graph/GraphOps.cpp.inc"
      >();
  registerAttributes();
}

void GraphDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "spak/Dialect/Graph/GraphAttrs.cpp.inc"
      >();
}

void spak::graph::registerGraphDialect(DialectRegistry &registry) {
  registry.insert<GraphDialect, func::FuncDialect, arith::ArithDialect, tensor::TensorDialect>();
}

//===----------------------------------------------------------------------===//
// #spak_graph.rule
//===----------------------------------------------------------------------===//

LogicalResult RuleAttr::verify(function_ref<InFlightDiagnostic()> emitError, StringRef name,
                               StringRef apply, bool enabled, int64_t priority, StringRef loc) {
  (void)enabled;
  (void)priority;
  if (name.empty())
    return emitError() << "#spak_graph.rule: empty rule name";
  if (apply.empty())
    return emitError() << "#spak_graph.rule '" << name << "': empty 'apply'";
  if (!loc.empty()) {
    // "file:line:col": the last two ':'-separated fields are positive integers.
    auto [rest, col] = loc.rsplit(':');
    auto [file, line] = rest.rsplit(':');
    unsigned l = 0, c = 0;
    if (file.empty() || line.getAsInteger(10, l) || col.getAsInteger(10, c) || l == 0)
      return emitError() << "#spak_graph.rule '" << name << "': loc \"" << loc
                         << "\" is not of the form \"file:line:col\"";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Type compatibility and refinement
//===----------------------------------------------------------------------===//

bool spak::graph::areCompatibleTypes(Type a, Type b) {
  if (a == b)
    return true;
  auto ta = dyn_cast<RankedTensorType>(a), tb = dyn_cast<RankedTensorType>(b);
  if (!ta || !tb || ta.getElementType() != tb.getElementType() || ta.getRank() != tb.getRank())
    return false;
  for (auto [x, y] : llvm::zip(ta.getShape(), tb.getShape()))
    if (x != y && !ShapedType::isDynamic(x) && !ShapedType::isDynamic(y))
      return false;
  return true;
}

bool spak::graph::areCompatibleTypeLists(TypeRange a, TypeRange b) {
  if (a.size() != b.size())
    return false;
  for (auto [x, y] : llvm::zip(a, b))
    if (!areCompatibleTypes(x, y))
      return false;
  return true;
}

Type spak::graph::meetTypes(Type a, Type b) {
  auto ta = dyn_cast<RankedTensorType>(a), tb = dyn_cast<RankedTensorType>(b);
  if (!ta || !tb || a == b)
    return a;
  SmallVector<int64_t> dims;
  for (auto [x, y] : llvm::zip(ta.getShape(), tb.getShape()))
    dims.push_back(ShapedType::isDynamic(x) ? y : x);
  return RankedTensorType::get(dims, ta.getElementType());
}

LogicalResult spak::graph::refineResultTypes(Operation *op) {
  auto infer = dyn_cast<InferTypeOpInterface>(op);
  if (!infer)
    return success();
  SmallVector<Type> inferred;
  if (failed(infer.inferReturnTypes(op->getContext(), op->getLoc(), op->getOperands(),
                                    op->getAttrDictionary(), op->getPropertiesStorage(),
                                    op->getRegions(), inferred)))
    return failure();
  if (inferred.size() != op->getNumResults())
    return op->emitOpError() << "shape function gave " << inferred.size() << " result types for "
                             << op->getNumResults() << " results";
  for (auto [res, ty] : llvm::zip(op->getResults(), inferred)) {
    if (!areCompatibleTypes(res.getType(), ty))
      return op->emitOpError() << "result #" << res.getResultNumber() << " has type "
                               << res.getType() << " but its operands give " << ty;
    res.setType(meetTypes(ty, res.getType()));
  }
  return success();
}
