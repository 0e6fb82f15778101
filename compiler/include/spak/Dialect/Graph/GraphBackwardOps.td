//===- GraphBackwardOps.td - backward (VJP) ops of spak_graph -------------===//
//
// The ops `spak-autodiff` emits for the vector-Jacobian products that are not
// just forward ops (those reuse add/matmul/reduce_sum/...). Each has explicit
// semantics so that fusion and lowering can target it directly.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_GRAPH_BACKWARD_OPS
#define SPAK_GRAPH_BACKWARD_OPS

include "spak/Dialect/Graph/GraphBase.td"

def Graph_ReluGradOp : Graph_InferOp<"relu_grad"> {
  let summary = "dx = dy · [x > 0]";
  let arguments = (ins Graph_FloatTensor:$grad, Graph_FloatTensor:$input);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_GeluGradOp : Graph_InferOp<"gelu_grad"> {
  let summary = "dx = dy · gelu'(x) (tanh approximation)";
  let description = [{
    With u = sqrt(2/pi)(x + 0.044715 x³): gelu'(x) = 0.5 (1 + tanh u)
    + 0.5 x (1 - tanh² u) sqrt(2/pi) (1 + 3 · 0.044715 x²).
  }];
  let arguments = (ins Graph_FloatTensor:$grad, Graph_FloatTensor:$input);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_RmsNormGradOp : Graph_InferOp<"rmsnorm_grad"> {
  let summary = "dx of y = x · r, r = (mean(x²) + eps)^-1/2 over the last axis";
  let description = [{ dx = r · dy - x · r³ · mean(dy · x) (per row). }];
  let arguments = (ins Graph_FloatTensor:$grad, Graph_FloatTensor:$input,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_LayerNormGradOp : Graph_InferOp<"layernorm_grad"> {
  let summary = "(dx, dw, db) of layernorm(x, w, b)";
  let description = [{
    With xhat = (x - mean) r, r = (var + eps)^-1/2, g = dy · w:
    dx = r (g - mean(g) - xhat · mean(g · xhat)); dw = Σ_rows dy · xhat; db = Σ_rows dy.
  }];
  let arguments = (ins Graph_FloatTensor:$grad, Graph_FloatTensor:$input,
                       Graph_FloatTensor:$weight, DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs Graph_FloatTensor:$grad_input, Graph_FloatTensor:$grad_weight,
                      Graph_FloatTensor:$grad_bias);
}

def Graph_SoftmaxGradOp : Graph_InferOp<"softmax_grad"> {
  let summary = "dx = y · (dy - Σ_axis dy · y), y the softmax output";
  let arguments = (ins Graph_FloatTensor:$grad, Graph_FloatTensor:$output,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_AttentionGradOp : Graph_InferOp<"attention_grad"> {
  let summary = "(dq, dk, dv) of attention(q, k, v), recomputing the probabilities";
  let description = [{
    Per batch and head with P = softmax(scale · q kᵀ + mask):
    dv = Pᵀ dO; dP = dO vᵀ; dS = P · (dP - rowsum(dP · P)); dq = scale · dS k;
    dk = scale · dSᵀ q. Attributes as `attention`.
  }];
  let arguments = (ins Graph_FloatTensor:$grad, Graph_FloatTensor:$q, Graph_FloatTensor:$k,
                       Graph_FloatTensor:$v, I64Attr:$heads,
                       DefaultValuedAttr<BoolAttr, "true">:$causal,
                       DefaultValuedAttr<F64Attr, "0.0">:$scale);
  let results = (outs Graph_FloatTensor:$grad_q, Graph_FloatTensor:$grad_k,
                      Graph_FloatTensor:$grad_v);
}

def Graph_CrossEntropyGradOp : Graph_InferOp<"cross_entropy_grad"> {
  let summary = "dlogits = dloss · (softmax(logits) - onehot(targets)) / N";
  let description = [{
    N is the number of positions (product of the targets' shape). With
    `classes` (as on cross_entropy) the softmax runs over the first `classes`
    columns and the padding columns after them get dlogits = 0.
  }];
  let arguments = (ins Graph_FloatScalar:$grad, Graph_FloatTensor:$logits,
                       Graph_IdTensor:$targets, OptionalAttr<I64Attr>:$classes);
  let results = (outs Graph_FloatTensor:$result);
}

def Graph_EmbedGradOp : Graph_InferOp<"embed_grad"> {
  let summary = "Scatter-add: dtable[ids[...], c] += dy[..., c], dtable: [vocab, C]";
  let arguments = (ins Graph_FloatTensor:$grad, Graph_IdTensor:$ids, I64Attr:$vocab);
  let results = (outs Graph_FloatTensor:$result);
}

#endif // SPAK_GRAPH_BACKWARD_OPS
