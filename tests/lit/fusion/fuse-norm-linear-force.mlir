// `force` fuses without a rule and records the option as provenance; bad spak.rules is an error.
// RUN: spak-opt %s -spak-fuse-norm-linear="force=true" | FileCheck %s
// RUN: not spak-opt %s -spak-fuse-norm-linear="max-consumers=0" 2>&1 | FileCheck %s --check-prefix=BADOPT
// CHECK: spak_graph.fused "norm_linear"(%arg0, %arg1) {rule = "option:force", rule_loc = "option:force"}
// BADOPT: error: spak-fuse-norm-linear: max-consumers must be at least 1, got 0
func.func @forced(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  %h = spak_graph.rmsnorm %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = spak_graph.linear %h, %w : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}
