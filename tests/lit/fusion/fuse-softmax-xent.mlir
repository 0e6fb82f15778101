// spak-fuse-softmax-xent: cross_entropy + cross_entropy_grad → one "softmax_xent" region.
// RUN: spak-opt %s -split-input-file -spak-fuse-softmax-xent | FileCheck %s

// CHECK-LABEL: func.func @loss(
// CHECK: %[[F:.*]]:2 = spak_graph.fused "softmax_xent"(%arg0, %arg1, %arg2) {rule = "Softmax CrossEntropy", rule_loc = "rules/fusion.dsl:20:3"}
// CHECK: %[[L:.*]] = spak_graph.cross_entropy
// CHECK-NEXT: %[[D:.*]] = spak_graph.cross_entropy_grad
// CHECK-NEXT: spak_graph.yield %[[L]], %[[D]]
// CHECK: return %[[F]]#0, %[[F]]#1
module attributes {spak.rules = [#spak_graph.rule<name = "Softmax CrossEntropy", apply = "fuse_softmax_xent", enabled = true, priority = 30, loc = "rules/fusion.dsl:20:3">]} {
func.func @loss(%logits: tensor<1x?x27xf32>, %t: tensor<1x?xi32>, %g: tensor<f32>) -> (tensor<f32>, tensor<1x?x27xf32>) {
  %l = spak_graph.cross_entropy %logits, %t : (tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<f32>
  %d = spak_graph.cross_entropy_grad %g, %logits, %t : (tensor<f32>, tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<1x?x27xf32>
  return %l, %d : tensor<f32>, tensor<1x?x27xf32>
}
}

// -----

// Forward only (no gradient in the function): nothing to fuse.
// CHECK-LABEL: func.func @forward_only(
// CHECK-NOT: spak_graph.fused
module attributes {spak.rules = [#spak_graph.rule<name = "Softmax CrossEntropy", apply = "fuse_softmax_xent", enabled = true, priority = 30, loc = "rules/fusion.dsl:20:3">]} {
func.func @forward_only(%logits: tensor<4x27xf32>, %t: tensor<4xi32>) -> tensor<f32> {
  %l = spak_graph.cross_entropy %logits, %t : (tensor<4x27xf32>, tensor<4xi32>) -> tensor<f32>
  return %l : tensor<f32>
}
}

// -----

// Rule disabled: no fusion.
// CHECK-LABEL: func.func @disabled(
// CHECK-NOT: spak_graph.fused
module attributes {spak.rules = [#spak_graph.rule<name = "Softmax CrossEntropy", apply = "fuse_softmax_xent", enabled = false, priority = 30, loc = "rules/fusion.dsl:20:3">]} {
func.func @disabled(%logits: tensor<4x27xf32>, %t: tensor<4xi32>, %g: tensor<f32>) -> (tensor<f32>, tensor<4x27xf32>) {
  %l = spak_graph.cross_entropy %logits, %t : (tensor<4x27xf32>, tensor<4xi32>) -> tensor<f32>
  %d = spak_graph.cross_entropy_grad %g, %logits, %t : (tensor<f32>, tensor<4x27xf32>, tensor<4xi32>) -> tensor<4x27xf32>
  return %l, %d : tensor<f32>, tensor<4x27xf32>
}
}

// -----

// Rule absent: no fusion.
// CHECK-LABEL: func.func @absent(
// CHECK-NOT: spak_graph.fused
func.func @absent(%logits: tensor<4x27xf32>, %t: tensor<4xi32>, %g: tensor<f32>) -> (tensor<f32>, tensor<4x27xf32>) {
  %l = spak_graph.cross_entropy %logits, %t : (tensor<4x27xf32>, tensor<4xi32>) -> tensor<f32>
  %d = spak_graph.cross_entropy_grad %g, %logits, %t : (tensor<f32>, tensor<4x27xf32>, tensor<4xi32>) -> tensor<4x27xf32>
  return %l, %d : tensor<f32>, tensor<4x27xf32>
}
