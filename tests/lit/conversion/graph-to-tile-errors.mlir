// spak-lower-graph-to-tile diagnoses missing planning attributes and ops it cannot lower.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-lower-graph-to-tile -verify-diagnostics

func.func @no_config(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{has no spak.tile_config; run --spak-apply-laws first}}
  %0 = "spak_graph.rmsnorm"(%x) : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

func.func @unlowered(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{dropout with p = 0.1 has no tile lowering}}
  %0 = "spak_graph.dropout"(%x) {p = 0.1 : f64} : (tensor<4x16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

func.func @softmax_axis(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{softmax lowering handles the last axis, got axis 0}}
  %0 = "spak_graph.softmax"(%x) {axis = 0 : i64, spak.tile_config = #spak_tile.config<{}>, spak.extents = {},
        spak.floor = #spak_tile.law<"stability_floor", -1.0e20, "default">} : (tensor<8x16xf32>) -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

func.func @bad_perm(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  // expected-error @+1 {{transpose lowering handles perms that keep the last axis or swap only the last two axes}}
  %0 = "spak_graph.transpose"(%x) {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  return %0 : tensor<4x2x3xf32>
}

// -----

func.func @gapped_axes(%x: tensor<2x3x4xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{reduce_sum lowering needs the reduced axes contiguous}}
  %0 = "spak_graph.reduce_sum"(%x) {axes = array<i64: 0, 2>, spak.tile_config = #spak_tile.config<{row_tile = #spak_tile.law<"row_tile", 4, "default">, warps = #spak_tile.law<"warps", 4, "default">}>, spak.extents = {}} : (tensor<2x3x4xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}
