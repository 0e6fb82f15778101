// spak-pad-vocab: the lm_head's classes padded to a multiple of law pad_vocab (rule apply pad_vocab).
// RUN: spak-opt %s -split-input-file -verify-diagnostics -spak-pad-vocab | FileCheck %s
// The padded module through autodiff: tests/lit/graph/pad-vocab-autodiff.mlir.

// Weight tying (GPT-2): wte is the embedding table and the lm_head. 65 -> 128 with pad_vocab = 64.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %arg2: tensor<128x16xf32> {spak.param = "wte", spak.valid_rows = 65 : i64}
// CHECK: spak_graph.embed %arg2, %arg0 {spak.valid_rows = 65 : i64} : (tensor<128x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
// CHECK: spak_graph.linear {{.*}} {spak.padded_by = "Vocab Padding (rules/fusion.dsl:41:3): classes 65 -> 128, law pad_vocab = 64 (t.dsl:1:3)"} : (tensor<2x8x16xf32>, tensor<128x16xf32>) -> tensor<2x8x128xf32>
// CHECK: spak_graph.cross_entropy {{.*}} {classes = 65 : i64} : (tensor<2x8x128xf32>, tensor<2x8xi32>) -> tensor<f32>
// CHECK-LABEL: func.func @infer(
// CHECK-SAME: %arg1: tensor<128x16xf32> {spak.param = "wte", spak.valid_rows = 65 : i64}) -> tensor<2x8x128xf32> attributes {spak.classes = 65 : i64, spak.infer}
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

// -----

// A separate lm_head with a bias: both padded. A vocabulary that is already a multiple (128) or below one multiple
// (27) is left alone.
// CHECK-LABEL: func.func @bias(
// CHECK-SAME: %arg1: tensor<256x16xf32> {spak.param = "head.w", spak.valid_rows = 200 : i64}, %arg2: tensor<256xf32> {spak.param = "head.b", spak.valid_rows = 200 : i64}
// CHECK: spak_graph.linear {{.*}} -> tensor<4x256xf32>
// CHECK: spak_graph.cross_entropy {{.*}} {classes = 200 : i64}
// CHECK-LABEL: func.func @multiple(
// CHECK-NOT: valid_rows
// CHECK: spak_graph.cross_entropy %{{.*}}, %{{.*}} : (tensor<4x128xf32>
// CHECK-LABEL: func.func @small(
// CHECK-NOT: valid_rows
// CHECK: spak_graph.cross_entropy %{{.*}}, %{{.*}} : (tensor<4x27xf32>
module attributes {
  spak.laws = {pad_vocab = #spak_tile.law<"pad_vocab", 64, "t.dsl:1:3">},
  spak.rules = [#spak_graph.rule<name = "Vocab Padding", apply = "pad_vocab", enabled = true, priority = 3, loc = "r.dsl:1:1">]} {
func.func @bias(%x: tensor<4x16xf32>, %w: tensor<200x16xf32> {spak.param = "head.w"}, %b: tensor<200xf32> {spak.param = "head.b"},
                %tgt: tensor<4xi32>) -> tensor<f32> {
  %l = spak_graph.linear %x, %w, %b : (tensor<4x16xf32>, tensor<200x16xf32>, tensor<200xf32>) -> tensor<4x200xf32>
  %c = spak_graph.cross_entropy %l, %tgt : (tensor<4x200xf32>, tensor<4xi32>) -> tensor<f32>
  return %c : tensor<f32>
}
func.func @multiple(%x: tensor<4x16xf32>, %w: tensor<128x16xf32> {spak.param = "w"}, %tgt: tensor<4xi32>) -> tensor<f32> {
  %l = spak_graph.linear %x, %w : (tensor<4x16xf32>, tensor<128x16xf32>) -> tensor<4x128xf32>
  %c = spak_graph.cross_entropy %l, %tgt : (tensor<4x128xf32>, tensor<4xi32>) -> tensor<f32>
  return %c : tensor<f32>
}
func.func @small(%x: tensor<4x16xf32>, %w: tensor<27x16xf32> {spak.param = "w"}, %tgt: tensor<4xi32>) -> tensor<f32> {
  %l = spak_graph.linear %x, %w : (tensor<4x16xf32>, tensor<27x16xf32>) -> tensor<4x27xf32>
  %c = spak_graph.cross_entropy %l, %tgt : (tensor<4x27xf32>, tensor<4xi32>) -> tensor<f32>
  return %c : tensor<f32>
}
}

// -----

// The logits also feed another op: no padding, a remark says why.
module attributes {
  spak.laws = {pad_vocab = #spak_tile.law<"pad_vocab", 64, "t.dsl:1:3">},
  spak.rules = [#spak_graph.rule<name = "Vocab Padding", apply = "pad_vocab", enabled = true, priority = 3, loc = "r.dsl:1:1">]} {
// expected-remark @below {{rule "Vocab Padding" (r.dsl:1:1) does not pad the vocabulary of @other: the logits are also read by spak_graph.gelu}}
func.func @other(%x: tensor<4x16xf32>, %w: tensor<100x16xf32> {spak.param = "w"}, %tgt: tensor<4xi32>) -> (tensor<f32>, tensor<4x100xf32>) {
  %l = spak_graph.linear %x, %w : (tensor<4x16xf32>, tensor<100x16xf32>) -> tensor<4x100xf32>
  %c = spak_graph.cross_entropy %l, %tgt : (tensor<4x100xf32>, tensor<4xi32>) -> tensor<f32>
  %g = spak_graph.gelu %l : (tensor<4x100xf32>) -> tensor<4x100xf32>
  return %c, %g : tensor<f32>, tensor<4x100xf32>
}
}

// -----

// The rule disabled: nothing changes.
// CHECK-LABEL: func.func @off(
// CHECK-NOT: valid_rows
// CHECK: tensor<4x100xf32>
module attributes {
  spak.laws = {pad_vocab = #spak_tile.law<"pad_vocab", 64, "t.dsl:1:3">},
  spak.rules = [#spak_graph.rule<name = "Vocab Padding", apply = "pad_vocab", enabled = false, priority = 3, loc = "r.dsl:1:1">]} {
func.func @off(%x: tensor<4x16xf32>, %w: tensor<100x16xf32> {spak.param = "w"}, %tgt: tensor<4xi32>) -> tensor<f32> {
  %l = spak_graph.linear %x, %w : (tensor<4x16xf32>, tensor<100x16xf32>) -> tensor<4x100xf32>
  %c = spak_graph.cross_entropy %l, %tgt : (tensor<4x100xf32>, tensor<4xi32>) -> tensor<f32>
  return %c : tensor<f32>
}
}

// -----

// classes outside [1, V] is a verifier error.
func.func @bad(%l: tensor<4x100xf32>, %tgt: tensor<4xi32>) -> tensor<f32> {
  // expected-error @below {{classes = 101 must be in [1, 100]}}
  // expected-error @below {{failed to infer returned types}}
  %c = spak_graph.cross_entropy %l, %tgt {classes = 101 : i64} : (tensor<4x100xf32>, tensor<4xi32>) -> tensor<f32>
  return %c : tensor<f32>
}
