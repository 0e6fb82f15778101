// spak-shape-inference: `?` result sizes become static where the operands allow.
// RUN: spak-opt %s --split-input-file --verify-diagnostics --spak-shape-inference | FileCheck %s
// RUN: spak-opt %s --split-input-file --verify-diagnostics --spak-shape-inference=update-signature=false | FileCheck %s --check-prefix=KEEP

// CHECK-LABEL: func.func @refine
// CHECK-SAME: -> (tensor<f32>, tensor<1x5x27xf32>)
// CHECK: spak_graph.embed {{.*}} -> tensor<1x5x16xf32>
// CHECK: spak_graph.positions {{.*}} -> tensor<5xi32>
// CHECK: spak_graph.embed {{.*}} -> tensor<5x16xf32>
// CHECK: spak_graph.add {{.*}} -> tensor<1x5x16xf32>
// CHECK: spak_graph.rmsnorm {{.*}} -> tensor<1x5x16xf32>
// CHECK: spak_graph.attention {{.*}} -> tensor<1x5x16xf32>
// CHECK: spak_graph.linear {{.*}} -> tensor<1x5x27xf32>
// CHECK: spak_graph.reshape {{.*}} -> tensor<5x27xf32>
// CHECK: return {{.*}} : tensor<f32>, tensor<1x5x27xf32>
// KEEP-LABEL: func.func @refine
// KEEP-SAME: -> (tensor<f32>, tensor<?x?x?xf32>)
// KEEP: %[[C:.*]] = tensor.cast %{{.*}} : tensor<1x5x27xf32> to tensor<?x?x?xf32>
// KEEP: return %{{.*}}, %[[C]] : tensor<f32>, tensor<?x?x?xf32>
func.func @refine(%wte: tensor<27x16xf32>, %wpe: tensor<16x16xf32>, %tok: tensor<1x5xi32>, %tgt: tensor<1x5xi32>)
    -> (tensor<f32>, tensor<?x?x?xf32>) {
  %0 = spak_graph.embed %wte, %tok : (tensor<27x16xf32>, tensor<1x5xi32>) -> tensor<?x?x?xf32>
  %1 = spak_graph.positions %tok : (tensor<1x5xi32>) -> tensor<?xi32>
  %2 = spak_graph.embed %wpe, %1 : (tensor<16x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  %3 = spak_graph.add %0, %2 : (tensor<?x?x?xf32>, tensor<?x16xf32>) -> tensor<?x?x16xf32>
  %4 = spak_graph.rmsnorm %3 : (tensor<?x?x16xf32>) -> tensor<?x?x?xf32>
  %5 = spak_graph.attention %4, %4, %4 {heads = 4 : i64} : (tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>) -> tensor<?x?x?xf32>
  %6 = spak_graph.linear %5, %wte : (tensor<?x?x?xf32>, tensor<27x16xf32>) -> tensor<?x?x?xf32>
  %7 = spak_graph.reshape %6 {shape = array<i64: -1, 27>} : (tensor<?x?x?xf32>) -> tensor<?x27xf32>
  %8 = spak_graph.cross_entropy %6, %tgt : (tensor<?x?x?xf32>, tensor<1x5xi32>) -> tensor<f32>
  return %8, %6 : tensor<f32>, tensor<?x?x?xf32>
}

// -----

// Dynamic T stays dynamic; static B and C propagate.
// CHECK-LABEL: func.func @dynamic_t
// CHECK-SAME: -> tensor<2x?x64xf32>
// CHECK: spak_graph.linear {{.*}} -> tensor<2x?x64xf32>
// CHECK: spak_graph.gelu {{.*}} -> tensor<2x?x64xf32>
func.func @dynamic_t(%x: tensor<2x?x16xf32>, %w: tensor<64x16xf32>, %b: tensor<64xf32>) -> tensor<?x?x?xf32> {
  %0 = spak_graph.linear %x, %w, %b : (tensor<2x?x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<?x?x?xf32>
  %1 = spak_graph.gelu %0 : (tensor<?x?x?xf32>) -> tensor<?x?x?xf32>
  return %1 : tensor<?x?x?xf32>
}

// -----

// Each op verifies against its declared operand types, but once %0 is refined
// to 2x16 the add's operands no longer broadcast: the pass reports it.
func.func @conflict(%x: tensor<2x16xf32>, %y: tensor<3x16xf32>) -> tensor<?x?xf32> {
  %0 = spak_graph.relu %x : (tensor<2x16xf32>) -> tensor<?x?xf32>
  // expected-error@+1 {{'spak_graph.add' op shapes [2, 16] and [3, 16] do not broadcast (trailing dimension 1: 2 vs 3)}}
  %1 = spak_graph.add %0, %y : (tensor<?x?xf32>, tensor<3x16xf32>) -> tensor<3x16xf32>
  %2 = tensor.cast %1 : tensor<3x16xf32> to tensor<?x?xf32>
  return %2 : tensor<?x?xf32>
}
