// norm_linear → one kernel: the row scale once per row tile, applied to each A tile as loaded,
// one A tile feeding the mma of every linear (q, k, v).
// RUN: spak-opt %s -spak-fusion -spak-graph-to-tile | FileCheck %s
// CHECK-LABEL: spak_tile.kernel @fused_norm_linear_0(
// CHECK-SAME: math = "r[m] = rsqrt(mean_k x[m, k]^2 + 1e-05); y0[m, n] = sum_k x[m, k] * r[m] * w0[n, k]; y1[m, n] = sum_k x[m, k] * r[m] * w1[n, k]; y2
// CHECK-SAME: [fused by rule \22Fuse RMSNorm\22 (rules/fusion.dsl:4:3)]
// CHECK-SAME: spak.fusion = {kind = "norm_linear", rule = "Fuse RMSNorm", rule_loc = "rules/fusion.dsl:4:3"}
// CHECK: %[[SS:.*]] = scf.for {{.*}} -> (!spak_tile.tile<64x1xf32>)
// CHECK: spak_tile.reduce sum
// CHECK: %[[R:.*]] = spak_tile.rsqrt
// CHECK: scf.for {{.*}} iter_args(%[[A0:.*]] = %{{.*}}, %[[A1:.*]] = %{{.*}}, %[[A2:.*]] = %{{.*}})
// CHECK: %[[A:.*]] = spak_tile.load %arg0{{.*}} stage 0
// CHECK: %[[RB:.*]] = spak_tile.broadcast %[[R]]
// CHECK: %[[AS:.*]] = spak_tile.mul %[[A]], %[[RB]]
// CHECK: spak_tile.mma %[[AS]], %{{.*}}, %[[A0]] {transpose_b}
// CHECK: spak_tile.mma %[[AS]], %{{.*}}, %[[A1]] {transpose_b}
// CHECK: spak_tile.mma %[[AS]], %{{.*}}, %[[A2]] {transpose_b}
// CHECK-COUNT-3: spak_tile.store
// CHECK-LABEL: func.func @qkv(
// CHECK: spak_tile.launch @fused_norm_linear_0
// CHECK-NOT: spak_tile.launch
module attributes {spak.rules = [#spak_graph.rule<name = "Fuse RMSNorm", apply = "fuse_norm_into_linear", enabled = true, priority = 10, loc = "rules/fusion.dsl:4:3">]} {
func.func @qkv(%x: tensor<1x?x16xf32>, %wq: tensor<16x16xf32>, %wk: tensor<16x16xf32>, %wv: tensor<16x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) {
  %h = spak_graph.rmsnorm %x {eps = 1.0e-5 : f64} : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %q = spak_graph.linear %h, %wq : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
  %k = spak_graph.linear %h, %wk : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
  %v = spak_graph.linear %h, %wv : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
  return %q, %k, %v : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>
}
}
