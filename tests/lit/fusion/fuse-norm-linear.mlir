// spak-fuse-norm-linear: rmsnorm feeding linears → one "norm_linear" region per output width.
// RUN: spak-opt %s -split-input-file -spak-fuse-norm-linear | FileCheck %s
// RUN: spak-opt %s -split-input-file -spak-fuse-norm-linear="share-prologue=false" | FileCheck %s --check-prefix=DUP

// MicroGPT's q, k, v: one region, the norm computed once (rule enabled).
// CHECK-LABEL: func.func @qkv(
// CHECK: %[[R:.*]]:3 = spak_graph.fused "norm_linear"(%arg0, %arg1, %arg2, %arg3) {rule = "Fuse RMSNorm", rule_loc = "rules/fusion.dsl:4:3"}
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<1x?x16xf32>, %[[WQ:.*]]: tensor<16x16xf32>, %[[WK:.*]]: tensor<16x16xf32>, %[[WV:.*]]: tensor<16x16xf32>):
// CHECK-NEXT: %[[N:.*]] = spak_graph.rmsnorm %[[X]]
// CHECK-NEXT: %[[Q:.*]] = spak_graph.linear %[[N]], %[[WQ]]
// CHECK-NEXT: %[[K:.*]] = spak_graph.linear %[[N]], %[[WK]]
// CHECK-NEXT: %[[V:.*]] = spak_graph.linear %[[N]], %[[WV]]
// CHECK-NEXT: spak_graph.yield %[[Q]], %[[K]], %[[V]]
// CHECK-NOT: spak_graph.rmsnorm
// CHECK: return %[[R]]#0, %[[R]]#1, %[[R]]#2
// With share-prologue=false: one region per linear, the norm duplicated.
// DUP-LABEL: func.func @qkv(
// DUP-COUNT-3: spak_graph.fused "norm_linear"
// DUP-NOT: spak_graph.fused
module attributes {spak.rules = [#spak_graph.rule<name = "Fuse RMSNorm", apply = "fuse_norm_into_linear", enabled = true, priority = 10, loc = "rules/fusion.dsl:4:3">]} {
func.func @qkv(%x: tensor<1x?x16xf32>, %wq: tensor<16x16xf32>, %wk: tensor<16x16xf32>, %wv: tensor<16x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) {
  %h = spak_graph.rmsnorm %x {eps = 1.0e-5 : f64} : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %q = spak_graph.linear %h, %wq : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
  %k = spak_graph.linear %h, %wk : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
  %v = spak_graph.linear %h, %wv : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
  return %q, %k, %v : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>
}
}

// -----

// Two output widths (fc1 64-wide, a 16-wide linear) → two regions; the norm stays because
// relu reads it too (its copy in each region is the prologue).
// DUP-LABEL: func.func @widths(
// CHECK-LABEL: func.func @widths(
// CHECK: %[[N:.*]] = spak_graph.rmsnorm %arg0
// CHECK: spak_graph.fused "norm_linear"(%arg0, %arg1)
// CHECK: -> tensor<4x64xf32>
// CHECK: spak_graph.fused "norm_linear"(%arg0, %arg2, %arg3)
// CHECK: spak_graph.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<4x16xf32>, tensor<16x16xf32>, tensor<16xf32>)
// CHECK: spak_graph.relu %[[N]]
module attributes {spak.rules = [#spak_graph.rule<name = "Fuse RMSNorm", apply = "fuse(rmsnorm, linear)", enabled = true, priority = 10, loc = "rules/fusion.dsl:4:3">]} {
func.func @widths(%x: tensor<4x16xf32>, %w1: tensor<64x16xf32>, %w2: tensor<16x16xf32>, %b2: tensor<16xf32>) -> (tensor<4x64xf32>, tensor<4x16xf32>, tensor<4x16xf32>) {
  %h = spak_graph.rmsnorm %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %a = spak_graph.linear %h, %w1 : (tensor<4x16xf32>, tensor<64x16xf32>) -> tensor<4x64xf32>
  %b = spak_graph.linear %h, %w2, %b2 : (tensor<4x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %r = spak_graph.relu %h : (tensor<4x16xf32>) -> tensor<4x16xf32>
  return %a, %b, %r : tensor<4x64xf32>, tensor<4x16xf32>, tensor<4x16xf32>
}
}

// -----

// Rule disabled (`enabled: false`): no fusion.
// CHECK-LABEL: func.func @disabled(
// CHECK-NOT: spak_graph.fused
// CHECK: spak_graph.rmsnorm
// CHECK: spak_graph.linear
module attributes {spak.rules = [#spak_graph.rule<name = "Fuse RMSNorm", apply = "fuse_norm_into_linear", enabled = false, priority = 10, loc = "rules/fusion.dsl:4:3">]} {
func.func @disabled(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  %h = spak_graph.rmsnorm %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = spak_graph.linear %h, %w : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}
}

// -----

// Rule absent (no spak.rules, or no rule with this apply): no fusion.
// CHECK-LABEL: func.func @absent(
// CHECK-NOT: spak_graph.fused
// CHECK: spak_graph.rmsnorm
func.func @absent(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  %h = spak_graph.rmsnorm %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = spak_graph.linear %h, %w : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}
