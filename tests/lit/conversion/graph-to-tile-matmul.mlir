// Lowering of linear / matmul: a tiled k-loop of masked loads + mma, bias epilogue, launch over buffers.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-graph-to-tile | FileCheck %s

// CHECK-LABEL: spak_tile.kernel @linear_0(
// CHECK-SAME: !spak_tile.buffer<?x16xf32>, %{{.*}}: !spak_tile.buffer<64x16xf32>, %{{.*}}: !spak_tile.buffer<1x64xf32>, %{{.*}}: !spak_tile.buffer<?x64xf32>)
// CHECK-SAME: tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">
// CHECK-SAME: grid = ["ceildiv(M, 64)", "ceildiv(N, 64)"], math = "y[m, n] = sum_k x[m, k] * w[n, k] + b[n]"
// CHECK: %[[ACC0:.*]] = spak_tile.constant 0.000000e+00 : !spak_tile.tile<64x64xf32>
// CHECK: scf.for %[[K0:.*]] = %{{.*}} to %{{.*}} step %c16 iter_args(%[[ACC:.*]] = %[[ACC0]])
// CHECK:   %[[AM:.*]] = spak_tile.mask bounds[%{{.*}}, %[[K0]]] within[%{{.*}}, %{{.*}}] : !spak_tile.tile<64x16xi1>
// CHECK:   %[[A:.*]] = spak_tile.load %{{.*}}[%{{.*}}, %[[K0]]] mask %[[AM]] stage 0 {latency = #spak_tile.law<"stages", 3, "rules/targets/sm90_h100.dsl:14:3">} : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<64x16xf32, smem>
// CHECK:   %[[B:.*]] = spak_tile.load %{{.*}}[%{{.*}}, %[[K0]]] stage 0 {{.*}} : !spak_tile.buffer<64x16xf32> -> !spak_tile.tile<64x16xf32, smem>
// CHECK:   %[[MMA:.*]] = spak_tile.mma %[[A]], %[[B]], %[[ACC]] {transpose_b}
// CHECK:   scf.yield %[[MMA]]
// CHECK: spak_tile.load %{{.*}} : !spak_tile.buffer<1x64xf32> -> !spak_tile.tile<1x64xf32>
// CHECK: spak_tile.broadcast %{{.*}} : !spak_tile.tile<1x64xf32> -> !spak_tile.tile<64x64xf32>
// CHECK: spak_tile.add
// CHECK: spak_tile.store %{{.*}} mask %{{.*}} : !spak_tile.tile<64x64xf32>, !spak_tile.buffer<?x64xf32>
// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:.*]]: !spak_tile.buffer<1x?x16xf32>, %[[W:.*]]: !spak_tile.buffer<64x16xf32>, %[[BIAS:.*]]: !spak_tile.buffer<64xf32>) -> !spak_tile.buffer<1x?x64xf32>
// CHECK: %[[T:.*]] = spak_tile.dim %[[X]], 1
// CHECK: %[[Y:.*]] = spak_tile.alloc(%[[T]]) : !spak_tile.buffer<1x?x64xf32>
// CHECK: %[[BV:.*]] = spak_tile.view %[[BIAS]] : !spak_tile.buffer<64xf32> to !spak_tile.buffer<1x64xf32>
// CHECK: spak_tile.launch @linear_0[%{{.*}}, %{{.*}}] (%{{.*}}, %[[W]], %[[BV]], %{{.*}})
// CHECK-NOT: spak_graph
// CHECK: return %[[Y]] : !spak_tile.buffer<1x?x64xf32>
module attributes {spak.laws = {tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">,
                                stages = #spak_tile.law<"stages", 3, "rules/targets/sm90_h100.dsl:14:3">}} {
func.func @linear(%x: tensor<1x?x16xf32>, %w: tensor<64x16xf32>, %b: tensor<64xf32>) -> tensor<1x?x64xf32> {
  %0 = "spak_graph.linear"(%x, %w, %b) : (tensor<1x?x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<1x?x64xf32>
  return %0 : tensor<1x?x64xf32>
}
}

// -----

// matmul with transpose_a: A is read as [K, M] tiles; N = 48 is covered by a masked 64-wide tile.
// CHECK-LABEL: spak_tile.kernel @matmul_0(
// CHECK-SAME: math = "c[m, n] = sum_k a[k, m] * b[k, n]"
// CHECK: spak_tile.load %{{.*}} : !spak_tile.buffer<32x64xf32> -> !spak_tile.tile<32x64xf32, smem>
// CHECK: spak_tile.mask bounds{{.*}} : !spak_tile.tile<32x64xi1>
// CHECK: spak_tile.load %{{.*}} mask %{{.*}} : !spak_tile.buffer<32x48xf32> -> !spak_tile.tile<32x64xf32, smem>
// CHECK: spak_tile.mma %{{.*}}, %{{.*}}, %{{.*}} {transpose_a}
// CHECK-LABEL: func.func @mm(
// CHECK: spak_tile.launch @matmul_0
func.func @mm(%a: tensor<32x64xf32>, %b: tensor<32x48xf32>) -> tensor<64x48xf32> {
  %0 = "spak_graph.matmul"(%a, %b) {transpose_a = true} : (tensor<32x64xf32>, tensor<32x48xf32>) -> tensor<64x48xf32>
  return %0 : tensor<64x48xf32>
}
