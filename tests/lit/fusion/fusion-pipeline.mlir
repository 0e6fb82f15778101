// spak-fusion runs the fusion passes in the order of their rules' priorities (lower first).
// A norm → linear → residual chain is claimed by whichever rule runs first.
// RUN: spak-opt %s -split-input-file -spak-fusion | FileCheck %s

// fusion.dsl's priorities: Fuse RMSNorm (10) before Residual Epilogue (20).
// CHECK-LABEL: func.func @norm_first(
// CHECK: spak_graph.fused "norm_linear"
// CHECK-NOT: linear_residual
// CHECK: spak_graph.add
module attributes {spak.rules = [
  #spak_graph.rule<name = "Residual Epilogue", apply = "epilogue(residual)", enabled = true, priority = 20, loc = "rules/fusion.dsl:15:3">,
  #spak_graph.rule<name = "Fuse RMSNorm", apply = "fuse_norm_into_linear", enabled = true, priority = 10, loc = "rules/fusion.dsl:4:3">]} {
func.func @norm_first(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  %h = spak_graph.rmsnorm %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = spak_graph.linear %h, %w : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %o = spak_graph.add %x, %y : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %o : tensor<4x16xf32>
}
}

// -----

// Priorities edited so the residual epilogue wins.
// CHECK-LABEL: func.func @residual_first(
// CHECK: spak_graph.rmsnorm
// CHECK: spak_graph.fused "linear_residual"
// CHECK-NOT: norm_linear
module attributes {spak.rules = [
  #spak_graph.rule<name = "Residual Epilogue", apply = "epilogue(residual)", enabled = true, priority = 5, loc = "rules/fusion.dsl:15:3">,
  #spak_graph.rule<name = "Fuse RMSNorm", apply = "fuse_norm_into_linear", enabled = true, priority = 10, loc = "rules/fusion.dsl:4:3">]} {
func.func @residual_first(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  %h = spak_graph.rmsnorm %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = spak_graph.linear %h, %w : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %o = spak_graph.add %x, %y : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %o : tensor<4x16xf32>
}
}

// -----

// No rules at all: nothing fuses, attention is marked for decomposition.
// CHECK-LABEL: func.func @no_rules(
// CHECK-NOT: spak_graph.fused
// CHECK: spak.unfused = "online_softmax"
func.func @no_rules(%x: tensor<1x8x16xf32>, %w: tensor<16x16xf32>) -> tensor<1x8x16xf32> {
  %h = spak_graph.rmsnorm %x : (tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  %y = spak_graph.linear %h, %w : (tensor<1x8x16xf32>, tensor<16x16xf32>) -> tensor<1x8x16xf32>
  %o = spak_graph.attention %y, %y, %y {heads = 4 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return %o : tensor<1x8x16xf32>
}
