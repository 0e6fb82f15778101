// Verifier errors of the spak_graph ops: shapes, dtypes, arity, attributes.
// Each case reports the precise problem, then the generic shape-function failure.
// RUN: spak-opt %s --split-input-file --verify-diagnostics

func.func @embed_table_rank(%t: tensor<27xf32>, %ids: tensor<1x?xi32>) {
  // expected-error@+2 {{'spak_graph.embed' op table must be rank 2 [V, C], got 'tensor<27xf32>'}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.embed %t, %ids : (tensor<27xf32>, tensor<1x?xi32>) -> tensor<1x?x16xf32>
  return
}

// -----

func.func @embed_ids_dtype(%t: tensor<27x16xf32>, %ids: tensor<1x4xi64>) {
  // expected-error@+1 {{operand #1 must be ranked tensor of 32-bit signless integer values}}
  %0 = spak_graph.embed %t, %ids : (tensor<27x16xf32>, tensor<1x4xi64>) -> tensor<1x4x16xf32>
  return
}

// -----

func.func @embed_result_shape(%t: tensor<27x16xf32>, %ids: tensor<1x4xi32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'spak_graph.embed' op inferred type(s) 'tensor<1x4x16xf32>' are incompatible with return type(s) of operation 'tensor<1x4x8xf32>'}}
  %0 = spak_graph.embed %t, %ids : (tensor<27x16xf32>, tensor<1x4xi32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @add_broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error@+2 {{'spak_graph.add' op shapes [2, 3] and [4] do not broadcast (trailing dimension 0: 3 vs 4)}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @mul_dtype(%a: tensor<2x3xf32>, %b: tensor<2x3xf64>) {
  // expected-error@+2 {{'spak_graph.mul' op operands must have the same element type, got 'f32' and 'f64'}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.mul %a, %b : (tensor<2x3xf32>, tensor<2x3xf64>) -> tensor<2x3xf32>
  return
}

// -----

func.func @relu_int(%a: tensor<2x3xi32>) {
  // expected-error@+1 {{operand #0 must be ranked tensor of 32-bit float or 64-bit float values}}
  %0 = spak_graph.relu %a : (tensor<2x3xi32>) -> tensor<2x3xi32>
  return
}

// -----

func.func @linear_k(%x: tensor<2x5x16xf32>, %w: tensor<64x8xf32>) {
  // expected-error@+2 {{'spak_graph.linear' op input has K = 16 features but the weight [N, K] has K = 8}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.linear %x, %w : (tensor<2x5x16xf32>, tensor<64x8xf32>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<2x5x16xf32>, %w: tensor<64x16xf32>, %b: tensor<32xf32>) {
  // expected-error@+2 {{'spak_graph.linear' op bias has 32 elements but the weight has N = 64 rows}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.linear %x, %w, %b : (tensor<2x5x16xf32>, tensor<64x16xf32>, tensor<32xf32>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @matmul_k(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) {
  // expected-error@+2 {{'spak_graph.matmul' op contraction sizes differ: lhs gives K = 8, rhs gives K = 4}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.matmul %a, %b : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<8xf32>, %b: tensor<8x4xf32>) {
  // expected-error@+2 {{'spak_graph.matmul' op operands must have rank >= 2}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.matmul %a, %b : (tensor<8xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @rmsnorm_eps(%x: tensor<2x16xf32>) {
  // expected-error@+2 {{'spak_graph.rmsnorm' op eps must be positive and finite, got 0}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.rmsnorm %x {eps = 0.0 : f64} : (tensor<2x16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @layernorm_weight(%x: tensor<2x16xf32>, %w: tensor<8xf32>, %b: tensor<16xf32>) {
  // expected-error@+2 {{'spak_graph.layernorm' op weight has 8 elements but the input has 16 channels}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.layernorm %x, %w, %b : (tensor<2x16xf32>, tensor<8xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @attention_heads(%q: tensor<1x?x16xf32>) {
  // expected-error@+2 {{'spak_graph.attention' op channels 16 are not divisible by heads 3}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.attention %q, %q, %q {heads = 3 : i64} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  return
}

// -----

func.func @attention_rank(%q: tensor<?x16xf32>) {
  // expected-error@+2 {{'spak_graph.attention' op expects [B, T, C] operands, got 'tensor<?x16xf32>'}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.attention %q, %q, %q {heads = 4 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @attention_missing_heads(%q: tensor<1x?x16xf32>) {
  // expected-error@+1 {{requires attribute 'heads'}}
  %0 = spak_graph.attention %q, %q, %q : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  return
}

// -----

func.func @softmax_axis(%x: tensor<2x16xf32>) {
  // expected-error@+2 {{'spak_graph.softmax' op axis 2 is out of range for rank 2}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.softmax %x {axis = 2 : i64} : (tensor<2x16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @cross_entropy_targets(%l: tensor<1x5x27xf32>, %t: tensor<1x6xi32>) {
  // expected-error@+2 {{'spak_graph.cross_entropy' op logits (without classes) and targets must have the same shape: [1, 5] vs [1, 6] (dimension 1)}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.cross_entropy %l, %t : (tensor<1x5x27xf32>, tensor<1x6xi32>) -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_result(%l: tensor<1x5x27xf32>, %t: tensor<1x5xi32>) {
  // expected-error@+1 {{result #0 must be 0D tensor of 32-bit float or 64-bit float values}}
  %0 = spak_graph.cross_entropy %l, %t : (tensor<1x5x27xf32>, tensor<1x5xi32>) -> tensor<1xf32>
  return
}

// -----

func.func @reshape_two_inferred(%x: tensor<2x8xf32>) {
  // expected-error@+2 {{'spak_graph.reshape' op shape [-1, -1] has more than one -1}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.reshape %x {shape = array<i64: -1, -1>} : (tensor<2x8xf32>) -> tensor<4x4xf32>
  return
}

// -----

func.func @reshape_count(%x: tensor<2x8xf32>) {
  // expected-error@+2 {{'spak_graph.reshape' op cannot reshape [2, 8] (16 elements) to [3, 5] (15 elements)}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.reshape %x {shape = array<i64: 3, 5>} : (tensor<2x8xf32>) -> tensor<3x5xf32>
  return
}

// -----

func.func @transpose_perm(%x: tensor<2x8xf32>) {
  // expected-error@+2 {{'spak_graph.transpose' op perm [0, 0] is not a permutation of [0, 2)}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.transpose %x {perm = array<i64: 0, 0>} : (tensor<2x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @split_parts(%x: tensor<2x48xf32>) {
  // expected-error@+2 {{'spak_graph.split' op dimension 1 of size 48 is not divisible into 5 parts}}
  // expected-error@+1 {{failed to infer returned types}}
  %0:5 = spak_graph.split %x {parts = 5 : i64} : (tensor<2x48xf32>) -> (tensor<2x9xf32>, tensor<2x9xf32>, tensor<2x9xf32>, tensor<2x9xf32>, tensor<2x9xf32>)
  return
}

// -----

func.func @split_arity(%x: tensor<2x48xf32>) {
  // expected-error@+2 {{failed to infer returned types}}
  // expected-error@+1 {{'spak_graph.split' op inferred type(s) 'tensor<2x16xf32>', 'tensor<2x16xf32>', 'tensor<2x16xf32>' are incompatible with return type(s) of operation 'tensor<2x16xf32>', 'tensor<2x16xf32>'}}
  %0:2 = spak_graph.split %x {parts = 3 : i64} : (tensor<2x48xf32>) -> (tensor<2x16xf32>, tensor<2x16xf32>)
  return
}

// -----

func.func @reduce_axes(%x: tensor<2x8xf32>) {
  // expected-error@+2 {{'spak_graph.reduce_sum' op axis -1 is repeated}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.reduce_sum %x {axes = array<i64: 1, -1>} : (tensor<2x8xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @dropout_p(%x: tensor<2x8xf32>) {
  // expected-error@+2 {{'spak_graph.dropout' op p must be in [0, 1), got 1}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.dropout %x {p = 1.0 : f64} : (tensor<2x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @embed_grad_vocab(%dy: tensor<1x4x16xf32>, %ids: tensor<1x4xi32>) {
  // expected-error@+2 {{'spak_graph.embed_grad' op vocab must be positive, got 0}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.embed_grad %dy, %ids {vocab = 0 : i64} : (tensor<1x4x16xf32>, tensor<1x4xi32>) -> tensor<0x16xf32>
  return
}

// -----

func.func @layernorm_grad_arity(%dy: tensor<4x16xf32>, %x: tensor<4x16xf32>, %w: tensor<16xf32>) {
  // expected-error@+1 {{'spak_graph.layernorm_grad' op expected 3 results}}
  %0:2 = "spak_graph.layernorm_grad"(%dy, %x, %w) : (tensor<4x16xf32>, tensor<4x16xf32>, tensor<16xf32>) -> (tensor<4x16xf32>, tensor<16xf32>)
  return
}

// -----

func.func @adam_schedule(%p: tensor<4xf32>, %s: tensor<i32>) {
  // expected-error@+2 {{'spak_graph.adam' op schedule must be "constant", "linear_decay" or "cosine", got "step"}}
  // expected-error@+1 {{failed to infer returned types}}
  %0:3 = spak_graph.adam %p, %p, %p, %p, %s {lr = 0.01 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "step"} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<i32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @adam_beta(%p: tensor<4xf32>, %s: tensor<i32>) {
  // expected-error@+2 {{'spak_graph.adam' op beta1 and beta2 must be in [0, 1), got 1.000000e+00 and 9.900000e-01}}
  // expected-error@+1 {{failed to infer returned types}}
  %0:3 = spak_graph.adam %p, %p, %p, %p, %s {lr = 0.01 : f64, beta1 = 1.0 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<i32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @adam_cosine(%p: tensor<4xf32>, %s: tensor<i32>) {
  // expected-error@+2 {{'spak_graph.adam' op schedule "cosine" needs total_steps (100) > warmup (100)}}
  // expected-error@+1 {{failed to infer returned types}}
  %0:3 = spak_graph.adam %p, %p, %p, %p, %s {lr = 0.01 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "cosine", warmup = 100 : i64, total_steps = 100 : i64} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<i32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @adam_step_type(%p: tensor<4xf32>, %s: tensor<2x1xi32>) {
  // expected-error@+1 {{operand #4 must be 0D/1D tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0:3 = spak_graph.adam %p, %p, %p, %p, %s {lr = 0.01 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x1xi32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// A rank-1 step is the pair [step, total_steps]: exactly 2 elements.
func.func @adam_step_pair(%p: tensor<4xf32>, %s: tensor<3xi32>) {
  // expected-error@+2 {{'spak_graph.adam' op step must be the rank-0 counter or the pair [step, total_steps] (2 elements), got 'tensor<3xi32>'}}
  // expected-error@+1 {{failed to infer returned types}}
  %0:3 = spak_graph.adam %p, %p, %p, %p, %s {lr = 0.01 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<3xi32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @clip_empty() {
  // expected-error@+2 {{'spak_graph.clip_grad_norm' op needs at least one gradient}}
  // expected-error@+1 {{failed to infer returned types}}
  %0 = spak_graph.clip_grad_norm {max_norm = 1.0 : f64} : () -> tensor<f32>
  return
}

// -----

// expected-error@+1 {{#spak_graph.rule 'r': loc "fusion.dsl" is not of the form "file:line:col"}}
module attributes {spak.rules = [#spak_graph.rule<name = "r", apply = "fuse(a, b)", enabled = true, priority = 0, loc = "fusion.dsl">]} {
}
