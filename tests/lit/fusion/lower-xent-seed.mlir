// softmax_xent with autodiff's constant seed (dloss = 1): the constant is folded into the fused kernel, so the
// step has no fill kernel and no seed buffer. A constant that something else also reads keeps its fill kernel
// (the fused kernel still folds the value).
// RUN: spak-opt %s -spak-fusion -spak-graph-to-tile | FileCheck %s

// CHECK-NOT: spak_tile.kernel @fill_
// CHECK-LABEL: spak_tile.kernel @fused_softmax_xent_0(
// CHECK-SAME: %arg0: !spak_tile.buffer<?x27xf32>, %arg1: !spak_tile.buffer<?x1xi32>, %arg2: !spak_tile.buffer<?x1xf32>, %arg3: !spak_tile.buffer<?x27xf32>)
// CHECK-SAME: dx[r, c] = 1 * (exp(x[r, c] - m[r]) / l[r] - [c == t[r]]) / rows
// CHECK-SAME: g = 1 folded (constant seed) [fused by rule \22Softmax CrossEntropy\22 (rules/fusion.dsl:20:3)]
// CHECK-NOT: spak_tile.load %arg2
// CHECK: spak_tile.store %{{.*}}, %arg3
// CHECK: spak_tile.store %{{.*}}, %arg2
// CHECK-LABEL: func.func @seed(
// CHECK: spak_tile.launch @fused_softmax_xent_0[
// CHECK: spak_tile.launch @fused_softmax_xent_sum_0[
// CHECK-NOT: spak_tile.launch

// CHECK-LABEL: spak_tile.kernel @fill_0(
// CHECK-LABEL: spak_tile.kernel @fused_softmax_xent_1(
// CHECK-SAME: %arg2: !spak_tile.buffer<?x1xf32>, %arg3: !spak_tile.buffer<?x27xf32>)
// CHECK-SAME: g = 1 folded (constant seed)
// CHECK-LABEL: func.func @seed_also_returned(
// CHECK: spak_tile.launch @fill_0
// CHECK: spak_tile.launch @fused_softmax_xent_1
// CHECK: spak_tile.launch @fused_softmax_xent_sum_1
// CHECK-NOT: spak_tile.launch
module attributes {spak.rules = [
  #spak_graph.rule<name = "Softmax CrossEntropy", apply = "fuse_softmax_xent", enabled = true, priority = 30, loc = "rules/fusion.dsl:20:3">]} {
func.func @seed(%logits: tensor<1x?x27xf32>, %t: tensor<1x?xi32>) -> (tensor<f32>, tensor<1x?x27xf32>) {
  %g = arith.constant dense<1.000000e+00> : tensor<f32>
  %l = spak_graph.cross_entropy %logits, %t : (tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<f32>
  %d = spak_graph.cross_entropy_grad %g, %logits, %t : (tensor<f32>, tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<1x?x27xf32>
  return %l, %d : tensor<f32>, tensor<1x?x27xf32>
}
func.func @seed_also_returned(%logits: tensor<1x?x27xf32>, %t: tensor<1x?xi32>) -> (tensor<f32>, tensor<1x?x27xf32>, tensor<f32>) {
  %g = arith.constant dense<1.000000e+00> : tensor<f32>
  %l = spak_graph.cross_entropy %logits, %t : (tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<f32>
  %d = spak_graph.cross_entropy_grad %g, %logits, %t : (tensor<f32>, tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<1x?x27xf32>
  return %l, %d, %g : tensor<f32>, tensor<1x?x27xf32>, tensor<f32>
}
}
