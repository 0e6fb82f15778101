// Rule epilogue(gelu_grad) (FusionPasses.cpp, FusedRegions.cpp): gelu_grad(matmul(dy, w), x) → ONE kernel
// fused_matmul_gelu_grad: the k-loop reads w as [K, N] tiles (b, not b^T), the epilogue multiplies the accumulator
// by gelu'(x) (x loaded at the output tile) before the one store; dh = dy · w is never stored.
// RUN: spak-opt %s -spak-fusion -spak-graph-to-tile | FileCheck %s

// CHECK-LABEL: spak_tile.kernel @fused_matmul_gelu_grad_0(
// CHECK-SAME: grid = ["ceildiv(M, 64)", "ceildiv(N, 64)"]
// CHECK-SAME: math = "h[m, n] = sum_k dy[m, k] * w[k, n]; u = sqrt(2/pi) (x + 0.044715 x^3); dx = h (0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 0.134145 x^2))  (h not stored)  [fused by rule \22GELU Grad Epilogue\22 (rules/fusion.dsl:20:3)]"
// CHECK-SAME: spak.fusion = {kind = "matmul_gelu_grad", rule = "GELU Grad Epilogue", rule_loc = "rules/fusion.dsl:20:3"}
// CHECK: scf.for
// CHECK: spak_tile.load %arg1[%{{.*}}, %{{.*}}] stage 0 {{.*}} -> !spak_tile.tile<32x64xf32, smem>
// CHECK: spak_tile.mma %{{.*}}, %{{.*}}, %{{.*}} : !spak_tile.tile<64x32xf32, smem>, !spak_tile.tile<32x64xf32, smem> -> !spak_tile.tile<64x64xf32>
// CHECK-NOT: transpose_b
// CHECK: scf.yield
// CHECK: %[[X:.*]] = spak_tile.load %arg2
// CHECK: spak_tile.tanh
// CHECK: spak_tile.store %{{.*}}, %arg3
// CHECK-NOT: spak_tile.store
// CHECK-LABEL: func.func @mlp_backward(
// CHECK: spak_tile.launch @fused_matmul_gelu_grad_0
// CHECK-NOT: gelu_grad_
module attributes {spak.rules = [#spak_graph.rule<name = "GELU Grad Epilogue", apply = "epilogue(gelu_grad)", enabled = true, priority = 20, loc = "rules/fusion.dsl:20:3">]} {
func.func @mlp_backward(%dy: tensor<128x64xf32>, %w2: tensor<64x256xf32>, %pre: tensor<128x256xf32>) -> tensor<128x256xf32> {
  %h = spak_graph.matmul %dy, %w2 : (tensor<128x64xf32>, tensor<64x256xf32>) -> tensor<128x256xf32>
  %d = spak_graph.gelu_grad %h, %pre : (tensor<128x256xf32>, tensor<128x256xf32>) -> tensor<128x256xf32>
  return %d : tensor<128x256xf32>
}
}
