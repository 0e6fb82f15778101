// Round trip of every spak_tile type, attribute and op: print, re-parse, print again.
// RUN: spak-opt %s | spak-opt | FileCheck %s
// RUN: spak-opt %s --mlir-print-op-generic | spak-opt | FileCheck %s

// CHECK: module attributes {spak.laws = {tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">}
// CHECK-SAME: spak.stability_floor = #spak_tile.law<"stability_floor", -1.000000e+20, "default">
// CHECK-SAME: test.dyn = #spak_tile.extent<?, 64>, test.extent = #spak_tile.extent<768, 1024>
// CHECK-SAME: test.neg_inf = #spak_tile.law<"stability_floor", -inf, "bad.dsl:1:1">
module attributes {spak.laws = {tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">},
                   spak.stability_floor = #spak_tile.law<"stability_floor", -1.0e20, "default">,
                   test.extent = #spak_tile.extent<768, 1024>, test.dyn = #spak_tile.extent<?, 64>,
                   test.neg_inf = #spak_tile.law<"stability_floor", -inf, "bad.dsl:1:1">} {

// CHECK-LABEL: spak_tile.kernel @all_ops(
// CHECK-SAME: %{{.*}}: !spak_tile.buffer<?x16xf32>, %{{.*}}: !spak_tile.buffer<64x16xf32>, %{{.*}}: !spak_tile.buffer<?x64xf32>, %{{.*}}: f32)
// CHECK-SAME: config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>
// CHECK-SAME: grid = ["ceildiv(M, 64)", "1"], math = "y = x w^T"
spak_tile.kernel @all_ops(%x: !spak_tile.buffer<?x16xf32>, %w: !spak_tile.buffer<64x16xf32>,
                          %y: !spak_tile.buffer<?x64xf32>, %s: f32)
    attributes {grid = ["ceildiv(M, 64)", "1"], math = "y = x w^T",
                config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>} {
  // CHECK: spak_tile.program_id 0
  %pid = spak_tile.program_id 0
  %c64 = arith.constant 64 : index
  %c0 = arith.constant 0 : index
  // CHECK: spak_tile.dim %{{.*}}, 0 : !spak_tile.buffer<?x16xf32>
  %m = spak_tile.dim %x, 0 : !spak_tile.buffer<?x16xf32>
  %k = spak_tile.dim %x, 1 : !spak_tile.buffer<?x16xf32>
  %r0 = arith.muli %pid, %c64 : index
  // CHECK: spak_tile.mask bounds[%{{.*}}, %{{.*}}] within[%{{.*}}, %{{.*}}] : !spak_tile.tile<64x16xi1>
  %mask = spak_tile.mask bounds [%r0, %c0] within [%m, %k] : !spak_tile.tile<64x16xi1>
  // CHECK: spak_tile.load %{{.*}}[%{{.*}}, %{{.*}}] mask %{{.*}} stage 0 {latency = #spak_tile.law<"k_lat", 2, "default">} : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<64x16xf32, smem>
  %a = spak_tile.load %x[%r0, %c0] mask %mask stage 0 {latency = #spak_tile.law<"k_lat", 2, "default">}
         : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<64x16xf32, smem>
  // CHECK: spak_tile.load %{{.*}}[%{{.*}}, %{{.*}}] : !spak_tile.buffer<64x16xf32> -> !spak_tile.tile<64x16xf32>
  %b = spak_tile.load %w[%c0, %c0] : !spak_tile.buffer<64x16xf32> -> !spak_tile.tile<64x16xf32>
  // CHECK: spak_tile.constant 0.000000e+00 : !spak_tile.tile<64x64xf32>
  %z = spak_tile.constant 0.0 : !spak_tile.tile<64x64xf32>
  // CHECK: spak_tile.constant -1.000000e+20 {law = #spak_tile.law<"stability_floor", -1.000000e+20, "default">} : !spak_tile.tile<64x64xf32>
  %f = spak_tile.constant -1.0e20 {law = #spak_tile.law<"stability_floor", -1.0e20, "default">} : !spak_tile.tile<64x64xf32>
  // CHECK: spak_tile.constant -3 : !spak_tile.tile<64x64xi32>
  %i3 = spak_tile.constant -3 : !spak_tile.tile<64x64xi32>
  // CHECK: spak_tile.mma %{{.*}}, %{{.*}}, %{{.*}} {transpose_b} : !spak_tile.tile<64x16xf32, smem>, !spak_tile.tile<64x16xf32> -> !spak_tile.tile<64x64xf32>
  %acc = spak_tile.mma %a, %b, %z {transpose_b} : !spak_tile.tile<64x16xf32, smem>, !spak_tile.tile<64x16xf32> -> !spak_tile.tile<64x64xf32>
  // CHECK: spak_tile.reduce max %{{.*}} axis 1 : !spak_tile.tile<64x64xf32> -> !spak_tile.tile<64x1xf32>
  %mx = spak_tile.reduce max %acc axis 1 : !spak_tile.tile<64x64xf32> -> !spak_tile.tile<64x1xf32>
  // CHECK: spak_tile.reduce sum %{{.*}} axis 0 : !spak_tile.tile<64x64xf32> -> !spak_tile.tile<1x64xf32>
  %sm = spak_tile.reduce sum %acc axis 0 : !spak_tile.tile<64x64xf32> -> !spak_tile.tile<1x64xf32>
  // CHECK: spak_tile.broadcast %{{.*}} : !spak_tile.tile<64x1xf32> -> !spak_tile.tile<64x64xf32>
  %bc = spak_tile.broadcast %mx : !spak_tile.tile<64x1xf32> -> !spak_tile.tile<64x64xf32>
  // CHECK: spak_tile.broadcast %{{.*}} : f32 -> !spak_tile.tile<64x64xf32>
  %sb = spak_tile.broadcast %s : f32 -> !spak_tile.tile<64x64xf32>
  // CHECK: spak_tile.add
  // CHECK: spak_tile.sub
  // CHECK: spak_tile.mul
  // CHECK: spak_tile.div
  // CHECK: spak_tile.max
  %e0 = spak_tile.add %acc, %sb : !spak_tile.tile<64x64xf32>
  %e1 = spak_tile.sub %e0, %bc : !spak_tile.tile<64x64xf32>
  %e2 = spak_tile.mul %e1, %e1 : !spak_tile.tile<64x64xf32>
  %e3 = spak_tile.div %e2, %sb : !spak_tile.tile<64x64xf32>
  %e4 = spak_tile.max %e3, %f : !spak_tile.tile<64x64xf32>
  // CHECK: spak_tile.exp %
  // CHECK: spak_tile.exp2 %
  // CHECK: spak_tile.log %
  // CHECK: spak_tile.sqrt %
  // CHECK: spak_tile.rsqrt %
  // CHECK: spak_tile.tanh %
  // CHECK: spak_tile.relu %
  // CHECK: spak_tile.neg %
  %u0 = spak_tile.exp %e4 : !spak_tile.tile<64x64xf32>
  %u1 = spak_tile.exp2 %u0 : !spak_tile.tile<64x64xf32>
  %u2 = spak_tile.log %u1 : !spak_tile.tile<64x64xf32>
  %u3 = spak_tile.sqrt %u2 : !spak_tile.tile<64x64xf32>
  %u4 = spak_tile.rsqrt %u3 : !spak_tile.tile<64x64xf32>
  %u5 = spak_tile.tanh %u4 : !spak_tile.tile<64x64xf32>
  %u6 = spak_tile.relu %u5 : !spak_tile.tile<64x64xf32>
  %u7 = spak_tile.neg %u6 : !spak_tile.tile<64x64xf32>
  // CHECK: spak_tile.iota axis 1 : !spak_tile.tile<64x64xi32>
  %io = spak_tile.iota axis 1 : !spak_tile.tile<64x64xi32>
  // CHECK: spak_tile.add %{{.*}}, %{{.*}} : !spak_tile.tile<64x64xi32>
  %io2 = spak_tile.add %io, %i3 : !spak_tile.tile<64x64xi32>
  // CHECK: spak_tile.cmp lt, %{{.*}}, %{{.*}} : !spak_tile.tile<64x64xi32> -> !spak_tile.tile<64x64xi1>
  %cm = spak_tile.cmp lt, %io2, %i3 : !spak_tile.tile<64x64xi32> -> !spak_tile.tile<64x64xi1>
  // CHECK: spak_tile.mask causal[%{{.*}}, %{{.*}}] : !spak_tile.tile<64x64xi1>
  %cau = spak_tile.mask causal [%r0, %c0] : !spak_tile.tile<64x64xi1>
  // CHECK: spak_tile.select %{{.*}}, %{{.*}}, %{{.*}} : !spak_tile.tile<64x64xi1>, !spak_tile.tile<64x64xf32>
  %sel = spak_tile.select %cau, %u7, %f : !spak_tile.tile<64x64xi1>, !spak_tile.tile<64x64xf32>
  // CHECK: spak_tile.extract %{{.*}}[0, 3] : !spak_tile.tile<64x64xi32> -> i32
  %x0 = spak_tile.extract %io[0, 3] : !spak_tile.tile<64x64xi32> -> i32
  // CHECK: scf.for {{.*}} -> (!spak_tile.tile<64x64xf32>)
  %r = scf.for %it = %c0 to %m step %c64 iter_args(%acc2 = %sel) -> (!spak_tile.tile<64x64xf32>) {
    %n = spak_tile.add %acc2, %sb : !spak_tile.tile<64x64xf32>
    scf.yield %n : !spak_tile.tile<64x64xf32>
  }
  // CHECK: spak_tile.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : !spak_tile.tile<64x64xf32>, !spak_tile.buffer<?x64xf32>
  spak_tile.store %r, %y[%r0, %c0] : !spak_tile.tile<64x64xf32>, !spak_tile.buffer<?x64xf32>
  // CHECK: spak_tile.atomic_add %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] mask %{{.*}} : !spak_tile.tile<64x64xf32>, !spak_tile.buffer<?x64xf32>
  spak_tile.atomic_add %r, %y[%r0, %c0] mask %cm : !spak_tile.tile<64x64xf32>, !spak_tile.buffer<?x64xf32>
  // CHECK: spak_tile.return
  spak_tile.return
}

// CHECK-LABEL: func.func @host(
func.func @host(%x: !spak_tile.buffer<?x?x16xf32>, %w: !spak_tile.buffer<64x16xf32>, %s: f32) {
  %c1 = arith.constant 1 : index
  // CHECK: spak_tile.view %{{.*}} : !spak_tile.buffer<?x?x16xf32> to !spak_tile.buffer<?x16xf32>
  %x2 = spak_tile.view %x : !spak_tile.buffer<?x?x16xf32> to !spak_tile.buffer<?x16xf32>
  %m = spak_tile.dim %x2, 0 : !spak_tile.buffer<?x16xf32>
  // CHECK: spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x64xf32>
  %y = spak_tile.alloc(%m) : !spak_tile.buffer<?x64xf32>
  // CHECK: spak_tile.launch @all_ops[%{{.*}}, %{{.*}}] (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (!spak_tile.buffer<?x16xf32>, !spak_tile.buffer<64x16xf32>, !spak_tile.buffer<?x64xf32>, f32)
  spak_tile.launch @all_ops [%c1, %c1] (%x2, %w, %y, %s)
      : (!spak_tile.buffer<?x16xf32>, !spak_tile.buffer<64x16xf32>, !spak_tile.buffer<?x64xf32>, f32)
  return
}
}
