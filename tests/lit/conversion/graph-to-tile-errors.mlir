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
