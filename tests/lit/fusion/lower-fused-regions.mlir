// Lowering of fused regions (FusedRegions.cpp): each region → ONE spak_tile.kernel + one launch,
// tagged with the rule; attention without the flash rule → scores / softmax / p·v kernels.
// RUN: spak-opt %s -spak-fusion -spak-graph-to-tile | FileCheck %s

// CHECK-LABEL: spak_tile.kernel @fused_linear_gelu_0(
// CHECK-SAME: spak.fusion = {kind = "linear_bias_gelu", rule = "Bias GELU Epilogue", rule_loc = "rules/fusion.dsl:10:3"}
// CHECK: spak_tile.mma
// CHECK: spak_tile.tanh
// CHECK: spak_tile.store
// CHECK-LABEL: spak_tile.kernel @fused_linear_residual_0(
// CHECK: spak_tile.mma
// CHECK: %[[RES:.*]] = spak_tile.load %arg2
// CHECK: spak_tile.add %{{.*}}, %[[RES]]
// CHECK-LABEL: func.func @mlp(
// CHECK-COUNT-2: spak_tile.launch @fused_linear_
// CHECK-NOT: spak_tile.launch

// softmax_xent: one program per row tile writes dlogits and its tile's loss sum into partials; a one-program
// kernel adds the partials in order (deterministic, no atomics).
// CHECK-LABEL: spak_tile.kernel @fused_softmax_xent_0(
// CHECK-SAME: %arg3: !spak_tile.buffer<?x1xf32>, %arg4: !spak_tile.buffer<?x27xf32>)
// CHECK-SAME: grid = ["ceildiv(rows, 4)"]
// CHECK-SAME: [fused by rule \22Softmax CrossEntropy\22 (rules/fusion.dsl:20:3)]
// CHECK: %[[TILE:.*]] = spak_tile.program_id 0
// CHECK: spak_tile.iota
// CHECK: spak_tile.store %{{.*}}, %arg4
// CHECK: %[[SUM:.*]] = spak_tile.reduce sum %{{.*}} axis 0
// CHECK: spak_tile.store %[[SUM]], %arg3[%[[TILE]], %{{.*}}] : !spak_tile.tile<1x1xf32>, !spak_tile.buffer<?x1xf32>
// CHECK-LABEL: spak_tile.kernel @fused_softmax_xent_sum_0(
// CHECK-SAME: %arg0: !spak_tile.buffer<?x1xf32>, %arg1: !spak_tile.buffer<?x27xf32>, %arg2: !spak_tile.buffer<1x1xf32>)
// CHECK-SAME: grid = ["1"], math = "loss = sum_i p[i] / rows
// CHECK-SAME: spak.fusion = {kind = "softmax_xent", rule = "Softmax CrossEntropy", rule_loc = "rules/fusion.dsl:20:3"}
// CHECK: scf.for
// CHECK: spak_tile.store %{{.*}}, %arg2
// CHECK-LABEL: func.func @loss(
// CHECK: %[[P:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x1xf32>
// CHECK: spak_tile.launch @fused_softmax_xent_0[%{{.*}}] (%{{.*}}, %{{.*}}, %{{.*}}, %[[P]], %{{.*}})
// CHECK: spak_tile.launch @fused_softmax_xent_sum_0[%{{.*}}] (%[[P]],
// CHECK-NOT: spak_tile.launch

// CHECK-LABEL: spak_tile.kernel @fused_multi_tensor_adam_0(
// CHECK-SAME: math = "for each of 2 tensors: lr_s = 0.01 (1 - step / 1000)
// CHECK: spak_tile.extract
// CHECK-COUNT-6: spak_tile.store
// CHECK-LABEL: func.func @step(
// CHECK: spak_tile.launch @fused_multi_tensor_adam_0
// CHECK-NOT: spak_tile.launch

// The step pair [step, total_steps]: the schedule's length is read on device (<= 0: the attribute).
// CHECK-LABEL: spak_tile.kernel @fused_multi_tensor_adam_1(
// CHECK-SAME: %{{.*}}: !spak_tile.buffer<2xi32>,
// CHECK-SAME: math = "for each of 2 tensors: lr_s = 0.01 (1 - step / N){{.*}}; N = step[1] on device (<= 0: 1000)
// CHECK: %[[ST:.*]] = spak_tile.load %arg0[%{{.*}}] : !spak_tile.buffer<2xi32> -> !spak_tile.tile<2xi32>
// CHECK: spak_tile.extract %[[ST]][0] : !spak_tile.tile<2xi32> -> i32
// CHECK: %[[N:.*]] = spak_tile.extract %[[ST]][1] : !spak_tile.tile<2xi32> -> i32
// CHECK: %[[NF:.*]] = arith.sitofp %[[N]] : i32 to f32
// CHECK: %[[NT:.*]] = spak_tile.broadcast %[[NF]] : f32 -> !spak_tile.tile<1xf32>
// CHECK: %[[POS:.*]] = spak_tile.cmp gt, %[[NT]], %{{.*}} : !spak_tile.tile<1xf32>
// CHECK: %[[TOT:.*]] = spak_tile.select %[[POS]], %[[NT]], %{{.*}} : !spak_tile.tile<1xi1>, !spak_tile.tile<1xf32>
// CHECK: spak_tile.div %{{.*}}, %[[TOT]] : !spak_tile.tile<1xf32>
// CHECK-COUNT-6: spak_tile.store
// CHECK-LABEL: func.func @step_pair(
// CHECK-SAME: !spak_tile.buffer<2xi32>
// CHECK: spak_tile.launch @fused_multi_tensor_adam_1
// CHECK-NOT: spak_tile.launch

