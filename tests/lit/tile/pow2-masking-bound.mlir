// spak-pow2-masking with bounded dynamic dims: a tile never exceeds the next power of two of the largest size
// the dim can take — spak.train's batch * seq_len, or the max-dynamic option. The size stays `?` (masked), so a
// longer T is still covered (more programs / loop steps), only the tile shrinks.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-apply-laws -spak-pow2-masking | FileCheck %s
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-apply-laws -spak-pow2-masking=max-dynamic=-1 | FileCheck %s --check-prefix=OFF
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-apply-laws -spak-pow2-masking=max-dynamic=20 | FileCheck %s --check-prefix=OPT

// MicroGPT: batch 1, seq_len 16 → T ≤ 16: 16-row matmul / attention tiles instead of tile_m = tile_n = 64 (the
// default laws here; 64 / 128 with targets/sm90_h100.dsl), the dW contraction over T in 16-wide k steps instead
// of tile_k = 32; row tiles (4), static dims and elementwise blocks unchanged. Prefix OFF is max-dynamic < 0
// (unbounded), prefix OPT the option overriding spak.train (20 → 32-wide tiles).
// CHECK-LABEL: func.func @micro
// CHECK: spak_graph.linear{{.*}}spak.extents = {k = #spak_tile.extent<16, 16>, m = #spak_tile.extent<?, 16>, n = #spak_tile.extent<27, 32>}
// CHECK: spak_graph.matmul{{.*}}spak.extents = {k = #spak_tile.extent<?, 16>, m = #spak_tile.extent<27, 32>, n = #spak_tile.extent<16, 16>}
// CHECK: spak_graph.rmsnorm{{.*}}spak.extents = {cols = #spak_tile.extent<16, 16>, rows = #spak_tile.extent<?, 4>}
// CHECK: spak_graph.attention{{.*}}spak.extents = {d = #spak_tile.extent<4, 4>, kv = #spak_tile.extent<?, 16>, q = #spak_tile.extent<?, 16>}
// CHECK: spak_graph.gelu{{.*}}spak.extents = {n = #spak_tile.extent<?, 512>}
// OFF-LABEL: func.func @micro
// OFF: spak_graph.linear{{.*}}m = #spak_tile.extent<?, 64>
// OFF: spak_graph.matmul{{.*}}k = #spak_tile.extent<?, 32>
// OFF: spak_graph.attention{{.*}}kv = #spak_tile.extent<?, 64>, q = #spak_tile.extent<?, 64>
// OPT-LABEL: func.func @micro
// OPT: spak_graph.linear{{.*}}m = #spak_tile.extent<?, 32>
// OPT: spak_graph.matmul{{.*}}k = #spak_tile.extent<?, 32>
// OPT: spak_graph.attention{{.*}}kv = #spak_tile.extent<?, 32>, q = #spak_tile.extent<?, 32>
module attributes {spak.train = {batch = 1 : i64, seq_len = 16 : i64}} {
func.func @micro(%x: tensor<1x?x16xf32>, %w: tensor<27x16xf32>, %g: tensor<?x27xf32>, %h: tensor<?x16xf32>) {
  %0 = "spak_graph.linear"(%x, %w) : (tensor<1x?x16xf32>, tensor<27x16xf32>) -> tensor<1x?x27xf32>
  %1 = "spak_graph.matmul"(%g, %h) {transpose_a = true} : (tensor<?x27xf32>, tensor<?x16xf32>) -> tensor<27x16xf32>
  %2 = "spak_graph.rmsnorm"(%x) {eps = 1.0e-5 : f64} : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %3 = "spak_graph.attention"(%x, %x, %x) {heads = 4 : i64, causal = true} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %4 = "spak_graph.gelu"(%x) : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  return
}
}

// -----

// Batch 4, seq_len 8: a dynamic dim is at most 4 * 8 = 32 (T, or B·T flattened); a static batch dim multiplies
// the bound of the rows ([4, ?] rows ≤ 128 → tile_m stays 64).
// CHECK-LABEL: func.func @batched
// CHECK: spak_graph.linear{{.*}}m = #spak_tile.extent<?, 32>
// CHECK: spak_graph.linear{{.*}}m = #spak_tile.extent<?, 64>
// CHECK: spak_graph.attention{{.*}}kv = #spak_tile.extent<?, 32>, q = #spak_tile.extent<?, 32>
module attributes {spak.train = {batch = 4 : i64, seq_len = 8 : i64}} {
func.func @batched(%r: tensor<?x16xf32>, %x: tensor<4x?x16xf32>, %w: tensor<16x16xf32>) {
  %0 = "spak_graph.linear"(%r, %w) : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %1 = "spak_graph.linear"(%x, %w) : (tensor<4x?x16xf32>, tensor<16x16xf32>) -> tensor<4x?x16xf32>
  %2 = "spak_graph.attention"(%x, %x, %x) {heads = 4 : i64, causal = true} : (tensor<4x?x16xf32>, tensor<4x?x16xf32>, tensor<4x?x16xf32>) -> tensor<4x?x16xf32>
  return
}
}

// -----

// No spak.train: dynamic dims are unbounded, the laws' tiles stay.
// CHECK-LABEL: func.func @unbounded
// CHECK: spak_graph.linear{{.*}}m = #spak_tile.extent<?, 64>
func.func @unbounded(%x: tensor<?x16xf32>, %w: tensor<16x16xf32>) {
  %0 = "spak_graph.linear"(%x, %w) : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  return
}
