// spak-pow2-masking: padded tile extents for non-power-of-two and dynamic dims.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-apply-laws -spak-pow2-masking -verify-diagnostics | FileCheck %s

// GPT-2 sizes: C = 768 / 384 are held as 1024 / 512-wide row tiles (masked); the 50257 vocab is
// walked in 1024-wide chunks (masked tail); T is dynamic (masked); K = 768 divides by tile_k (unmasked).
// CHECK-LABEL: func.func @gpt2
// CHECK: spak_graph.layernorm{{.*}}spak.extents = {cols = #spak_tile.extent<768, 1024>, rows = #spak_tile.extent<?, 4>}
// CHECK: spak_graph.layernorm{{.*}}spak.extents = {cols = #spak_tile.extent<384, 512>, rows = #spak_tile.extent<?, 4>}
// CHECK: spak_graph.linear{{.*}}spak.extents = {k = #spak_tile.extent<768, 32>, m = #spak_tile.extent<?, 64>, n = #spak_tile.extent<50257, 64>}
// CHECK: spak_graph.cross_entropy{{.*}}spak.extents = {cols = #spak_tile.extent<50257, 1024>, rows = #spak_tile.extent<?, 4>}
// CHECK: spak_graph.attention{{.*}}spak.extents = {d = #spak_tile.extent<64, 64>, kv = #spak_tile.extent<?, 64>, q = #spak_tile.extent<?, 64>}
// CHECK: spak_graph.gelu{{.*}}spak.extents = {n = #spak_tile.extent<?, 512>}
func.func @gpt2(%x: tensor<4x?x768xf32>, %h: tensor<4x?x384xf32>, %w: tensor<768xf32>, %b: tensor<768xf32>,
                %w3: tensor<384xf32>, %wte: tensor<50257x768xf32>, %t: tensor<4x?xi32>) {
  %0 = "spak_graph.layernorm"(%x, %w, %b) {eps = 1.0e-5 : f64} : (tensor<4x?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<4x?x768xf32>
  %1 = "spak_graph.layernorm"(%h, %w3, %w3) {eps = 1.0e-5 : f64} : (tensor<4x?x384xf32>, tensor<384xf32>, tensor<384xf32>) -> tensor<4x?x384xf32>
  %2 = "spak_graph.linear"(%0, %wte) : (tensor<4x?x768xf32>, tensor<50257x768xf32>) -> tensor<4x?x50257xf32>
  %3 = "spak_graph.cross_entropy"(%2, %t) : (tensor<4x?x50257xf32>, tensor<4x?xi32>) -> tensor<f32>
  %4 = "spak_graph.attention"(%0, %0, %0) {heads = 12 : i64, causal = true} : (tensor<4x?x768xf32>, tensor<4x?x768xf32>, tensor<4x?x768xf32>) -> tensor<4x?x768xf32>
  %5 = "spak_graph.gelu"(%0) : (tensor<4x?x768xf32>) -> tensor<4x?x768xf32>
  return
}

// -----

// MicroGPT sizes: tiles shrink to the next power of two of small static dims (16, 27 → 32, 65 → 128).
// CHECK-LABEL: func.func @micro
// CHECK: spak_graph.linear{{.*}}spak.extents = {k = #spak_tile.extent<16, 16>, m = #spak_tile.extent<16, 16>, n = #spak_tile.extent<27, 32>}
// CHECK: spak_graph.rmsnorm{{.*}}spak.extents = {cols = #spak_tile.extent<65, 128>, rows = #spak_tile.extent<16, 4>}
// CHECK: spak_graph.attention{{.*}}spak.extents = {d = #spak_tile.extent<4, 4>, kv = #spak_tile.extent<16, 16>, q = #spak_tile.extent<16, 16>}
func.func @micro(%x: tensor<16x16xf32>, %w: tensor<27x16xf32>, %y: tensor<16x65xf32>, %q: tensor<1x16x16xf32>) {
  %0 = "spak_graph.linear"(%x, %w) : (tensor<16x16xf32>, tensor<27x16xf32>) -> tensor<16x27xf32>
  %1 = "spak_graph.rmsnorm"(%y) {eps = 1.0e-5 : f64} : (tensor<16x65xf32>) -> tensor<16x65xf32>
  %2 = "spak_graph.attention"(%q, %q, %q) {heads = 4 : i64, causal = true} : (tensor<1x16x16xf32>, tensor<1x16x16xf32>, tensor<1x16x16xf32>) -> tensor<1x16x16xf32>
  return
}

// -----

func.func @dynamic_row(%x: tensor<4x?xf32>) {
  // expected-error @+1 {{the row length (last dim) must be static to be held in one tile}}
  %0 = "spak_graph.rmsnorm"(%x) : (tensor<4x?xf32>) -> tensor<4x?xf32>
  return
}
