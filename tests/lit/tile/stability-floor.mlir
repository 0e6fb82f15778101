// spak-stability-floor: masked-logit ops get the floor law; -inf / NaN / non-negative floors are errors.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-stability-floor -verify-diagnostics | FileCheck %s
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-stability-floor=floor=-3.0e4 | FileCheck %s --check-prefix=OPT

// Default floor (no module attribute): -1e20 with provenance "default"; ops without logits are untouched.
// CHECK-LABEL: func.func @default_floor
// CHECK: spak_graph.softmax{{.*}}spak.floor = #spak_tile.law<"stability_floor", -1.000000e+20, "default">
// CHECK: spak_graph.cross_entropy{{.*}}spak.floor = #spak_tile.law<"stability_floor", -1.000000e+20, "default">
// CHECK: spak_graph.attention{{.*}}spak.floor = #spak_tile.law<"stability_floor", -1.000000e+20, "default">
// CHECK: spak_graph.relu
// CHECK-NOT: spak.floor
// CHECK: return
// OPT-LABEL: func.func @default_floor
// OPT: spak_graph.softmax{{.*}}spak.floor = #spak_tile.law<"stability_floor", -3.000000e+04, "option:floor">
func.func @default_floor(%x: tensor<?x27xf32>, %t: tensor<?xi32>, %q: tensor<1x?x16xf32>) {
  %0 = "spak_graph.softmax"(%x) : (tensor<?x27xf32>) -> tensor<?x27xf32>
  %1 = "spak_graph.cross_entropy"(%x, %t) : (tensor<?x27xf32>, tensor<?xi32>) -> tensor<f32>
  %2 = "spak_graph.attention"(%q, %q, %q) {heads = 4 : i64, causal = true} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %3 = "spak_graph.relu"(%x) : (tensor<?x27xf32>) -> tensor<?x27xf32>
  return
}

// -----

// The floor from the target file keeps its provenance.
// CHECK-LABEL: func.func @from_rules
// CHECK: spak.floor = #spak_tile.law<"stability_floor", -1.000000e+09, "rules/targets/x.dsl:7:3">
module attributes {spak.stability_floor = #spak_tile.law<"stability_floor", -1.0e9, "rules/targets/x.dsl:7:3">} {
func.func @from_rules(%x: tensor<?x27xf32>) {
  %0 = "spak_graph.softmax"(%x) : (tensor<?x27xf32>) -> tensor<?x27xf32>
  return
}
}

// -----

// The floor may also sit in spak.laws (a target file's `stability_floor = ...`).
// CHECK-LABEL: func.func @from_laws
// CHECK: spak.floor = #spak_tile.law<"stability_floor", -1.000000e+20, "rules/targets/sm90_h100.dsl:17:3">
module attributes {spak.laws = {stability_floor = #spak_tile.law<"stability_floor", -1.0e20, "rules/targets/sm90_h100.dsl:17:3">}} {
func.func @from_laws(%x: tensor<?x27xf32>) {
  %0 = "spak_graph.softmax"(%x) : (tensor<?x27xf32>) -> tensor<?x27xf32>
  return
}
}

// -----

// expected-error @+1 {{stability floor must be a finite number, got -inf (rules/targets/bad.dsl:3:3): exp(-inf - (-inf)) is NaN}}
module attributes {spak.stability_floor = #spak_tile.law<"stability_floor", -inf, "rules/targets/bad.dsl:3:3">} {
func.func @neg_inf(%x: tensor<?x27xf32>) {
  %0 = "spak_graph.softmax"(%x) : (tensor<?x27xf32>) -> tensor<?x27xf32>
  return
}
}

// -----

// expected-error @+1 {{stability floor must be a finite number, got nan (module attribute)}}
module attributes {spak.stability_floor = 0x7FF8000000000000 : f64} {
}

// -----

// expected-error @+1 {{stability floor must be negative, got 0.000000e+00 (x.dsl:1:1)}}
module attributes {spak.stability_floor = #spak_tile.law<"stability_floor", 0.0, "x.dsl:1:1">} {
}
