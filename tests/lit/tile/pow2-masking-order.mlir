// spak-pow2-masking needs the tile config of spak-apply-laws.
// RUN: spak-opt %s --allow-unregistered-dialect -spak-pow2-masking -verify-diagnostics

func.func @no_laws(%x: tensor<?x16xf32>) {
  // expected-error @+1 {{has no spak.tile_config; run --spak-apply-laws before --spak-pow2-masking}}
  %0 = "spak_graph.rmsnorm"(%x) : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return
}
