// spak-apply-laws: laws from spak.laws (with provenance), documented defaults, option overrides, errors.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-apply-laws | FileCheck %s
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-apply-laws="tile-m=32 k-lat=3" | FileCheck %s --check-prefix=OPT
// RUN: not spak-opt %s --allow-unregistered-dialect -spak-apply-laws="tile-m=48" 2>&1 | FileCheck %s --check-prefix=BADOPT

// CHECK-LABEL: func.func @laws
// CHECK: spak_graph.linear
// CHECK-SAME: spak.tile_config = #spak_tile.config<{{{.*}}mma_bits = #spak_tile.law<"mma_bits", 32, "default">, {{.*}}stages = #spak_tile.law<"stages", 3, "rules/targets/sm90_h100.dsl:14:3">, tile_k = #spak_tile.law<"tile_k", 32, "default">, tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">, tile_n = #spak_tile.law<"tile_n", 128, "rules/targets/sm90_h100.dsl:10:3">, warps = #spak_tile.law<"warps", 4, "default">}>
// CHECK: spak_graph.attention
// CHECK-SAME: k_lat = #spak_tile.law<"k_lat", 2, "rules/targets/sm90_h100.dsl:12:3">
// CHECK-SAME: v_lat = #spak_tile.law<"v_lat", 5, "default">
// CHECK: spak_graph.rmsnorm
// CHECK-SAME: spak.tile_config = #spak_tile.config<{ctas_per_sm = #spak_tile.law<"ctas_per_sm", 1, "default">, fast_exp = #spak_tile.law<"fast_exp", 0, "default">, row_chunk = #spak_tile.law<"row_chunk", 1024, "default">, row_tile = #spak_tile.law<"row_tile", 4, "default">, vec_width = #spak_tile.law<"vec_width", 4, "default">, warps = #spak_tile.law<"warps", 4, "default">}>
// CHECK: spak_graph.relu
// CHECK-SAME: spak.tile_config = #spak_tile.config<{fast_exp = #spak_tile.law<"fast_exp", 0, "default">, vec_width = #spak_tile.law<"vec_width", 4, "default">, warps = #spak_tile.law<"warps", 4, "default">}>
// CHECK: spak_graph.reshape
// CHECK-NOT: spak.tile_config
// CHECK: return

// OPT-LABEL: func.func @laws
// OPT: spak_graph.linear
// OPT-SAME: tile_m = #spak_tile.law<"tile_m", 32, "option:tile-m">
// OPT: spak_graph.attention
// OPT-SAME: k_lat = #spak_tile.law<"k_lat", 3, "option:k-lat">
// OPT-SAME: tile_m = #spak_tile.law<"tile_m", 32, "option:tile-m">
// BADOPT: error: option for law 'tile_m' must be a positive power of two, got 48
module attributes {spak.laws = {
    tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">,
    tile_n = #spak_tile.law<"tile_n", 128, "rules/targets/sm90_h100.dsl:10:3">,
    k_lat = #spak_tile.law<"k_lat", 2, "rules/targets/sm90_h100.dsl:12:3">,
    stages = #spak_tile.law<"stages", 3, "rules/targets/sm90_h100.dsl:14:3">,
    sms = #spak_tile.law<"sms", 132, "rules/targets/sm90_h100.dsl:5:3">}} {
func.func @laws(%x: tensor<?x16xf32>, %w: tensor<64x16xf32>, %q: tensor<1x?x16xf32>) {
  %0 = "spak_graph.linear"(%x, %w) : (tensor<?x16xf32>, tensor<64x16xf32>) -> tensor<?x64xf32>
  %1 = "spak_graph.attention"(%q, %q, %q) {heads = 4 : i64, causal = true} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %2 = "spak_graph.rmsnorm"(%x) {eps = 1.0e-5 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %3 = "spak_graph.relu"(%0) : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %4 = "spak_graph.reshape"(%q) {shape = array<i64: -1, 16>} : (tensor<1x?x16xf32>) -> tensor<?x16xf32>
  return
}
}

// -----

// No spak.laws at all: every law is its documented default.
// CHECK-LABEL: func.func @defaults
// CHECK: spak.tile_config = #spak_tile.config<{{{.*}}mma_bits = #spak_tile.law<"mma_bits", 32, "default">, {{.*}}stages = #spak_tile.law<"stages", 2, "default">, tile_k = #spak_tile.law<"tile_k", 32, "default">, tile_m = #spak_tile.law<"tile_m", 64, "default">, tile_n = #spak_tile.law<"tile_n", 64, "default">, warps = #spak_tile.law<"warps", 4, "default">}>
func.func @defaults(%x: tensor<?x16xf32>, %w: tensor<64x16xf32>) {
  %0 = "spak_graph.linear"(%x, %w) : (tensor<?x16xf32>, tensor<64x16xf32>) -> tensor<?x64xf32>
  return
}
