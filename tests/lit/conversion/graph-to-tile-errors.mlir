// spak-lower-graph-to-tile diagnoses missing planning attributes and ops it cannot lower.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-lower-graph-to-tile -verify-diagnostics

func.func @no_config(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{has no spak.tile_config; run --spak-apply-laws first}}
  %0 = "spak_graph.rmsnorm"(%x) : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

func.func @unknown(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{no tile lowering for 'spak_graph.frobnicate' yet}}
  %0 = "spak_graph.frobnicate"(%x) : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// -----

func.func @bad_bias(%x: tensor<?x16xf32>, %w: tensor<64x16xf32>, %b: tensor<16xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{linear bias must be [N] = [64], got 'tensor<16xf32>'}}
  %0 = "spak_graph.linear"(%x, %w, %b) {spak.tile_config = #spak_tile.config<{}>, spak.extents = {}} : (tensor<?x16xf32>, tensor<64x16xf32>, tensor<16xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
