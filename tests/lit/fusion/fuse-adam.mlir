// spak-fuse-adam: the adam ops of a step (same step, same hyper-parameters) → one region.
// RUN: spak-opt %s -split-input-file -spak-fuse-adam | FileCheck %s
// RUN: spak-opt %s -split-input-file -spak-fuse-adam="max-tensors=1" | FileCheck %s --check-prefix=ONE

// CHECK-LABEL: func.func @step(
// CHECK: %[[F:.*]]:6 = spak_graph.fused "multi_tensor_adam"(%arg0, %arg1, %arg2, %arg3, %arg8, %arg4, %arg5, %arg6, %arg7) {rule = "MultiTensor Adam", rule_loc = "rules/fusion.dsl:30:3"}
// CHECK-COUNT-2: spak_graph.adam
// CHECK: spak_graph.yield
// CHECK: return %[[F]]#0, %[[F]]#1, %[[F]]#2, %[[F]]#3, %[[F]]#4, %[[F]]#5
// ONE-LABEL: func.func @step(
// ONE-COUNT-2: spak_graph.fused "multi_tensor_adam"
module attributes {spak.rules = [#spak_graph.rule<name = "MultiTensor Adam", apply = "multi_tensor_update", enabled = true, priority = 50, loc = "rules/fusion.dsl:30:3">]} {
func.func @step(%p0: tensor<4x4xf32>, %g0: tensor<4x4xf32>, %m0: tensor<4x4xf32>, %v0: tensor<4x4xf32>,
                %p1: tensor<8xf32>, %g1: tensor<8xf32>, %m1: tensor<8xf32>, %v1: tensor<8xf32>, %s: tensor<i32>)
    -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %a:3 = spak_graph.adam %p0, %g0, %m0, %v0, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<i32>) -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>)
  %b:3 = spak_graph.adam %p1, %g1, %m1, %v1, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %a#0, %a#1, %a#2, %b#0, %b#1, %b#2 : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}
}

// -----

// Different hyper-parameters (weight decay): two regions.
// CHECK-LABEL: func.func @groups(
// CHECK-COUNT-2: spak_graph.fused "multi_tensor_adam"
module attributes {spak.rules = [#spak_graph.rule<name = "MultiTensor Adam", apply = "multi_tensor_update", enabled = true, priority = 50, loc = "rules/fusion.dsl:30:3">]} {
func.func @groups(%p: tensor<8xf32>, %s: tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %a:3 = spak_graph.adam %p, %p, %p, %p, %s {lr = 0.01 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, weight_decay = 0.1 : f64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  %b:3 = spak_graph.adam %p, %p, %p, %p, %s {lr = 0.01 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %a#0, %b#0 : tensor<8xf32>, tensor<8xf32>
}
}

// -----

// Rule disabled / absent: no fusion.
// CHECK-LABEL: func.func @disabled(
// CHECK-NOT: spak_graph.fused
module attributes {spak.rules = [#spak_graph.rule<name = "MultiTensor Adam", apply = "multi_tensor_update", enabled = false, priority = 50, loc = "rules/fusion.dsl:30:3">]} {
func.func @disabled(%p: tensor<8xf32>, %s: tensor<i32>) -> tensor<8xf32> {
  %a:3 = spak_graph.adam %p, %p, %p, %p, %s {lr = 0.01 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %a#0 : tensor<8xf32>
}
}

// -----

// CHECK-LABEL: func.func @absent(
// CHECK-NOT: spak_graph.fused
func.func @absent(%p: tensor<8xf32>, %s: tensor<i32>) -> tensor<8xf32> {
  %a:3 = spak_graph.adam %p, %p, %p, %p, %s {lr = 0.01 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %a#0 : tensor<8xf32>
}
