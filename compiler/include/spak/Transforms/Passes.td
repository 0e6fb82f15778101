//===- Passes.td - the spakc pass library ---------------------------------===//
//
// All graph-level passes of spakc, registered by registerSpakPasses()
// (spak/Transforms/Passes.h, library SpakTransforms). One lit test per pass in
// tests/lit/graph/. Add new passes here, grouped by pipeline stage, each with a
// summary, a description stating what it reads and writes, and typed options.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_TRANSFORMS_PASSES
#define SPAK_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Stage 1: graph analysis and construction of the training graph
//===----------------------------------------------------------------------===//

def SpakShapeInference : Pass<"spak-shape-inference", "::mlir::ModuleOp"> {
  let summary = "Refine graph-op result shapes from their operands (`?` becomes static where known)";
  let description = [{
    For every func.func of the module, visits its ops in order and calls the ShapeInference
    interface of each spak_graph op: every result type becomes the most precise
    type compatible with both its declared type and the type its shape function
    derives from the (already refined) operands. A declared static size that
    contradicts the operands is an error. With `update-signature` (default) the
    function's result types are refined too; otherwise a `tensor.cast` back to
    the declared type is inserted before the return.
  }];
  let options = [
    Option<"updateSignature", "update-signature", "bool", /*default=*/"true",
           "Refine the function's result types to the inferred return types">
  ];
  let dependentDialects = ["::spak::graph::GraphDialect", "::mlir::tensor::TensorDialect"];
}

#endif // SPAK_TRANSFORMS_PASSES
