// Verifier of spak_graph.fused: kind, rule, provenance and the body's shape.
// RUN: spak-opt %s -split-input-file -verify-diagnostics

func.func @unknown_kind(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{unknown fused kind "magic"}}
  %0 = spak_graph.fused "magic"(%x) {rule = "R"} : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    spak_graph.yield %a : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @bad_loc(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{rule_loc "fusion.dsl" is not "file:line:col", "option:<flag>" or empty}}
  %0 = spak_graph.fused "norm_linear"(%x, %w) {rule = "R", rule_loc = "fusion.dsl"} : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32> {
  ^bb0(%a: tensor<4x16xf32>, %b: tensor<16x16xf32>):
    %n = spak_graph.rmsnorm %a : (tensor<4x16xf32>) -> tensor<4x16xf32>
    %y = spak_graph.linear %n, %b : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
    spak_graph.yield %y : tensor<4x16xf32>
  }
  return %0 : tensor<4x16xf32>
}

// -----

func.func @no_norm(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{kind "norm_linear": the body must start with rmsnorm of a region argument}}
  %0 = spak_graph.fused "norm_linear"(%x, %w) {rule = "R"} : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32> {
  ^bb0(%a: tensor<4x16xf32>, %b: tensor<16x16xf32>):
    %y = spak_graph.linear %a, %b : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32>
    spak_graph.yield %y : tensor<4x16xf32>
  }
  return %0 : tensor<4x16xf32>
}

// -----

func.func @bad_yield(%x: tensor<4x16xf32>, %w: tensor<16x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{yielded value #0 has type 'tensor<4x8xf32>', incompatible with result type 'tensor<4x16xf32>'}}
  %0 = spak_graph.fused "linear_bias_gelu"(%x, %w) {rule = "R"} : (tensor<4x16xf32>, tensor<16x16xf32>) -> tensor<4x16xf32> {
  ^bb0(%a: tensor<4x16xf32>, %b: tensor<16x16xf32>):
    %c = spak_graph.zeros_like %a : (tensor<4x16xf32>) -> tensor<4x16xf32>
    %y = spak_graph.reshape %c {shape = array<i64: 4, 2, 8>} : (tensor<4x16xf32>) -> tensor<4x2x8xf32>
    %z = spak_graph.reshape %y {shape = array<i64: 8, 8>} : (tensor<4x2x8xf32>) -> tensor<8x8xf32>
    %q = spak_graph.reshape %z {shape = array<i64: 4, 8, 2>} : (tensor<8x8xf32>) -> tensor<4x8x2xf32>
    %r = spak_graph.reduce_sum %q {axes = array<i64: 2>} : (tensor<4x8x2xf32>) -> tensor<4x8xf32>
    spak_graph.yield %r : tensor<4x8xf32>
  }
  return %0 : tensor<4x16xf32>
}

// -----

func.func @adam_mixed(%p: tensor<8xf32>, %s: tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  // expected-error @+1 {{kind "multi_tensor_adam": every adam must have the same attributes (op #1 differs)}}
  %0:6 = spak_graph.fused "multi_tensor_adam"(%p, %s) {rule = "R"} : (tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  ^bb0(%a: tensor<8xf32>, %t: tensor<i32>):
    %x:3 = spak_graph.adam %a, %a, %a, %a, %t {lr = 0.01 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
    %y:3 = spak_graph.adam %a, %a, %a, %a, %t {lr = 0.02 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
    spak_graph.yield %x#0, %x#1, %x#2, %y#0, %y#1, %y#2 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  }
  return %0#0, %0#1, %0#2, %0#3, %0#4, %0#5 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}
