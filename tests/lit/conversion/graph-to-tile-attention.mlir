// Lowering of causal attention to the flash loop of fmha_kernel.dsl: K loads with latency k_lat,
// V loads with latency v_lat, causal + tail masks with the stability floor, online softmax.
// RUN: spak-opt %s --allow-unregistered-dialect -spak-graph-to-tile | FileCheck %s

// CHECK-LABEL: spak_tile.kernel @attention_0(
// CHECK-SAME: grid = ["ceildiv(T, 64)", "B * 4"]
// CHECK-SAME: math = "o[b, t, h*4:(h+1)*4] = softmax_s(q k^T * 0.5, causal s <= t) v
// CHECK: %[[Q:.*]] = spak_tile.load %{{.*}}[%[[B:.*]], %[[M0:.*]], %[[COL:.*]]] mask %{{.*}} : !spak_tile.buffer<1x?x16xf32> -> !spak_tile.tile<64x4xf32>
// CHECK: %[[MI:.*]] = spak_tile.constant -1.000000e+20 {law = #spak_tile.law<"stability_floor", -1.000000e+20, "default">} : !spak_tile.tile<64x1xf32>
// CHECK: %[[FLOOR:.*]] = spak_tile.constant -1.000000e+20 {{.*}} : !spak_tile.tile<64x64xf32>
// CHECK: %[[END:.*]] = arith.minui
// The key tiles before the query tile (0 .. m0): no score mask.
// CHECK: %[[OFF:.*]]:3 = scf.for %[[N1:.*]] = %{{.*}} to %[[M0]] step %{{.*}} iter_args(%{{.*}} = %[[MI]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}})
// CHECK:   spak_tile.mma %[[Q]], %{{.*}}, %{{.*}} {transpose_b}
// CHECK-NOT: spak_tile.mask causal
// CHECK-NOT: spak_tile.select
// CHECK:   spak_tile.reduce max
// CHECK:   scf.yield
// The diagonal tiles (m0 .. end), from the first loop's state: causal mask.
// CHECK: scf.for %[[N0:.*]] = %[[M0]] to %[[END]] step %{{.*}} iter_args(%[[M:.*]] = %[[OFF]]#0, %[[L:.*]] = %[[OFF]]#1, %[[ACC:.*]] = %[[OFF]]#2)
// CHECK:   %[[K:.*]] = spak_tile.load %{{.*}}[%[[B]], %[[N0]], %[[COL]]] mask %{{.*}} stage 0 {latency = #spak_tile.law<"k_lat", 2, "rules/targets/sm90_h100.dsl:12:3">} : {{.*}} -> !spak_tile.tile<64x4xf32, smem>
// CHECK:   %[[V:.*]] = spak_tile.load %{{.*}}[%[[B]], %[[N0]], %[[COL]]] mask %{{.*}} stage 1 {latency = #spak_tile.law<"v_lat", 5, "rules/targets/sm90_h100.dsl:13:3">}
// CHECK:   %[[S:.*]] = spak_tile.mma %[[Q]], %[[K]], %{{.*}} {transpose_b}
// CHECK:   spak_tile.mask causal[%[[M0]], %[[N0]]] : !spak_tile.tile<64x64xi1>
// CHECK:   %[[SM:.*]] = spak_tile.select %{{.*}}, %{{.*}}, %[[FLOOR]]
// CHECK:   %[[RM:.*]] = spak_tile.reduce max %[[SM]] axis 1
// CHECK:   %[[MN:.*]] = spak_tile.max %[[M]], %[[RM]]
// CHECK:   %[[P:.*]] = spak_tile.exp
// CHECK:   %[[ALPHA:.*]] = spak_tile.exp
// CHECK:   spak_tile.mma %[[P]], %[[V]], %{{.*}} : !spak_tile.tile<64x64xf32>, !spak_tile.tile<64x4xf32, smem> -> !spak_tile.tile<64x4xf32>
// CHECK:   scf.yield %[[MN]]
// CHECK: spak_tile.div
// CHECK: spak_tile.store %{{.*}}, %{{.*}}[%[[B]], %[[M0]], %[[COL]]] mask
// CHECK-LABEL: func.func @attn(
// CHECK: %[[T:.*]] = spak_tile.dim %{{.*}}, 1 : !spak_tile.buffer<1x?x16xf32>
// CHECK: %[[O:.*]] = spak_tile.alloc(%[[T]]) : !spak_tile.buffer<1x?x16xf32>
// CHECK: spak_tile.launch @attention_0[%{{.*}}, %{{.*}}] (%{{.*}}, %{{.*}}, %{{.*}}, %[[O]])
module attributes {spak.laws = {tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">,
                                k_lat = #spak_tile.law<"k_lat", 2, "rules/targets/sm90_h100.dsl:12:3">,
                                v_lat = #spak_tile.law<"v_lat", 5, "rules/targets/sm90_h100.dsl:13:3">}} {
func.func @attn(%q: tensor<1x?x16xf32>, %k: tensor<1x?x16xf32>, %v: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  %0 = "spak_graph.attention"(%q, %k, %v) {heads = 4 : i64, causal = true} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  return %0 : tensor<1x?x16xf32>
}
}
