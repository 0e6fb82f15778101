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

def SpakAutodiff : Pass<"spak-autodiff", "::mlir::ModuleOp"> {
  let summary = "Build @backward (loss and parameter gradients) from @forward by reverse-mode VJPs";
  let description = [{
    Finds the forward function (the one with `spak.forward`, else the one named
    by `forward`), whose first result is the rank-0 loss. Creates a function
    named by `backward` with the same arguments (and argument attributes) that
    returns (loss, d loss / d param for every argument carrying `spak.param`,
    in argument order). Gradient results carry `spak.grad_of = "<name>"`, the
    loss result `spak.loss`. Each graph op contributes its vector-Jacobian
    product (backward ops such as rmsnorm_grad, attention_grad,
    cross_entropy_grad, embed_grad; matmul/reduce_sum for linear and
    broadcasting); contributions to a value used several times are summed, so
    tied weights get the sum of their gradients. A parameter that does not
    reach the loss gets a zero gradient. An op without a VJP on the path from a
    parameter to the loss is an error.
  }];
  let options = [
    Option<"forwardName", "forward", "std::string", /*default=*/"\"forward\"",
           "Name of the forward function (used when no function has `spak.forward`)">,
    Option<"backwardName", "backward", "std::string", /*default=*/"\"backward\"",
           "Name of the function to create">
  ];
  let dependentDialects = ["::spak::graph::GraphDialect", "::mlir::func::FuncDialect",
                           "::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"];
}

def SpakOptimizerStep : Pass<"spak-optimizer-step", "::mlir::ModuleOp"> {
  let summary = "Build @train_step (backward + optional grad clip + Adam/AdamW) from @backward and `spak.train`";
  let description = [{
    Reads the module's `spak.train` dictionary: optimizer ("adam" | "adamw"),
    lr, beta1, beta2, eps, weight_decay, schedule ("constant" | "linear_decay"
    | "cosine"), warmup, min_lr, steps, grad_clip (0 = off). Absent keys take
    nanoGPT/PyTorch defaults (beta1 0.9, beta2 0.999, eps 1e-8, weight_decay 0,
    schedule constant, warmup 0, min_lr 0, grad_clip 0); `lr` is required, and
    `steps` for a decaying schedule. Pass options override the dictionary.
    Creates
      func.func @train_step(params..., m..., v..., %step: tensor<i32>, inputs...)
          -> (loss, params'..., m'..., v'...)
    by inlining @backward, clipping the gradients by their global norm when
    grad_clip > 0 (the norm is then returned last, `spak.grad_norm`), and
    updating every parameter with `spak_graph.adam`. With "adamw", weight decay
    applies only to parameters of rank >= 2 (biases and norm weights are not
    decayed, as nanoGPT's configure_optimizers); "adam" never decays.
  }];
  let options = [
    Option<"backwardName", "backward", "std::string", /*default=*/"\"backward\"",
           "Name of the backward function to build from">,
    Option<"trainStepName", "train-step", "std::string", /*default=*/"\"train_step\"",
           "Name of the function to create">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"\"",
           "Override spak.train optimizer (adam | adamw)">,
    Option<"lr", "lr", "double", /*default=*/"-1.0",
           "Override spak.train lr (negative: from the module)">,
    Option<"steps", "steps", "int64_t", /*default=*/"-1",
           "Override spak.train steps (negative: from the module)">,
    Option<"gradClip", "grad-clip", "double", /*default=*/"-1.0",
           "Override spak.train grad_clip (negative: from the module; 0 disables)">
  ];
  let dependentDialects = ["::spak::graph::GraphDialect", "::mlir::func::FuncDialect",
                           "::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"];
}

#endif // SPAK_TRANSFORMS_PASSES
