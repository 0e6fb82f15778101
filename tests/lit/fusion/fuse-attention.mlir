// spak-fuse-attention: with the rule, attention / attention_grad are marked for the flash kernels;
// without it (disabled or absent) attention is marked for the matmul/softmax/matmul decomposition.
// RUN: spak-opt %s -split-input-file -spak-fuse-attention | FileCheck %s
// RUN: spak-opt %s -split-input-file -spak-fuse-attention="decompose=false" | FileCheck %s --check-prefix=KEEP

// CHECK-LABEL: func.func @on(
// CHECK: spak_graph.attention {{.*}}spak.fusion = {kind = "flash_attention", rule = "Flash Attention", rule_loc = "rules/fusion.dsl:25:3"}
// CHECK: spak_graph.attention_grad {{.*}}spak.fusion = {kind = "flash_attention_grad", rule = "Flash Attention", rule_loc = "rules/fusion.dsl:25:3"}
module attributes {spak.rules = [#spak_graph.rule<name = "Flash Attention", apply = "online_softmax", enabled = true, priority = 40, loc = "rules/fusion.dsl:25:3">]} {
func.func @on(%q: tensor<1x?x16xf32>, %k: tensor<1x?x16xf32>, %v: tensor<1x?x16xf32>, %do: tensor<1x?x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) {
  %o = spak_graph.attention %q, %k, %v {heads = 4 : i64} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %dq, %dk, %dv = spak_graph.attention_grad %do, %q, %k, %v {heads = 4 : i64} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>)
  return %o, %dq, %dk, %dv : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>
}
}

// -----

// Rule disabled: decomposition marker (decompose=false leaves the op unmarked).
// CHECK-LABEL: func.func @off(
// CHECK: spak_graph.attention {{.*}}spak.unfused = "online_softmax"
// CHECK-NOT: spak.fusion
// KEEP-LABEL: func.func @off(
// KEEP-NOT: spak.unfused
// KEEP-NOT: spak.fusion
module attributes {spak.rules = [#spak_graph.rule<name = "Flash Attention", apply = "online_softmax", enabled = false, priority = 40, loc = "rules/fusion.dsl:25:3">]} {
func.func @off(%q: tensor<1x8x16xf32>) -> tensor<1x8x16xf32> {
  %o = spak_graph.attention %q, %q, %q {heads = 4 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return %o : tensor<1x8x16xf32>
}
}

// -----

// Rule absent: same as disabled.
// CHECK-LABEL: func.func @absent(
// CHECK: spak_graph.attention {{.*}}spak.unfused = "online_softmax"
func.func @absent(%q: tensor<1x8x16xf32>) -> tensor<1x8x16xf32> {
  %o = spak_graph.attention %q, %q, %q {heads = 4 : i64} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return %o : tensor<1x8x16xf32>
}
