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

def SpakPadVocab : Pass<"spak-pad-vocab", "::mlir::ModuleOp"> {
  let summary = "Pad the lm_head's classes to a multiple of law pad_vocab (rule apply: pad_vocab)";
  let description = [{
    Runs when an enabled rule says `apply: pad_vocab` and law `pad_vocab` > 1.
    For every `spak.param` weight W [V, C] read by a linear whose result is the
    logits of a cross_entropy (or @infer's result), with V not a multiple of
    the law and at least the law: W (and the linear's [V] bias, if any) becomes [Vp, C] (Vp = V
    rounded up) with argument attribute `spak.valid_rows = V`, the linear's
    result gets Vp columns, the cross_entropy gets `classes = V` and @infer
    gets `spak.classes = V`. The weight may also be an embedding table (weight
    tying); any other reader of W or of the logits leaves the function
    unpadded, with a remark. Runs before shape inference and autodiff, so the
    gradients (cross_entropy_grad with `classes`: zero on the padding) follow.
  }];
  let dependentDialects = ["::spak::graph::GraphDialect", "::mlir::func::FuncDialect"];
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

//===----------------------------------------------------------------------===//
// Stage 2: rule-driven fusion (owner: fusion; lib/Transforms/Fusion*.cpp,
// docs/fusion.md, tests/lit/fusion/). Each pass reads the module's
// `spak.rules` (#spak_graph.rule entries) and fuses only where a rule with its
// `apply` is present and enabled; the created spak_graph.fused regions record
// the rule's name and file:line:col. Rule absent or disabled: no fusion.
//===----------------------------------------------------------------------===//

def SpakFuseNormLinear : Pass<"spak-fuse-norm-linear", "::mlir::ModuleOp"> {
  let summary = "Fuse rmsnorm into the linears it feeds (rule apply: fuse_norm_into_linear)";
  let description = [{
    For every rmsnorm whose result is the input of linear ops, builds one
    `spak_graph.fused "norm_linear"` region holding a copy of the rmsnorm and
    those linears (all of one output width; MicroGPT's q, k, v share one
    region): the lowering computes the row scale (mean(x²) + eps)^-1/2 once
    per row tile and applies it while loading the linears' input. Linears of
    another output width get their own region (the prologue is duplicated).
    The rmsnorm stays only if something else still reads it. Rule:
    apply `fuse_norm_into_linear` (or `fuse(rmsnorm, linear)`).
  }];
  let options = [
    Option<"force", "force", "bool", "false",
           "Fuse even when no enabled rule asks for it (provenance \"option:force\")">,
    Option<"sharePrologue", "share-prologue", "bool", "true",
           "One region for all linears of one width fed by a norm (false: one region per linear, duplicated prologue)">,
    Option<"maxConsumers", "max-consumers", "int64_t", "8",
           "Most linears in one region (more start another region with a duplicated prologue)">
  ];
  let dependentDialects = ["::spak::graph::GraphDialect"];
}

def SpakFuseEpilogues : Pass<"spak-fuse-epilogues", "::mlir::ModuleOp"> {
  let summary = "Fuse gelu / a residual add into the producing linear, gelu_grad into the producing matmul (rules epilogue(bias, gelu), epilogue(residual), epilogue(gelu_grad))";
  let description = [{
    `gelu(linear(x, w [, b]))` becomes `spak_graph.fused "linear_bias_gelu"`
    and `add(linear(x, w [, b]), r)` (either operand order, r of the linear's
    type) becomes `spak_graph.fused "linear_residual"`: the matmul kernel applies
    the bias, then gelu or the residual, to the accumulator before its store.
    When something else also reads the linear's result (the backward pass of
    gelu does), the region yields it too and the kernel stores both.
    Rule epilogue(gelu_grad): `gelu_grad(matmul(dy, w), x)` (no transposes, w
    rank 2, the matmul result read only by the gelu_grad) becomes
    `spak_graph.fused "matmul_gelu_grad"`: the data-gradient matmul multiplies
    its accumulator by gelu'(x) before the store.
  }];
  let options = [
    Option<"force", "force", "bool", "false",
           "Fuse even when no enabled rule asks for it (provenance \"option:force\")">,
    Option<"gelu", "gelu", "bool", "true", "Consider linear -> gelu (still needs the rule or force)">,
    Option<"residual", "residual", "bool", "true", "Consider linear -> add (still needs the rule or force)">,
    Option<"geluGrad", "gelu-grad", "bool", "true",
           "Consider matmul -> gelu_grad (rule epilogue(gelu_grad); still needs the rule or force)">
  ];
  let dependentDialects = ["::spak::graph::GraphDialect"];
}

def SpakFuseSoftmaxXent : Pass<"spak-fuse-softmax-xent", "::mlir::ModuleOp"> {
  let summary = "Fuse cross_entropy and its cross_entropy_grad into one kernel (rule apply: fuse_softmax_xent)";
  let description = [{
    A cross_entropy(logits, t) and a cross_entropy_grad(g, logits, t) of the
    same logits and targets in one function become
    `spak_graph.fused "softmax_xent"` yielding (loss, dlogits): one kernel
    computes the row max and sum of exponentials once and writes both.
  }];
  let options = [
    Option<"force", "force", "bool", "false",
           "Fuse even when no enabled rule asks for it (provenance \"option:force\")">
  ];
  let dependentDialects = ["::spak::graph::GraphDialect"];
}

def SpakFuseAttention : Pass<"spak-fuse-attention", "::mlir::ModuleOp"> {
  let summary = "Mark attention / attention_grad for the flash kernels (rule apply: online_softmax)";
  let description = [{
    With the rule, each attention and attention_grad gets `spak.fusion =
    {kind = "flash_attention" / "flash_attention_grad", rule, rule_loc}` and
    lowers to the one flash kernel (online softmax, probabilities never
    stored; the kernel names the rule). Without it (rule disabled or
    absent), each attention op gets `spak.unfused = "online_softmax"` and the
    lowering decomposes it into scores = q kᵀ (matmul), softmax, o = p v
    (matmul) kernels over a stored [B·H, T, T] probability buffer.
  }];
  let options = [
    Option<"force", "force", "bool", "false",
           "Fuse even when no enabled rule asks for it (provenance \"option:force\")">,
    Option<"decompose", "decompose", "bool", "true",
           "Without the rule, mark attention for the matmul/softmax/matmul decomposition (false: leave it to the default lowering)">
  ];
  let dependentDialects = ["::spak::graph::GraphDialect"];
}

def SpakFuseAdam : Pass<"spak-fuse-adam", "::mlir::ModuleOp"> {
  let summary = "Fuse the per-tensor adam ops of a step into one multi-tensor update (rule apply: multi_tensor_update)";
  let description = [{
    The adam ops of one function that share the step counter and all
    hyper-parameters become one `spak_graph.fused "multi_tensor_adam"` region
    (one kernel over the list of tensors, one launch per step). Groups with
    different hyper-parameters (AdamW without decay on biases) form separate
    regions.
  }];
  let options = [
    Option<"force", "force", "bool", "false",
           "Fuse even when no enabled rule asks for it (provenance \"option:force\")">,
    Option<"maxTensors", "max-tensors", "int64_t", "0",
           "Most parameters per region (0: no limit)">
  ];
  let dependentDialects = ["::spak::graph::GraphDialect"];
}

def SpakFusion : Pass<"spak-fusion", "::mlir::ModuleOp"> {
  let summary = "All fusion passes, in the priority order of their rules";
  let description = [{
    Runs spak-fuse-norm-linear, spak-fuse-epilogues, spak-fuse-softmax-xent,
    spak-fuse-attention and spak-fuse-adam, ordered by the `priority` of the
    rule each one applies (lower first; ties keep that order). A pass whose
    rule is absent takes the priority rules/fusion.dsl gives it (10, 20, 30,
    40, 50) and, rule-less, fuses nothing. `force` is passed to every pass.
  }];
  let options = [
    Option<"force", "force", "bool", "false",
           "Fuse everything fusible even without rules (provenance \"option:force\")">
  ];
  let dependentDialects = ["::spak::graph::GraphDialect"];
}

#endif // SPAK_TRANSFORMS_PASSES
