//===- GraphDialect.td - the spak_graph dialect definition ----------------===//
//
// spak_graph ("spak.graph" in the docs): tensor-level model graphs. Forward ops
// (embed, linear, rmsnorm, attention, cross_entropy, ...), the backward ops that
// reverse-mode autodiff emits (relu_grad, attention_grad, ...) and optimizer ops
// (adam, clip_grad_norm). Values are ranked tensors of f32/f64/i32; dimensions
// may be dynamic (`?`), and every op infers its result shape from its operands.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_GRAPH_DIALECT
#define SPAK_GRAPH_DIALECT

include "mlir/IR/OpBase.td"

def Graph_Dialect : Dialect {
  let name = "spak_graph";
  let cppNamespace = "::spak::graph";
  let summary = "Tensor-level model graphs: forward, backward and optimizer ops";
  let description = [{
    The first IR of spakc. MLIRGen turns a model's `forward` into a
    `func.func @forward` of spak_graph ops; `spak-autodiff` adds `@backward`,
    `spak-optimizer-step` adds `@train_step`. The reference interpreter
    (spak/Interp) defines the exact float64 semantics of every op.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::func::FuncDialect"];
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

class Graph_Op<string mnemonic, list<Trait> traits = []>
    : Op<Graph_Dialect, mnemonic, traits>;

#endif // SPAK_GRAPH_DIALECT
