// spak-pad-vocab then autodiff: cross_entropy_grad inherits `classes`, the padded table's gradient has the padded
// rows (zero there: dlogits is 0 in the padding columns, docs/nanogpt.md).
// RUN: spak-opt %s -spak-pad-vocab -spak-shape-inference -spak-autodiff | FileCheck %s

// CHECK-LABEL: func.func @backward(
// CHECK-SAME: %arg2: tensor<128x16xf32> {spak.param = "wte", spak.valid_rows = 65 : i64}
// CHECK: spak_graph.cross_entropy_grad {{.*}} {classes = 65 : i64} : (tensor<f32>, tensor<2x8x128xf32>, tensor<2x8xi32>) -> tensor<2x8x128xf32>
// CHECK: spak_graph.embed_grad {{.*}} {vocab = 128 : i64}
// CHECK-SAME: -> tensor<128x16xf32>
module attributes {
  spak.laws = {pad_vocab = #spak_tile.law<"pad_vocab", 64, "t.dsl:1:3">},
  spak.rules = [#spak_graph.rule<name = "Vocab Padding", apply = "pad_vocab", enabled = true, priority = 3, loc = "rules/fusion.dsl:41:3">]} {
func.func @forward(%tok: tensor<2x8xi32> {spak.input = "tokens"}, %tgt: tensor<2x8xi32> {spak.input = "targets"},
                   %wte: tensor<65x16xf32> {spak.param = "wte"}) -> (tensor<f32> {spak.loss}) attributes {spak.forward} {
  %x = spak_graph.embed %wte, %tok : (tensor<65x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  %l = spak_graph.linear %x, %wte : (tensor<2x8x16xf32>, tensor<65x16xf32>) -> tensor<2x8x65xf32>
  %c = spak_graph.cross_entropy %l, %tgt : (tensor<2x8x65xf32>, tensor<2x8xi32>) -> tensor<f32>
  return %c : tensor<f32>
}
func.func @infer(%tok: tensor<2x8xi32> {spak.input = "tokens"}, %wte: tensor<65x16xf32> {spak.param = "wte"})
    -> tensor<2x8x65xf32> attributes {spak.infer} {
  %x = spak_graph.embed %wte, %tok : (tensor<65x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  %l = spak_graph.linear %x, %wte : (tensor<2x8x16xf32>, tensor<65x16xf32>) -> tensor<2x8x65xf32>
  return %l : tensor<2x8x65xf32>
}
}

