//===- ShapeInferenceInterface.td - shape inference op interface ----------===//
//
// Like the Toy tutorial's ShapeInference interface: an op that implements it can
// refine its result types from its operand types. The spak_graph ops implement
// it through their InferTypeOpInterface shape functions (which also give every
// op a result-type-free builder); `spak-shape-inference` calls inferShapes() on
// every op in order, so `?` dimensions become static wherever the operands allow.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_GRAPH_SHAPE_INFERENCE_INTERFACE
#define SPAK_GRAPH_SHAPE_INFERENCE_INTERFACE

include "mlir/IR/OpBase.td"

def ShapeInferenceOpInterface : OpInterface<"ShapeInference"> {
  let cppNamespace = "::spak::graph";
  let description = [{
    Refine the result types of this op from the current operand types. The new
    result type of each result is the most precise type compatible with both the
    declared type and the inferred one; a conflict is an error.
  }];
  let methods = [
    InterfaceMethod<"Refine the result types from the operand types; returns "
                    "failure (with a diagnostic) when they conflict.",
                    "::llvm::LogicalResult", "inferShapes", (ins),
                    /*methodBody=*/[{}],
                    /*defaultImplementation=*/[{
                      return ::spak::graph::refineResultTypes($_op.getOperation());
                    }]>
  ];
}

#endif // SPAK_GRAPH_SHAPE_INFERENCE_INTERFACE
