//===- GraphOps.td - forward ops of the spak_graph dialect ----------------===//
//
// Forward (model) ops. The exact float64 semantics of each op is the reference
// interpreter (lib/Interp/Interpreter.cpp); docs/dialects/graph.md has the table.
// Shapes: `B` batch, `T` time (often `?`), `C` channels, `V` vocabulary.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_GRAPH_OPS
#define SPAK_GRAPH_OPS

include "spak/Dialect/Graph/GraphBase.td"

//===----------------------------------------------------------------------===//
// Embeddings and positions
//===----------------------------------------------------------------------===//

def Graph_EmbedOp : Graph_InferOp<"embed"> {
  let summary = "Row gather: out[..., c] = table[ids[...], c]";
  let description = [{
    `table: [V, C]`, `ids: [d0, ..., dn]` (i32, rank >= 1) -> `[d0, ..., dn, C]`.
    An id outside [0, V) is a runtime error.
  }];
  let arguments = (ins Graph_FloatTensor:$table, Graph_IdTensor:$ids);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_PositionsOp : Graph_InferOp<"positions"> {
  let summary = "Positions 0..T-1 of the last dimension of `ids`";
  let description = [{ `ids: [..., T]` (i32) -> `[T]` i32 with value t at index t. }];
  let arguments = (ins Graph_IdTensor:$ids);
  let results = (outs Graph_IdTensor:$result);
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Graph_BinaryOp<string mnemonic, string sym> : Graph_InferOp<mnemonic> {
  let summary = "Elementwise " # sym # " with numpy (trailing) broadcasting";
  let description = [{
    Shapes broadcast from the trailing dimension: each pair of sizes must be
    equal or one of them a static 1. Two dynamic sizes are assumed equal (the
    interpreter checks it at run time). Element types must match.
  }];
  let arguments = (ins Graph_FloatTensor:$lhs, Graph_FloatTensor:$rhs);
  let results = (outs Graph_FloatTensor:$result);
}
def Graph_AddOp : Graph_BinaryOp<"add", "addition">;
def Graph_SubOp : Graph_BinaryOp<"sub", "subtraction">;
def Graph_MulOp : Graph_BinaryOp<"mul", "multiplication">;

def Graph_ScaleOp : Graph_InferOp<"scale"> {
  let summary = "Multiply by a constant: out = factor * x";
  let arguments = (ins Graph_FloatTensor:$input, F64Attr:$factor);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_ReluOp : Graph_InferOp<"relu"> {
  let summary = "out = max(x, 0)";
  let arguments = (ins Graph_FloatTensor:$input);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_GeluOp : Graph_InferOp<"gelu"> {
  let summary = "GELU, tanh approximation";
  let description = [{
    out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as GPT-2 / nanoGPT.
  }];
  let arguments = (ins Graph_FloatTensor:$input);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_DropoutOp : Graph_InferOp<"dropout"> {
  let summary = "Inverted dropout with a counter-based mask (identity when p = 0)";
  let description = [{
    out[i] = keep(i) ? x[i] / (1 - p) : 0, keep(i) = u(seed, offset, i) >= p where
    u is splitmix64 of (seed, offset, flat index i) mapped to [0, 1). `offset`
    (optional rank-0 i32/i64, e.g. the training step) varies the mask per step.
    The mask depends only on (seed, offset, i), so the VJP is dropout(dy) with
    the same attributes and offset. 0 <= p < 1.
  }];
  let arguments = (ins Graph_FloatTensor:$input, Optional<Graph_StepScalar>:$offset,
                       F64Attr:$p, DefaultValuedAttr<I64Attr, "0">:$seed);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_ZerosLikeOp : Graph_InferOp<"zeros_like"> {
  let summary = "A tensor of zeros with the type (and run-time shape) of the operand";
  let arguments = (ins Graph_FloatTensor:$input);
  let results = (outs Graph_FloatTensor:$result);
}

//===----------------------------------------------------------------------===//
// Contractions
//===----------------------------------------------------------------------===//

def Graph_LinearOp : Graph_InferOp<"linear"> {
  let summary = "y = x · wᵀ + b (PyTorch Linear: weight stored [out, in])";
  let description = [{
    `x: [..., K]`, `w: [N, K]`, optional `b: [N]` -> `[..., N]`.
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$weight,
                       Optional<Graph_FloatTensor>:$bias);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_MatmulOp : Graph_InferOp<"matmul"> {
  let summary = "Batched matrix product with optional transposes";
  let description = [{
    `a: [..., M, K]` (`[..., K, M]` if transpose_a), `b: [..., K, N]`
    (`[..., N, K]` if transpose_b) -> `[..., M, N]`. Both ranks >= 2; the batch
    dimensions broadcast like `add` (so a rank-2 operand is shared by every batch).
  }];
  let arguments = (ins Graph_FloatTensor:$lhs, Graph_FloatTensor:$rhs,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_a,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_b);
  let results = (outs Graph_FloatTensor:$result);
}

//===----------------------------------------------------------------------===//
// Normalization, softmax, attention, loss
//===----------------------------------------------------------------------===//

def Graph_RmsNormOp : Graph_InferOp<"rmsnorm"> {
  let summary = "RMSNorm over the last axis, no weight: x · (mean(x²) + eps)^-1/2";
  let arguments = (ins Graph_FloatTensor:$input, DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_LayerNormOp : Graph_InferOp<"layernorm"> {
  let summary = "LayerNorm over the last axis: (x - mean) / sqrt(var + eps) · w + b";
  let description = [{ `x: [..., C]`, `w: [C]`, `b: [C]`; var is the biased (1/C) variance. }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$weight,
                       Graph_FloatTensor:$bias, DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_SoftmaxOp : Graph_InferOp<"softmax"> {
  let summary = "Softmax along `axis` (negative counts from the end)";
  let arguments = (ins Graph_FloatTensor:$input, DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_AttentionOp : Graph_InferOp<"attention"> {
  let summary = "Multi-head scaled dot-product attention on [B, T, C]";
  let description = [{
    q, k, v: `[B, T, C]` (same shape), `heads` divides C, head_dim = C / heads.
    Per batch b and head h: out = softmax(scale · q_h k_hᵀ + mask) v_h, where the
    causal mask allows key s <= query t. `scale` defaults to 1/sqrt(head_dim)
    (an absent or 0.0 attribute means the default).
  }];
  let arguments = (ins Graph_FloatTensor:$q, Graph_FloatTensor:$k, Graph_FloatTensor:$v,
                       I64Attr:$heads, DefaultValuedAttr<BoolAttr, "true">:$causal,
                       DefaultValuedAttr<F64Attr, "0.0">:$scale);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_CrossEntropyOp : Graph_InferOp<"cross_entropy"> {
  let summary = "Mean over all positions of -log softmax(logits)[target]";
  let description = [{
    `logits: [..., V]`, `targets: [...]` (i32, the leading shape of logits) ->
    rank-0 tensor of the logits' element type. A target outside [0, V) is a
    runtime error.

    `classes` (optional, set by spak-pad-vocab): only the first `classes`
    columns of the logits are classes; the columns after them are padding
    (the vocabulary rounded up to a multiple of law `pad_vocab`) and take no
    part in the softmax, and targets must lie in [0, classes).
  }];
  let arguments = (ins Graph_FloatTensor:$logits, Graph_IdTensor:$targets,
                       OptionalAttr<I64Attr>:$classes);
  let results = (outs Graph_FloatScalar:$result);
}

//===----------------------------------------------------------------------===//
// Shape manipulation and reductions
//===----------------------------------------------------------------------===//

def Graph_ReshapeOp : Graph_InferOp<"reshape"> {
  let summary = "Reshape (row-major); one -1 entry of `shape` is inferred";
  let arguments = (ins Graph_FloatTensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_TransposeOp : Graph_InferOp<"transpose"> {
  let summary = "Permute dimensions: out.shape[i] = in.shape[perm[i]]";
  let arguments = (ins Graph_FloatTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_SplitOp : Graph_InferOp<"split"> {
  let summary = "Split into `parts` equal pieces along `axis` (qkv split)";
  let arguments = (ins Graph_FloatTensor:$input, I64Attr:$parts,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Variadic<Graph_FloatTensor>:$results);
}

def Graph_ConcatOp : Graph_InferOp<"concat"> {
  let summary = "Concatenate equally shaped tensors along `axis` (inverse of split)";
  let arguments = (ins Variadic<Graph_FloatTensor>:$inputs,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_ReduceSumOp : Graph_InferOp<"reduce_sum"> {
  let summary = "Sum over `axes` (all axes when empty), optionally keeping them as size 1";
  let arguments = (ins Graph_FloatTensor:$input, DenseI64ArrayAttr:$axes,
                       DefaultValuedAttr<BoolAttr, "false">:$keepdims);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_BroadcastLikeOp : Graph_InferOp<"broadcast_like"> {
  let summary = "Broadcast `input` along `axes` to the shape of `like`";
  let description = [{
    `input` is `like`'s shape with `axes` removed (or kept with size 1); the
    result has `like`'s shape and `input`'s element type:
    out[i] = input[i with the `axes` coordinates dropped / zeroed]. The VJP of
    reduce_sum; `like` only provides the shape.
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$like,
                       DenseI64ArrayAttr:$axes);
  let results = (outs Graph_FloatTensor:$result);
}

include "spak/Dialect/Graph/GraphBackwardOps.td"
include "spak/Dialect/Graph/GraphOptimizerOps.td"
include "spak/Dialect/Graph/GraphFusionOps.td" // fused regions (owner: fusion; additive)

#endif // SPAK_GRAPH_OPS
