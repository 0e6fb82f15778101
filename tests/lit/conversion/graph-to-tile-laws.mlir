// Changing law tile_m in the input (or by option) changes the tile program after lowering.
// RUN: spak-opt %s --allow-unregistered-dialect -spak-graph-to-tile | FileCheck %s --check-prefix=M64
// RUN: sed 's/"tile_m", 64/"tile_m", 32/' %s | spak-opt --allow-unregistered-dialect -spak-graph-to-tile | FileCheck %s --check-prefix=M32
// RUN: spak-opt %s --allow-unregistered-dialect -spak-apply-laws=tile-m=16 -spak-stability-floor -spak-pow2-masking -spak-lower-graph-to-tile | FileCheck %s --check-prefix=M16

// M64: grid = ["ceildiv(M, 64)", "ceildiv(N, 64)"]
// M64: spak_tile.load {{.*}} -> !spak_tile.tile<64x16xf32, smem>
// M64: spak_tile.store {{.*}} : !spak_tile.tile<64x64xf32>
// M64: arith.ceildivui %{{.*}}, %c64
// M32: spak_tile.kernel {{.*}}tile_m = #spak_tile.law<"tile_m", 32, "rules/targets/sm90_h100.dsl:9:3">
// M32-SAME: grid = ["ceildiv(M, 32)", "ceildiv(N, 64)"]
// M32: spak_tile.load {{.*}} -> !spak_tile.tile<32x16xf32, smem>
// M32: spak_tile.store {{.*}} : !spak_tile.tile<32x64xf32>
// M32: arith.ceildivui %{{.*}}, %c32
// M16: tile_m = #spak_tile.law<"tile_m", 16, "option:tile-m">
// M16: spak_tile.store {{.*}} : !spak_tile.tile<16x64xf32>
module attributes {spak.laws = {tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">}} {
func.func @linear(%x: tensor<?x16xf32>, %w: tensor<64x16xf32>) -> tensor<?x64xf32> {
  %0 = "spak_graph.linear"(%x, %w) : (tensor<?x16xf32>, tensor<64x16xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
}
