// spak-fuse-epilogues: linear (+bias) → gelu and linear → add(residual) become matmul epilogues.
// RUN: spak-opt %s -split-input-file -spak-fuse-epilogues | FileCheck %s

// CHECK-LABEL: func.func @mlp(
// CHECK: %[[G:.*]] = spak_graph.fused "linear_bias_gelu"(%arg0, %arg1, %arg2) {rule = "Bias GELU Epilogue", rule_loc = "rules/fusion.dsl:10:3"}
// CHECK: spak_graph.linear
// CHECK-NEXT: spak_graph.gelu
// CHECK-NEXT: spak_graph.yield
// CHECK: %[[R:.*]] = spak_graph.fused "linear_residual"(%[[G]], %arg3, %arg0) {rule = "Residual Epilogue", rule_loc = "rules/fusion.dsl:15:3"}
// CHECK: %[[L:.*]] = spak_graph.linear
// CHECK-NEXT: spak_graph.add %{{.*}}, %[[L]]
// CHECK: return %[[R]]
module attributes {spak.rules = [
  #spak_graph.rule<name = "Bias GELU Epilogue", apply = "epilogue(bias, gelu)", enabled = true, priority = 20, loc = "rules/fusion.dsl:10:3">,
  #spak_graph.rule<name = "Residual Epilogue", apply = "epilogue(residual)", enabled = true, priority = 20, loc = "rules/fusion.dsl:15:3">]} {
func.func @mlp(%x: tensor<4x16xf32>, %w1: tensor<64x16xf32>, %b1: tensor<64xf32>, %w2: tensor<16x64xf32>) -> tensor<4x16xf32> {
  %a = spak_graph.linear %x, %w1, %b1 : (tensor<4x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  %g = spak_graph.gelu %a : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %y = spak_graph.linear %g, %w2 : (tensor<4x64xf32>, tensor<16x64xf32>) -> tensor<4x16xf32>
  %o = spak_graph.add %x, %y : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %o : tensor<4x16xf32>
}
}

// -----

// The pre-activation is read elsewhere (gelu_grad): the region yields it too.
// CHECK-LABEL: func.func @keep_pre(
// CHECK: %[[F:.*]]:2 = spak_graph.fused "linear_bias_gelu"
// CHECK: spak_graph.yield %{{.*}}, %{{.*}} : tensor<4x64xf32>, tensor<4x64xf32>
// CHECK: spak_graph.gelu_grad %arg2, %[[F]]#1
// CHECK: return %[[F]]#0
module attributes {spak.rules = [#spak_graph.rule<name = "Bias GELU Epilogue", apply = "epilogue(bias, gelu)", enabled = true, priority = 20, loc = "rules/fusion.dsl:10:3">]} {
func.func @keep_pre(%x: tensor<4x16xf32>, %w1: tensor<64x16xf32>, %dy: tensor<4x64xf32>) -> (tensor<4x64xf32>, tensor<4x64xf32>) {
  %a = spak_graph.linear %x, %w1 : (tensor<4x16xf32>, tensor<64x16xf32>) -> tensor<4x64xf32>
  %g = spak_graph.gelu %a : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %d = spak_graph.gelu_grad %dy, %a : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  return %g, %d : tensor<4x64xf32>, tensor<4x64xf32>
}
}

// -----

// Residual rule disabled, gelu rule absent: nothing fuses.
// CHECK-LABEL: func.func @off(
// CHECK-NOT: spak_graph.fused
module attributes {spak.rules = [#spak_graph.rule<name = "Residual Epilogue", apply = "epilogue(residual)", enabled = false, priority = 20, loc = "rules/fusion.dsl:15:3">]} {
func.func @off(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  %y = spak_graph.linear %x, %w : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %g = spak_graph.gelu %y : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %o = spak_graph.add %g, %y : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %o : tensor<4x16xf32>
}
}

// -----

// A broadcasting add is not a residual epilogue (the residual must have the linear's type).
// CHECK-LABEL: func.func @broadcast(
// CHECK-NOT: spak_graph.fused
module attributes {spak.rules = [#spak_graph.rule<name = "Residual Epilogue", apply = "epilogue(residual)", enabled = true, priority = 20, loc = "rules/fusion.dsl:15:3">]} {
func.func @broadcast(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %y = spak_graph.linear %x, %w : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  %o = spak_graph.add %y, %b : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  return %o : tensor<4x16xf32>
}
}

// -----

// Rule epilogue(gelu_grad): the data gradient through the MLP's second linear (dh = dy · w2, w2 [16, 64] read as
// [K, N]) and gelu_grad of it become one region; the dh matmul's result is read by nothing else.
// CHECK-LABEL: func.func @gelu_grad(
// CHECK: %[[F:.*]] = spak_graph.fused "matmul_gelu_grad"(%arg0, %arg1, %arg2) {rule = "GELU Grad Epilogue", rule_loc = "rules/fusion.dsl:20:3"}
// CHECK: spak_graph.matmul
// CHECK-NEXT: spak_graph.gelu_grad
// CHECK-NEXT: spak_graph.yield
// CHECK: return %[[F]]
module attributes {spak.rules = [#spak_graph.rule<name = "GELU Grad Epilogue", apply = "epilogue(gelu_grad)", enabled = true, priority = 20, loc = "rules/fusion.dsl:20:3">]} {
func.func @gelu_grad(%dy: tensor<4x16xf32>, %w2: tensor<16x64xf32>, %pre: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %h = spak_graph.matmul %dy, %w2 : (tensor<4x16xf32>, tensor<16x64xf32>) -> tensor<4x64xf32>
  %d = spak_graph.gelu_grad %h, %pre : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  return %d : tensor<4x64xf32>
}
}

// -----

// Not fused: the matmul's result is also returned (it would have to be stored too), and a transposed matmul.
// CHECK-LABEL: func.func @gelu_grad_refused(
// CHECK-NOT: spak_graph.fused
// CHECK: return
module attributes {spak.rules = [#spak_graph.rule<name = "GELU Grad Epilogue", apply = "epilogue(gelu_grad)", enabled = true, priority = 20, loc = "rules/fusion.dsl:20:3">]} {
func.func @gelu_grad_refused(%dy: tensor<4x16xf32>, %w2: tensor<16x64xf32>, %pre: tensor<4x64xf32>, %wt: tensor<64x16xf32>) -> (tensor<4x64xf32>, tensor<4x64xf32>, tensor<4x64xf32>) {
  %h = spak_graph.matmul %dy, %w2 : (tensor<4x16xf32>, tensor<16x64xf32>) -> tensor<4x64xf32>
  %d = spak_graph.gelu_grad %h, %pre : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  %h2 = spak_graph.matmul %dy, %wt {transpose_b = true} : (tensor<4x16xf32>, tensor<64x16xf32>) -> tensor<4x64xf32>
  %d2 = spak_graph.gelu_grad %h2, %pre : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  return %d, %h, %d2 : tensor<4x64xf32>, tensor<4x64xf32>, tensor<4x64xf32>
}
}
