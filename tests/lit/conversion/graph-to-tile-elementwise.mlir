// Lowering of elementwise ops to flat vectorised maps (block = vec_width * 32 * warps) and reshape to a view.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-graph-to-tile | FileCheck %s

// 8x64 = 512 elements = one unmasked 512-wide block.
// CHECK-LABEL: spak_tile.kernel @add_0(
// CHECK-SAME: grid = ["ceildiv(n, 512)"], math = "y[i] = a[i] + b[i]"
// CHECK-NOT: mask
// CHECK: spak_tile.add %{{.*}}, %{{.*}} : !spak_tile.tile<512xf32>
// CHECK-LABEL: spak_tile.kernel @gelu_0(
// CHECK: spak_tile.constant 4.471500e-02
// CHECK: spak_tile.tanh
// CHECK-LABEL: spak_tile.kernel @relu_0(
// CHECK: spak_tile.relu
// CHECK-LABEL: spak_tile.kernel @scale_0(
// CHECK-SAME: math = "y[i] = x[i] * 0.125"
// CHECK: spak_tile.constant 1.250000e-01 : !spak_tile.tile<512xf32>
// CHECK-LABEL: func.func @ew(
// CHECK: spak_tile.view %{{.*}} : !spak_tile.buffer<8x64xf32> to !spak_tile.buffer<512xf32>
// CHECK: spak_tile.launch @add_0
// CHECK: spak_tile.launch @gelu_0
// CHECK: spak_tile.launch @relu_0
// CHECK: spak_tile.launch @scale_0
func.func @ew(%a: tensor<8x64xf32>, %b: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %0 = "spak_graph.add"(%a, %b) : (tensor<8x64xf32>, tensor<8x64xf32>) -> tensor<8x64xf32>
  %1 = "spak_graph.gelu"(%0) : (tensor<8x64xf32>) -> tensor<8x64xf32>
  %2 = "spak_graph.relu"(%1) : (tensor<8x64xf32>) -> tensor<8x64xf32>
  %3 = "spak_graph.scale"(%2) {factor = 0.125 : f64} : (tensor<8x64xf32>) -> tensor<8x64xf32>
  return %3 : tensor<8x64xf32>
}

// -----

// A dynamic element count is masked against the buffer length.
// CHECK-LABEL: spak_tile.kernel @sub_0(
// CHECK: %[[N:.*]] = spak_tile.dim %{{.*}}, 0 : !spak_tile.buffer<?xf32>
// CHECK: %[[M:.*]] = spak_tile.mask bounds[%{{.*}}] within[%[[N]]] : !spak_tile.tile<512xi1>
// CHECK: spak_tile.load %{{.*}} mask %[[M]]
// CHECK: spak_tile.store %{{.*}} mask %[[M]]
// CHECK-LABEL: func.func @dyn(
// CHECK: %[[V:.*]] = spak_tile.view %{{.*}} : !spak_tile.buffer<?x16xf32> to !spak_tile.buffer<?x4x4xf32>
// CHECK: return %[[V]]
func.func @dyn(%a: tensor<?x16xf32>) -> tensor<?x4x4xf32> {
  %0 = "spak_graph.sub"(%a, %a) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %1 = "spak_graph.reshape"(%0) {shape = array<i64: -1, 4, 4>} : (tensor<?x16xf32>) -> tensor<?x4x4xf32>
  return %1 : tensor<?x4x4xf32>
}
