//===- GraphOptimizerOps.td - optimizer ops of spak_graph -----------------===//
//
// adam (Adam / AdamW with the learning-rate schedule folded in) and
// clip_grad_norm (global-norm gradient clipping), emitted by
// `spak-optimizer-step` into @train_step.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_GRAPH_OPTIMIZER_OPS
#define SPAK_GRAPH_OPTIMIZER_OPS

include "spak/Dialect/Graph/GraphBase.td"

def Graph_AdamOp : Graph_InferOp<"adam"> {
  let summary = "One Adam/AdamW update with bias correction and an lr schedule";
  let description = [{
    `step` is the 0-based step index s (rank 0), or the pair [s, N] (rank 1,
    2 elements): N is the schedule length read at run time (the trainer's
    --steps, microgpt.py's num_steps); N <= 0 selects the `total_steps`
    attribute, which is also the length for a rank-0 step. t = s + 1.
    Below, total_steps means that length. lr_s from `schedule`:
    - "constant": lr (after warmup)
    - "linear_decay": lr · (1 - s / total_steps)   (microgpt.py)
    - "cosine": min_lr + 0.5 (1 + cos(pi · r)) (lr - min_lr), r = (s - warmup) /
      (total_steps - warmup) clamped to [0, 1] (the span taken as 1 when
      total_steps <= warmup, possible only with a run-time N), and min_lr once
      s > total_steps   (nanoGPT get_lr)
    and for s < warmup every schedule uses lr · (s + 1) / (warmup + 1).
    Then: p ← p - lr_s · weight_decay · p (decoupled, AdamW; 0 for Adam);
    m ← β1 m + (1-β1) g; v ← β2 v + (1-β2) g²;
    p ← p - lr_s · (m / (1-β1ᵗ)) / (sqrt(v / (1-β2ᵗ)) + eps).
    Results: (p', m', v'), all with the parameter's type.
  }];
  let arguments = (ins Graph_FloatTensor:$param, Graph_FloatTensor:$grad,
                       Graph_FloatTensor:$m, Graph_FloatTensor:$v, Graph_StepOperand:$step,
                       F64Attr:$lr, F64Attr:$beta1, F64Attr:$beta2, F64Attr:$eps,
                       DefaultValuedAttr<F64Attr, "0.0">:$weight_decay,
                       DefaultValuedAttr<StrAttr, "\"constant\"">:$schedule,
                       DefaultValuedAttr<I64Attr, "0">:$warmup,
                       DefaultValuedAttr<F64Attr, "0.0">:$min_lr,
                       DefaultValuedAttr<I64Attr, "0">:$total_steps);
  let results = (outs Graph_FloatTensor:$new_param, Graph_FloatTensor:$new_m,
                      Graph_FloatTensor:$new_v);
}

def Graph_ClipGradNormOp : Graph_InferOp<"clip_grad_norm"> {
  let summary = "Scale all gradients by min(1, max_norm / (‖g‖ + 1e-6)), ‖g‖ the global L2 norm";
  let description = [{
    As torch.nn.utils.clip_grad_norm_. Results: the clipped gradients (same types)
    and the global norm before clipping (rank-0, element type of the first grad).
  }];
  let arguments = (ins Variadic<Graph_FloatTensor>:$grads, F64Attr:$max_norm);
  let results = (outs Variadic<Graph_FloatTensor>:$clipped, Graph_FloatScalar:$norm);
}

#endif // SPAK_GRAPH_OPTIMIZER_OPS
