//===- GraphBase.td - type constraints and the op base class --------------===//
//
// Shared by GraphOps.td (forward), GraphBackwardOps.td and
// GraphOptimizerOps.td. Every graph op is Pure, has a shape function
// (InferTypeOpInterface through its Adaptor, which also verifies shapes,
// dtypes and attributes), accepts declared result types that are merely
// *compatible* with the inferred ones (`?` against a static size), and
// implements the ShapeInference interface used by `spak-shape-inference`.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_GRAPH_BASE
#define SPAK_GRAPH_BASE

include "spak/Dialect/Graph/GraphDialect.td"
include "spak/Dialect/Graph/ShapeInferenceInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/CommonAttrConstraints.td"

// Float activations/weights: f32 (what kernels run) or f64 (the interpreter and gradient checks).
def Graph_FloatTensor : RankedTensorOf<[F32, F64]>;
// Token ids and targets.
def Graph_IdTensor : RankedTensorOf<[I32]>;
// A rank-0 float tensor (losses, upstream loss gradients, norms).
def Graph_FloatScalar : TensorRankOf<[F32, F64], [0]>;
// The optimizer step counter: rank-0 i32 or i64 tensor.
def Graph_StepScalar : TensorRankOf<[I32, I64], [0]>;
// adam's step operand: the rank-0 counter s, or [s, total_steps] (rank 1, 2 elements; the verifier checks the
// size): the learning-rate schedule's length read at run time.
def Graph_StepOperand : TensorRankOf<[I32, I64], [0, 1]>;

class Graph_InferOp<string mnemonic, list<Trait> traits = []>
    : Graph_Op<mnemonic, !listconcat(traits,
        [Pure, ShapeInferenceOpInterface, InferTypeOpAdaptorWithIsCompatible])> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let extraClassDefinition = [{
    bool $cppClass::isCompatibleReturnTypes(::mlir::TypeRange l, ::mlir::TypeRange r) {
      return ::spak::graph::areCompatibleTypeLists(l, r);
    }
  }];
}

#endif // SPAK_GRAPH_BASE