// CHECK-LABEL: spak_tile.kernel @attention_scores_0(
// CHECK: spak_tile.mask causal
// CHECK: spak_tile.kernel @attention_softmax_0(
// CHECK: spak_tile.kernel @attention_pv_0(
// CHECK-LABEL: func.func @attn(
// CHECK: spak_tile.alloc() : !spak_tile.buffer<4x8x8xf32>
// CHECK: spak_tile.launch @attention_scores_0
// CHECK: spak_tile.launch @attention_softmax_0
// CHECK: spak_tile.launch @attention_pv_0
module attributes {spak.rules = [
  #spak_graph.rule<name = "Bias GELU Epilogue", apply = "epilogue(bias, gelu)", enabled = true, priority = 20, loc = "rules/fusion.dsl:10:3">,
  #spak_graph.rule<name = "Residual Epilogue", apply = "epilogue(residual)", enabled = true, priority = 20, loc = "rules/fusion.dsl:15:3">,
  #spak_graph.rule<name = "Softmax CrossEntropy", apply = "fuse_softmax_xent", enabled = true, priority = 30, loc = "rules/fusion.dsl:20:3">,
  #spak_graph.rule<name = "MultiTensor Adam", apply = "multi_tensor_update", enabled = true, priority = 50, loc = "rules/fusion.dsl:30:3">]} {
func.func @mlp(%x: tensor<4x16xf32>, %w1: tensor<64x16xf32>, %b1: tensor<64xf32>, %w2: tensor<16x64xf32>) -> tensor<4x16xf32> {
  %a = spak_graph.linear %x, %w1, %b1 : (tensor<4x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  %g = spak_graph.gelu %a : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %y = spak_graph.linear %g, %w2 : (tensor<4x64xf32>, tensor<16x64xf32>) -> tensor<4x16xf32>
  %o = spak_graph.add %x, %y : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %o : tensor<4x16xf32>
}
func.func @loss(%logits: tensor<1x?x27xf32>, %t: tensor<1x?xi32>, %g: tensor<f32>) -> (tensor<f32>, tensor<1x?x27xf32>) {
  %l = spak_graph.cross_entropy %logits, %t : (tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<f32>
  %d = spak_graph.cross_entropy_grad %g, %logits, %t : (tensor<f32>, tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<1x?x27xf32>
  return %l, %d : tensor<f32>, tensor<1x?x27xf32>
}
func.func @step(%p0: tensor<4x4xf32>, %g0: tensor<4x4xf32>, %m0: tensor<4x4xf32>, %v0: tensor<4x4xf32>,
                %p1: tensor<8xf32>, %g1: tensor<8xf32>, %m1: tensor<8xf32>, %v1: tensor<8xf32>, %s: tensor<i32>)
    -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %a:3 = spak_graph.adam %p0, %g0, %m0, %v0, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "linear_decay", total_steps = 1000 : i64} : (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<i32>) -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>)
  %b:3 = spak_graph.adam %p1, %g1, %m1, %v1, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "linear_decay", total_steps = 1000 : i64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %a#0, %a#1, %a#2, %b#0, %b#1, %b#2 : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}
func.func @step_pair(%p0: tensor<4x4xf32>, %g0: tensor<4x4xf32>, %m0: tensor<4x4xf32>, %v0: tensor<4x4xf32>,
                     %p1: tensor<8xf32>, %g1: tensor<8xf32>, %m1: tensor<8xf32>, %v1: tensor<8xf32>, %s: tensor<2xi32>)
    -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %a:3 = spak_graph.adam %p0, %g0, %m0, %v0, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "linear_decay", total_steps = 1000 : i64} : (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2xi32>) -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>)
  %b:3 = spak_graph.adam %p1, %g1, %m1, %v1, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "linear_decay", total_steps = 1000 : i64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2xi32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %a#0, %a#1, %a#2, %b#0, %b#1, %b#2 : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}
func.func @attn(%q: tensor<1x8x16xf32>) -> tensor<1x8x16xf32> {
  %o = spak_graph.attention %q, %q, %q {heads = 4 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return %o : tensor<1x8x16xf32>
}
}
