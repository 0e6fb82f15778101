//===- Graph.h - the spak_graph dialect: dialect, attributes, ops ---*- C++ -*-===//
//
// Include this to use the graph dialect. Also declares the helpers the op
// definitions share: type compatibility (`?` matches any size), the
// refinement used by the ShapeInference interface, and the module/function
// attribute names that MLIRGen, the passes and the emitters agree on.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_DIALECT_GRAPH_GRAPH_H
#define SPAK_DIALECT_GRAPH_GRAPH_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringExtras.h"

#include <string>

namespace spak::graph {

/// Attribute names shared by MLIRGen, the passes, the interpreter and the emitters.
inline constexpr llvm::StringLiteral kForwardAttr = "spak.forward";   // unit, on @forward
inline constexpr llvm::StringLiteral kBackwardAttr = "spak.backward"; // unit, on @backward
inline constexpr llvm::StringLiteral kTrainStepAttr = "spak.train_step";
inline constexpr llvm::StringLiteral kParamAttr = "spak.param";       // arg/result: export name
inline constexpr llvm::StringLiteral kInputAttr = "spak.input";       // arg: "tokens", "targets", ...
inline constexpr llvm::StringLiteral kGradOfAttr = "spak.grad_of";    // result: parameter name
inline constexpr llvm::StringLiteral kLossAttr = "spak.loss";         // result: unit
inline constexpr llvm::StringLiteral kAdamMAttr = "spak.adam_m";      // arg/result: parameter name
inline constexpr llvm::StringLiteral kAdamVAttr = "spak.adam_v";      // arg/result: parameter name
inline constexpr llvm::StringLiteral kStepAttr = "spak.step";         // arg: unit
inline constexpr llvm::StringLiteral kGradNormAttr = "spak.grad_norm"; // result: unit
inline constexpr llvm::StringLiteral kRulesAttr = "spak.rules";       // module: [#spak_graph.rule...]
inline constexpr llvm::StringLiteral kTrainAttr = "spak.train";       // module: {optimizer = ..., lr = ...}

/// A rule's `apply` with whitespace and quotes removed ("epilogue(bias,gelu)"): the form the passes that implement
/// applies (the graph fusions, spak-bf16-producers) and `spakc explain` compare.
inline std::string normalizeRuleApply(llvm::StringRef apply) {
  std::string out;
  for (char c : apply)
    if (!llvm::isSpace(c) && c != '"')
      out.push_back(c);
  return out;
}

/// Two types are compatible when they are equal, or both ranked tensors with the
/// same element type and rank whose sizes are equal or dynamic on either side.
bool areCompatibleTypes(mlir::Type a, mlir::Type b);
bool areCompatibleTypeLists(mlir::TypeRange a, mlir::TypeRange b);
/// The most precise type compatible with both (a must be compatible with b).
mlir::Type meetTypes(mlir::Type a, mlir::Type b);
/// Default implementation of ShapeInference::inferShapes: re-run the op's shape
/// function and narrow each result type to the meet of declared and inferred.
llvm::LogicalResult refineResultTypes(mlir::Operation *op);

} // namespace spak::graph

#include "spak/Dialect/Graph/GraphDialect.h.inc"
#include "spak/Dialect/Graph/ShapeInferenceInterface.h.inc"

#define GET_ATTRDEF_CLASSES
#include "spak/Dialect/Graph/GraphAttrs.h.inc"

#define GET_OP_CLASSES
#include "spak/Dialect/Graph/GraphOps.h.inc"

namespace spak::graph {
/// Registers the graph dialect (and the dialects its IR uses: func, arith, tensor).
void registerGraphDialect(mlir::DialectRegistry &registry);

/// The first enabled rule of the module's `spak.rules` whose normalized `apply` is `apply`; null when there is none
/// (the passes and lowerings that one apply switches on: spak-pad-vocab, spak-bf16-producers, the attention lowering).
inline RuleAttr findEnabledRule(mlir::ModuleOp module, llvm::StringRef apply) {
  auto list = module ? module->getAttrOfType<mlir::ArrayAttr>(kRulesAttr) : mlir::ArrayAttr();
  if (list)
    for (mlir::Attribute a : list)
      if (auto r = llvm::dyn_cast<RuleAttr>(a); r && r.getEnabled() && normalizeRuleApply(r.getApply()) == apply)
        return r;
  return {};
}
} // namespace spak::graph

#endif // SPAK_DIALECT_GRAPH_GRAPH_H
