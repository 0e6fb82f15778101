// Lowering of row-wise ops: rmsnorm / layernorm with masked pow2 row tiles, softmax and
// cross-entropy with online max/sum over column chunks and the stability floor.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-graph-to-tile | FileCheck %s

// C = 384 is held in a 512-wide row tile; every access is masked; centered padding lanes are zeroed.
// CHECK-LABEL: spak_tile.kernel @layernorm_0(
// CHECK-SAME: grid = ["ceildiv(rows, 4)"]
// CHECK: %[[M:.*]] = spak_tile.mask bounds[%{{.*}}, %{{.*}}] within[%{{.*}}, %{{.*}}] : !spak_tile.tile<4x512xi1>
// CHECK: %[[X:.*]] = spak_tile.load %{{.*}} mask %[[M]] : !spak_tile.buffer<?x384xf32> -> !spak_tile.tile<4x512xf32>
// CHECK: spak_tile.reduce sum %[[X]] axis 1
// CHECK: %[[D:.*]] = spak_tile.sub %[[X]]
// CHECK: spak_tile.select %[[M]], %[[D]], %{{.*}} : !spak_tile.tile<4x512xi1>, !spak_tile.tile<4x512xf32>
// CHECK: spak_tile.rsqrt
// CHECK: spak_tile.store %{{.*}} mask %[[M]] : !spak_tile.tile<4x512xf32>, !spak_tile.buffer<?x384xf32>
// CHECK-LABEL: func.func @layernorm
// CHECK: spak_tile.launch @layernorm_0
func.func @layernorm(%x: tensor<2x?x384xf32>, %w: tensor<384xf32>, %b: tensor<384xf32>) -> tensor<2x?x384xf32> {
  %0 = "spak_graph.layernorm"(%x, %w, %b) {eps = 1.0e-5 : f64} : (tensor<2x?x384xf32>, tensor<384xf32>, tensor<384xf32>) -> tensor<2x?x384xf32>
  return %0 : tensor<2x?x384xf32>
}

// -----

// Static 16-row, 16-wide rmsnorm needs no mask at all.
// CHECK-LABEL: spak_tile.kernel @rmsnorm_0(
// CHECK-SAME: math = "y[r, c] = x[r, c] * rsqrt(mean(x[r, :]^2) + 1e-05)"
// CHECK-NOT: spak_tile.mask
// CHECK: spak_tile.load %{{.*}} : !spak_tile.buffer<16x16xf32> -> !spak_tile.tile<4x16xf32>
// CHECK: spak_tile.constant 6.250000e-02 : !spak_tile.tile<4x1xf32>
// CHECK: spak_tile.constant 1.000000e-05 : !spak_tile.tile<4x1xf32>
// CHECK: spak_tile.rsqrt
// CHECK: spak_tile.store %{{.*}} : !spak_tile.tile<4x16xf32>, !spak_tile.buffer<16x16xf32>
func.func @rmsnorm(%x: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %0 = "spak_graph.rmsnorm"(%x) {eps = 1.0e-5 : f64} : (tensor<16x16xf32>) -> tensor<16x16xf32>
  return %0 : tensor<16x16xf32>
}

// -----

// CHECK-LABEL: spak_tile.kernel @softmax_0(
// CHECK: %[[FLOOR:.*]] = spak_tile.constant -1.000000e+20 {law = #spak_tile.law<"stability_floor", -1.000000e+20, "default">} : !spak_tile.tile<4x32xf32>
// CHECK: scf.for
// CHECK:   %[[M:.*]] = spak_tile.mask bounds{{.*}} : !spak_tile.tile<4x32xi1>
// CHECK:   %[[X:.*]] = spak_tile.load %{{.*}} mask %[[M]]
// CHECK:   spak_tile.select %[[M]], %[[X]], %[[FLOOR]]
// CHECK:   spak_tile.reduce max
// CHECK:   spak_tile.exp
// CHECK:   spak_tile.reduce sum
// CHECK: scf.for
// CHECK:   spak_tile.div
// CHECK:   spak_tile.store
func.func @softmax(%x: tensor<?x27xf32>) -> tensor<?x27xf32> {
  %0 = "spak_graph.softmax"(%x) : (tensor<?x27xf32>) -> tensor<?x27xf32>
  return %0 : tensor<?x27xf32>
}

// -----

// The 50257-wide vocabulary is walked in 1024-wide chunks; the target logit is picked with iota == target.
// CHECK-LABEL: spak_tile.kernel @cross_entropy_rows_0(
// CHECK-SAME: !spak_tile.buffer<?x50257xf32>, %{{.*}}: !spak_tile.buffer<?x1xi32>, %{{.*}}: !spak_tile.buffer<?x1xf32>)
// CHECK: spak_tile.constant -1.000000e+20 {law = #spak_tile.law<"stability_floor", -1.000000e+20, "rules/targets/sm90_h100.dsl:17:3">} : !spak_tile.tile<4x1xf32>
// CHECK: scf.for {{.*}} step %c1024
// CHECK: spak_tile.load {{.*}} -> !spak_tile.tile<4x1xi32>
// CHECK: scf.for
// CHECK:   spak_tile.iota axis 1 : !spak_tile.tile<4x1024xi32>
// CHECK:   spak_tile.cmp eq
// CHECK: spak_tile.log
// CHECK-LABEL: spak_tile.kernel @mean_rows_0(
// CHECK-SAME: grid = ["1"]
// CHECK: spak_tile.reduce sum %{{.*}} axis 0 : !spak_tile.tile<1024x1xf32> -> !spak_tile.tile<1x1xf32>
// CHECK-LABEL: func.func @xent(
// CHECK-SAME: -> !spak_tile.buffer<1xf32>
// CHECK: %[[LOSSES:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x1xf32>
// CHECK: %[[LOSS:.*]] = spak_tile.alloc() : !spak_tile.buffer<1xf32>
// CHECK: spak_tile.launch @cross_entropy_rows_0
// CHECK: spak_tile.launch @mean_rows_0[%{{.*}}] (%[[LOSSES]], %{{.*}})
// CHECK: return %[[LOSS]]
module attributes {spak.stability_floor = #spak_tile.law<"stability_floor", -1.0e20, "rules/targets/sm90_h100.dsl:17:3">} {
func.func @xent(%l: tensor<4x?x50257xf32>, %t: tensor<4x?xi32>) -> tensor<f32> {
  %0 = "spak_graph.cross_entropy"(%l, %t) : (tensor<4x?x50257xf32>, tensor<4x?xi32>) -> tensor<f32>
  return %0 : tensor<f32>
}
}
