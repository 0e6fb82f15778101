// spak-autodiff: @backward = (loss, gradient per spak.param argument) built from per-op VJPs.
// RUN: spak-opt %s --split-input-file --verify-diagnostics --spak-autodiff | FileCheck %s

// Tied weights (wte is the embedding and the lm_head), a fused qkv projection split in four with one part unused,
// attention, cross-entropy.
// CHECK-LABEL: func.func @backward
// CHECK-SAME: (%[[WTE:.*]]: tensor<27x16xf32> {spak.param = "wte"}, %[[W:.*]]: tensor<64x16xf32> {spak.param = "fc"}, %[[B:.*]]: tensor<64xf32> {spak.param = "b"}, %[[TOK:.*]]: tensor<1x?xi32> {spak.input = "tokens"}, %[[TGT:.*]]: tensor<1x?xi32> {spak.input = "targets"})
// CHECK-SAME: -> (tensor<f32> {spak.loss}, tensor<27x16xf32> {spak.grad_of = "wte"}, tensor<64x16xf32> {spak.grad_of = "fc"}, tensor<64xf32> {spak.grad_of = "b"})
// CHECK-SAME: attributes {spak.backward}
// CHECK: %[[LOGITS:.*]] = spak_graph.linear %{{.*}}, %[[WTE]]
// CHECK: %[[LOSS:.*]] = spak_graph.cross_entropy %[[LOGITS]], %[[TGT]]
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DLOGITS:.*]] = spak_graph.cross_entropy_grad %[[ONE]], %[[LOGITS]], %[[TGT]]
// CHECK: %[[DA:.*]] = spak_graph.matmul %[[DLOGITS]], %[[WTE]] :
// CHECK: %[[DHEAD:.*]] = spak_graph.matmul %{{.*}}, %{{.*}} {transpose_a = true} : (tensor<?x27xf32>, tensor<?x16xf32>) -> tensor<27x16xf32>
// CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]] = spak_graph.attention_grad %[[DA]], {{.*}} {heads = 4 : i64}
// CHECK: %[[Z:.*]] = spak_graph.zeros_like
// CHECK: %[[DH:.*]] = spak_graph.concat %[[DQ]], %[[DK]], %[[DV]], %[[Z]]
// CHECK: %[[DX:.*]] = spak_graph.matmul %[[DH]], %[[W]]
// CHECK: %[[DW:.*]] = spak_graph.matmul %{{.*}}, %{{.*}} {transpose_a = true} : (tensor<?x64xf32>, tensor<?x16xf32>) -> tensor<64x16xf32>
// CHECK: %[[DB:.*]] = spak_graph.reduce_sum %[[DH]] {axes = array<i64: 0, 1>}
// CHECK: %[[DEMB:.*]] = spak_graph.embed_grad %[[DX]], %[[TOK]] {vocab = 27 : i64}
// CHECK: %[[DWTE:.*]] = spak_graph.add %[[DHEAD]], %[[DEMB]]
// CHECK: return %[[LOSS]], %[[DWTE]], %[[DW]], %[[DB]]
func.func @forward(%wte: tensor<27x16xf32> {spak.param = "wte"}, %w: tensor<64x16xf32> {spak.param = "fc"},
                   %b: tensor<64xf32> {spak.param = "b"}, %tok: tensor<1x?xi32> {spak.input = "tokens"},
                   %tgt: tensor<1x?xi32> {spak.input = "targets"}) -> (tensor<f32>, tensor<1x?x27xf32>) attributes {spak.forward} {
  %e = spak_graph.embed %wte, %tok : (tensor<27x16xf32>, tensor<1x?xi32>) -> tensor<1x?x16xf32>
  %h = spak_graph.linear %e, %w, %b : (tensor<1x?x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<1x?x64xf32>
  %s:4 = spak_graph.split %h {parts = 4 : i64} : (tensor<1x?x64xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>)
  %a = spak_graph.attention %s#0, %s#1, %s#2 {heads = 4 : i64} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %l = spak_graph.linear %a, %wte : (tensor<1x?x16xf32>, tensor<27x16xf32>) -> tensor<1x?x27xf32>
  %loss = spak_graph.cross_entropy %l, %tgt : (tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<f32>
  return %loss, %l : tensor<f32>, tensor<1x?x27xf32>
}

// -----

// Norms, activations, broadcasting: the [T, C] position embedding added to [1, T, C] gets its gradient summed over
// the leading axis; layernorm yields (dx, dw, db); gelu/relu/rmsnorm use their _grad ops; an unused parameter
// gets zeros. The function is found by name (no spak.forward attribute).
// CHECK-LABEL: func.func @backward
// CHECK-SAME: -> (tensor<f32> {spak.loss}, tensor<16x8xf32> {spak.grad_of = "wpe"}, tensor<8xf32> {spak.grad_of = "ln.w"}, tensor<8xf32> {spak.grad_of = "ln.b"}, tensor<3x3xf32> {spak.grad_of = "unused"})
// CHECK-NOT: spak.backward = {{.*}}
// CHECK: spak_graph.gelu_grad
// CHECK: spak_graph.relu_grad
// CHECK: %[[DX:.*]], %[[DW:.*]], %[[DB:.*]] = spak_graph.layernorm_grad
// CHECK: %[[DN:.*]] = spak_graph.rmsnorm_grad %[[DX]], %{{.*}} {eps = 1.000000e-03 : f64}
// CHECK: %[[DPE:.*]] = spak_graph.reduce_sum %[[DN]] {axes = array<i64: 0>} : (tensor<2x?x8xf32>) -> tensor<?x8xf32>
// CHECK: %[[DWPE:.*]] = spak_graph.embed_grad %[[DPE]], %{{.*}} {vocab = 16 : i64}
// CHECK: %[[ZERO:.*]] = spak_graph.zeros_like %{{.*}} : (tensor<3x3xf32>) -> tensor<3x3xf32>
// CHECK: return %{{.*}}, %[[DWPE]], %[[DW]], %[[DB]], %[[ZERO]]
func.func @forward(%x: tensor<2x?x8xf32> {spak.input = "x"}, %wpe: tensor<16x8xf32> {spak.param = "wpe"},
                   %lnw: tensor<8xf32> {spak.param = "ln.w"}, %lnb: tensor<8xf32> {spak.param = "ln.b"},
                   %unused: tensor<3x3xf32> {spak.param = "unused"}, %tok: tensor<2x?xi32> {spak.input = "tokens"}) -> tensor<f32> {
  %p = spak_graph.positions %tok : (tensor<2x?xi32>) -> tensor<?xi32>
  %pe = spak_graph.embed %wpe, %p : (tensor<16x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  %0 = spak_graph.add %x, %pe : (tensor<2x?x8xf32>, tensor<?x8xf32>) -> tensor<2x?x8xf32>
  %1 = spak_graph.rmsnorm %0 {eps = 1.0e-3 : f64} : (tensor<2x?x8xf32>) -> tensor<2x?x8xf32>
  %2 = spak_graph.layernorm %1, %lnw, %lnb : (tensor<2x?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x?x8xf32>
  %3 = spak_graph.relu %2 : (tensor<2x?x8xf32>) -> tensor<2x?x8xf32>
  %4 = spak_graph.gelu %3 : (tensor<2x?x8xf32>) -> tensor<2x?x8xf32>
  %5 = spak_graph.reduce_sum %4 {axes = array<i64>} : (tensor<2x?x8xf32>) -> tensor<f32>
  return %5 : tensor<f32>
}

// -----

// expected-error@+1 {{spak-autodiff: no function marked spak.forward and no @forward}}
module {
  func.func @model(%x: tensor<f32>) -> tensor<f32> {
    return %x : tensor<f32>
  }
}

// -----

// expected-error@+1 {{spak-autodiff: the first result of the forward function must be the rank-0 float loss}}
func.func @forward(%w: tensor<4xf32> {spak.param = "w"}) -> tensor<4xf32> attributes {spak.forward} {
  %0 = spak_graph.relu %w : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @forward(%w: tensor<4xf32> {spak.param = "w"}, %x: tensor<4xf32>) -> tensor<f32> attributes {spak.forward} {
  // expected-error@+1 {{autodiff: no vector-Jacobian product for this op, and it lies on the path from a parameter to the loss}}
  %0 = spak_graph.relu_grad %x, %w : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = spak_graph.reduce_sum %0 {axes = array<i64>} : (tensor<4xf32>) -> tensor<f32>
  return %1 : tensor<f32>
}

// -----

func.func @forward(%w: tensor<4xf32> {spak.param = "w"}) -> tensor<f32> attributes {spak.forward} {
  %0 = spak_graph.reduce_sum %w {axes = array<i64>} : (tensor<4xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}
// expected-error@+1 {{spak-autodiff: @backward already exists}}
func.func @backward() {
  return
}
