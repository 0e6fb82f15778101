// Round trip of every spak_graph op and the #spak_graph.rule attribute:
// custom form -> custom form, and custom -> generic -> custom.
// RUN: spak-opt %s | spak-opt | FileCheck %s
// RUN: spak-opt %s --mlir-print-op-generic | spak-opt | FileCheck %s

// CHECK: module attributes {spak.rules = [#spak_graph.rule<name = "fuse_rmsnorm", apply = "fuse(rmsnorm, linear)", enabled = true, priority = 10, loc = "rules/fusion.dsl:12:3">]
module attributes {spak.rules = [#spak_graph.rule<name = "fuse_rmsnorm", apply = "fuse(rmsnorm, linear)", enabled = true, priority = 10, loc = "rules/fusion.dsl:12:3">],
                   spak.train = {optimizer = "adam", lr = 1.0e-2 : f64}} {

// CHECK-LABEL: func.func @forward_ops
func.func @forward_ops(%wte: tensor<27x16xf32>, %tok: tensor<2x?xi32>, %x: tensor<2x?x16xf32>,
                       %w: tensor<64x16xf32>, %b: tensor<64xf32>, %lnw: tensor<16xf32>, %row: tensor<16xf32>,
                       %step: tensor<i32>) {
  // CHECK: spak_graph.embed %{{.*}}, %{{.*}} : (tensor<27x16xf32>, tensor<2x?xi32>) -> tensor<2x?x16xf32>
  %0 = spak_graph.embed %wte, %tok : (tensor<27x16xf32>, tensor<2x?xi32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.positions %{{.*}} : (tensor<2x?xi32>) -> tensor<?xi32>
  %1 = spak_graph.positions %tok : (tensor<2x?xi32>) -> tensor<?xi32>
  // CHECK: spak_graph.add %{{.*}}, %{{.*}} : (tensor<2x?x16xf32>, tensor<16xf32>) -> tensor<2x?x16xf32>
  %2 = spak_graph.add %x, %row : (tensor<2x?x16xf32>, tensor<16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.sub
  %3 = spak_graph.sub %x, %2 : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.mul
  %4 = spak_graph.mul %3, %row : (tensor<2x?x16xf32>, tensor<16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.scale %{{.*}} {factor = 5.000000e-01 : f64}
  %5 = spak_graph.scale %4 {factor = 0.5 : f64} : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.relu
  %6 = spak_graph.relu %5 : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.gelu
  %7 = spak_graph.gelu %6 : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.dropout %{{.*}}, %{{.*}} {p = 1.000000e-01 : f64, seed = 7 : i64} : (tensor<2x?x16xf32>, tensor<i32>) -> tensor<2x?x16xf32>
  %8 = spak_graph.dropout %7, %step {p = 0.1 : f64, seed = 7 : i64} : (tensor<2x?x16xf32>, tensor<i32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.dropout %{{.*}} {p = 0.000000e+00 : f64} : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  %9 = spak_graph.dropout %8 {p = 0.0 : f64} : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.zeros_like
  %10 = spak_graph.zeros_like %9 : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x?x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x?x64xf32>
  %11 = spak_graph.linear %10, %w, %b : (tensor<2x?x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x?x64xf32>
  // CHECK: spak_graph.linear %{{.*}}, %{{.*}} : (tensor<2x?x16xf32>, tensor<64x16xf32>) -> tensor<2x?x64xf32>
  %12 = spak_graph.linear %10, %w : (tensor<2x?x16xf32>, tensor<64x16xf32>) -> tensor<2x?x64xf32>
  // CHECK: spak_graph.matmul %{{.*}}, %{{.*}} {transpose_b = true} : (tensor<2x?x64xf32>, tensor<16x64xf32>) -> tensor<2x?x16xf32>
  %wt = spak_graph.transpose %w {perm = array<i64: 1, 0>} : (tensor<64x16xf32>) -> tensor<16x64xf32>
  %13 = spak_graph.matmul %12, %wt {transpose_b = true} : (tensor<2x?x64xf32>, tensor<16x64xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.matmul %{{.*}}, %{{.*}} {transpose_a = true} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x16x16xf32>
  %14 = spak_graph.matmul %13, %x {transpose_a = true} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x16x16xf32>
  // CHECK: spak_graph.rmsnorm %{{.*}} {eps = 5.000000e-01 : f64}
  %15 = spak_graph.rmsnorm %13 {eps = 0.5 : f64} : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.layernorm %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<2x?x16xf32>
  %16 = spak_graph.layernorm %15, %lnw, %row : (tensor<2x?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.softmax %{{.*}} {axis = 1 : i64}
  %17 = spak_graph.softmax %16 {axis = 1 : i64} : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.attention %{{.*}}, %{{.*}}, %{{.*}} {heads = 4 : i64} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  %18 = spak_graph.attention %17, %16, %15 {heads = 4 : i64} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.attention %{{.*}}, %{{.*}}, %{{.*}} {causal = false, heads = 2 : i64, scale = 1.250000e-01 : f64}
  %19 = spak_graph.attention %18, %18, %18 {heads = 2 : i64, causal = false, scale = 0.125 : f64} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.reshape %{{.*}} {shape = array<i64: -1, 16>} : (tensor<2x?x16xf32>) -> tensor<?x16xf32>
  %20 = spak_graph.reshape %19 {shape = array<i64: -1, 16>} : (tensor<2x?x16xf32>) -> tensor<?x16xf32>
  // CHECK: spak_graph.transpose %{{.*}} {perm = array<i64: 1, 0>} : (tensor<?x16xf32>) -> tensor<16x?xf32>
  %21 = spak_graph.transpose %20 {perm = array<i64: 1, 0>} : (tensor<?x16xf32>) -> tensor<16x?xf32>
  // CHECK: spak_graph.split %{{.*}} {parts = 2 : i64} : (tensor<2x?x64xf32>) -> (tensor<2x?x32xf32>, tensor<2x?x32xf32>)
  %22:2 = spak_graph.split %11 {parts = 2 : i64} : (tensor<2x?x64xf32>) -> (tensor<2x?x32xf32>, tensor<2x?x32xf32>)
  // CHECK: spak_graph.concat %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<2x?x32xf32>, tensor<2x?x32xf32>) -> tensor<4x?x32xf32>
  %23 = spak_graph.concat %22#0, %22#1 {axis = 0 : i64} : (tensor<2x?x32xf32>, tensor<2x?x32xf32>) -> tensor<4x?x32xf32>
  // CHECK: spak_graph.reduce_sum %{{.*}} {axes = array<i64: 0, 1>} : (tensor<4x?x32xf32>) -> tensor<32xf32>
  %24 = spak_graph.reduce_sum %23 {axes = array<i64: 0, 1>} : (tensor<4x?x32xf32>) -> tensor<32xf32>
  // CHECK: spak_graph.reduce_sum %{{.*}} {axes = array<i64: 1>, keepdims = true} : (tensor<4x?x32xf32>) -> tensor<4x1x32xf32>
  %25 = spak_graph.reduce_sum %23 {axes = array<i64: 1>, keepdims = true} : (tensor<4x?x32xf32>) -> tensor<4x1x32xf32>
  // CHECK: spak_graph.broadcast_like %{{.*}}, %{{.*}} {axes = array<i64: 1>} : (tensor<4x1x32xf32>, tensor<4x?x32xf32>) -> tensor<4x?x32xf32>
  %26 = spak_graph.broadcast_like %25, %23 {axes = array<i64: 1>} : (tensor<4x1x32xf32>, tensor<4x?x32xf32>) -> tensor<4x?x32xf32>
  // CHECK: spak_graph.cross_entropy %{{.*}}, %{{.*}} : (tensor<2x?x64xf32>, tensor<2x?xi32>) -> tensor<f32>
  %27 = spak_graph.cross_entropy %11, %tok : (tensor<2x?x64xf32>, tensor<2x?xi32>) -> tensor<f32>
  return
}

// CHECK-LABEL: func.func @backward_ops
func.func @backward_ops(%dy: tensor<2x?x16xf32>, %x: tensor<2x?x16xf32>, %w: tensor<16xf32>,
                        %logits: tensor<2x?x27xf32>, %tok: tensor<2x?xi32>, %dl: tensor<f32>) {
  // CHECK: spak_graph.relu_grad
  %0 = spak_graph.relu_grad %dy, %x : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.gelu_grad
  %1 = spak_graph.gelu_grad %dy, %x : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.rmsnorm_grad %{{.*}}, %{{.*}} : (tensor
  %2 = spak_graph.rmsnorm_grad %dy, %x {eps = 1.0e-5 : f64} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.layernorm_grad %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<16xf32>) -> (tensor<2x?x16xf32>, tensor<16xf32>, tensor<16xf32>)
  %3:3 = spak_graph.layernorm_grad %dy, %x, %w : (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<16xf32>) -> (tensor<2x?x16xf32>, tensor<16xf32>, tensor<16xf32>)
  // CHECK: spak_graph.softmax_grad %{{.*}}, %{{.*}} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  %4 = spak_graph.softmax_grad %dy, %x : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: spak_graph.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {heads = 4 : i64} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>)
  %5:3 = spak_graph.attention_grad %dy, %x, %x, %x {heads = 4 : i64} : (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>)
  // CHECK: spak_graph.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} : (tensor<f32>, tensor<2x?x27xf32>, tensor<2x?xi32>) -> tensor<2x?x27xf32>
  %6 = spak_graph.cross_entropy_grad %dl, %logits, %tok : (tensor<f32>, tensor<2x?x27xf32>, tensor<2x?xi32>) -> tensor<2x?x27xf32>
  // CHECK: spak_graph.embed_grad %{{.*}}, %{{.*}} {vocab = 27 : i64} : (tensor<2x?x16xf32>, tensor<2x?xi32>) -> tensor<27x16xf32>
  %7 = spak_graph.embed_grad %dy, %tok {vocab = 27 : i64} : (tensor<2x?x16xf32>, tensor<2x?xi32>) -> tensor<27x16xf32>
  return
}

// CHECK-LABEL: func.func @optimizer_ops
func.func @optimizer_ops(%p: tensor<27x16xf64>, %g: tensor<27x16xf64>, %m: tensor<27x16xf64>, %v: tensor<27x16xf64>,
                         %b: tensor<16xf64>, %step: tensor<i64>) {
  // CHECK: spak_graph.adam %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {beta1 = 8.500000e-01 : f64, beta2 = {{.*}} : f64, eps = 1.000000e-08 : f64, lr = 1.000000e-02 : f64, schedule = "linear_decay", total_steps = 1000 : i64}
  %0:3 = spak_graph.adam %p, %g, %m, %v, %step {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "linear_decay", total_steps = 1000 : i64} : (tensor<27x16xf64>, tensor<27x16xf64>, tensor<27x16xf64>, tensor<27x16xf64>, tensor<i64>) -> (tensor<27x16xf64>, tensor<27x16xf64>, tensor<27x16xf64>)
  // CHECK: spak_graph.adam {{.*}} {beta1 = 9.000000e-01 : f64, beta2 = {{.*}} : f64, eps = 1.000000e-08 : f64, lr = 1.000000e-03 : f64, min_lr = 1.000000e-04 : f64, schedule = "cosine", total_steps = 5000 : i64, warmup = 100 : i64, weight_decay = 1.000000e-01 : f64}
  %1:3 = spak_graph.adam %p, %g, %m, %v, %step {lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.1 : f64, schedule = "cosine", warmup = 100 : i64, min_lr = 1.0e-4 : f64, total_steps = 5000 : i64} : (tensor<27x16xf64>, tensor<27x16xf64>, tensor<27x16xf64>, tensor<27x16xf64>, tensor<i64>) -> (tensor<27x16xf64>, tensor<27x16xf64>, tensor<27x16xf64>)
  // CHECK: spak_graph.clip_grad_norm %{{.*}}, %{{.*}} {max_norm = 1.000000e+00 : f64} : (tensor<27x16xf64>, tensor<16xf64>) -> (tensor<27x16xf64>, tensor<16xf64>, tensor<f64>)
  %2:3 = spak_graph.clip_grad_norm %g, %b {max_norm = 1.0 : f64} : (tensor<27x16xf64>, tensor<16xf64>) -> (tensor<27x16xf64>, tensor<16xf64>, tensor<f64>)
  return
}

// The step as the pair [step, total_steps] (the schedule length at run time; total_steps attribute: the default).
// CHECK-LABEL: func.func @adam_step_pair
func.func @adam_step_pair(%p: tensor<27x16xf32>, %st: tensor<2xi32>) {
  // CHECK: spak_graph.adam %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {{.*}} : (tensor<27x16xf32>, tensor<27x16xf32>, tensor<27x16xf32>, tensor<27x16xf32>, tensor<2xi32>) -> (tensor<27x16xf32>, tensor<27x16xf32>, tensor<27x16xf32>)
  %0:3 = spak_graph.adam %p, %p, %p, %p, %st {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "linear_decay", total_steps = 1000 : i64} : (tensor<27x16xf32>, tensor<27x16xf32>, tensor<27x16xf32>, tensor<27x16xf32>, tensor<2xi32>) -> (tensor<27x16xf32>, tensor<27x16xf32>, tensor<27x16xf32>)
  return
}
}
