// spak-optimizer-step: @train_step = inlined @backward + optional global-norm clip + one adam per parameter.
// RUN: spak-opt %s --split-input-file --verify-diagnostics --spak-autodiff --spak-optimizer-step | FileCheck %s
// RUN: spak-opt %s --split-input-file --verify-diagnostics --spak-autodiff --spak-optimizer-step="lr=0.5 grad-clip=0" | FileCheck %s --check-prefix=OVR

// MicroGPT's optimizer: Adam, lr 0.01, betas 0.85/0.99, linear decay over 1000 steps, no clipping. The step
// argument is [step, total_steps]: the schedule's length at run time; the attribute is the default (<= 0).
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: (%[[W:.*]]: tensor<8x4xf32> {spak.param = "w"}, %[[MW:.*]]: tensor<8x4xf32> {spak.adam_m = "w"}, %[[VW:.*]]: tensor<8x4xf32> {spak.adam_v = "w"}, %[[STEP:.*]]: tensor<2xi32> {spak.step}, %[[TOK:.*]]: tensor<1x?xi32> {spak.input = "tokens"}, %{{.*}}: tensor<1x?xi32> {spak.input = "targets"})
// CHECK-SAME: -> (tensor<f32> {spak.loss}, tensor<8x4xf32> {spak.param = "w"}, tensor<8x4xf32> {spak.adam_m = "w"}, tensor<8x4xf32> {spak.adam_v = "w"})
// CHECK-SAME: attributes {spak.train_step}
// CHECK: spak_graph.embed_grad
// CHECK: %[[G:.*]] = spak_graph.add
// CHECK-NOT: clip_grad_norm
// CHECK: %[[P:.*]], %[[M:.*]], %[[V:.*]] = spak_graph.adam %[[W]], %[[G]], %[[MW]], %[[VW]], %[[STEP]] {beta1 = 8.500000e-01 : f64, beta2 = {{.*}} : f64, eps = 1.000000e-08 : f64, lr = 1.000000e-02 : f64, schedule = "linear_decay", total_steps = 1000 : i64}
// CHECK: return %{{.*}}, %[[P]], %[[M]], %[[V]]
// OVR-LABEL: func.func @train_step
// OVR: spak_graph.adam {{.*}}lr = 5.000000e-01 : f64
module attributes {spak.train = {optimizer = "adam", lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64,
                                 eps = 1.0e-8 : f64, schedule = "linear_decay", steps = 1000 : i64}} {
  func.func @forward(%w: tensor<8x4xf32> {spak.param = "w"}, %tok: tensor<1x?xi32> {spak.input = "tokens"},
                     %tgt: tensor<1x?xi32> {spak.input = "targets"}) -> tensor<f32> attributes {spak.forward} {
    %e = spak_graph.embed %w, %tok : (tensor<8x4xf32>, tensor<1x?xi32>) -> tensor<1x?x4xf32>
    %l = spak_graph.linear %e, %w : (tensor<1x?x4xf32>, tensor<8x4xf32>) -> tensor<1x?x8xf32>
    %loss = spak_graph.cross_entropy %l, %tgt : (tensor<1x?x8xf32>, tensor<1x?xi32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
}

// -----

// nanoGPT's optimizer: AdamW with weight decay on matrices only, cosine schedule with warmup, clip at 1.0.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: -> (tensor<f32> {spak.loss}, tensor<6x4xf32> {spak.param = "w"}, tensor<6xf32> {spak.param = "b"}, tensor<6x4xf32> {spak.adam_m = "w"}, tensor<6xf32> {spak.adam_m = "b"}, tensor<6x4xf32> {spak.adam_v = "w"}, tensor<6xf32> {spak.adam_v = "b"}, tensor<f32> {spak.grad_norm})
// CHECK: %[[C:.*]]:2, %[[N:.*]] = spak_graph.clip_grad_norm %{{.*}}, %{{.*}} {max_norm = 1.000000e+00 : f64}
// CHECK: spak_graph.adam {{.*}}, %[[C]]#0, {{.*}} {beta1 = 9.000000e-01 : f64, beta2 = {{.*}} : f64, eps = 1.000000e-08 : f64, lr = 1.000000e-03 : f64, min_lr = 1.000000e-04 : f64, schedule = "cosine", total_steps = 5000 : i64, warmup = 100 : i64, weight_decay = 1.000000e-01 : f64}
// CHECK: spak_graph.adam {{.*}}, %[[C]]#1, {{.*}} {beta1 = 9.000000e-01 : f64, beta2 = {{.*}} : f64, eps = 1.000000e-08 : f64, lr = 1.000000e-03 : f64, min_lr = 1.000000e-04 : f64, schedule = "cosine", total_steps = 5000 : i64, warmup = 100 : i64}
// CHECK: return {{.*}}, %[[N]] :
// OVR-LABEL: func.func @train_step
// OVR-NOT: clip_grad_norm
// OVR: spak_graph.adam {{.*}}lr = 5.000000e-01 : f64
module attributes {spak.train = {optimizer = "adamw", lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64,
                                 weight_decay = 0.1 : f64, schedule = "cosine", warmup = 100 : i64, min_lr = 1.0e-4 : f64,
                                 steps = 5000 : i64, grad_clip = 1.0 : f64}} {
  func.func @forward(%w: tensor<6x4xf32> {spak.param = "w"}, %b: tensor<6xf32> {spak.param = "b"},
                     %x: tensor<2x?x4xf32> {spak.input = "x"}, %tgt: tensor<2x?xi32> {spak.input = "targets"}) -> tensor<f32> attributes {spak.forward} {
    %l = spak_graph.linear %x, %w, %b : (tensor<2x?x4xf32>, tensor<6x4xf32>, tensor<6xf32>) -> tensor<2x?x6xf32>
    %loss = spak_graph.cross_entropy %l, %tgt : (tensor<2x?x6xf32>, tensor<2x?xi32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
}

// -----

// expected-error@+1 {{spak-optimizer-step: the module has no 'spak.train' dictionary}}
module {
  func.func @forward(%w: tensor<4xf32> {spak.param = "w"}) -> tensor<f32> attributes {spak.forward} {
    %0 = spak_graph.reduce_sum %w {axes = array<i64>} : (tensor<4xf32>) -> tensor<f32>
    return %0 : tensor<f32>
  }
}

// -----

// expected-error@+1 {{spak.train: weight_decay 1.000000e-01 needs optimizer "adamw" (decoupled weight decay)}}
module attributes {spak.train = {optimizer = "adam", lr = 1.0e-3 : f64, weight_decay = 0.1 : f64}} {
  func.func @forward(%w: tensor<4xf32> {spak.param = "w"}) -> tensor<f32> attributes {spak.forward} {
    %0 = spak_graph.reduce_sum %w {axes = array<i64>} : (tensor<4xf32>) -> tensor<f32>
    return %0 : tensor<f32>
  }
}

// -----

// expected-error@+1 {{spak.train: schedule "cosine" needs steps > 0}}
module attributes {spak.train = {optimizer = "adamw", lr = 1.0e-3 : f64, schedule = "cosine"}} {
  func.func @forward(%w: tensor<4xf32> {spak.param = "w"}) -> tensor<f32> attributes {spak.forward} {
    %0 = spak_graph.reduce_sum %w {axes = array<i64>} : (tensor<4xf32>) -> tensor<f32>
    return %0 : tensor<f32>
  }
}

// -----

// expected-error@+1 {{spak.train: 'lr' must be a number, got "fast"}}
module attributes {spak.train = {optimizer = "adam", lr = "fast"}} {
  func.func @forward(%w: tensor<4xf32> {spak.param = "w"}) -> tensor<f32> attributes {spak.forward} {
    %0 = spak_graph.reduce_sum %w {axes = array<i64>} : (tensor<4xf32>) -> tensor<f32>
    return %0 : tensor<f32>
  }
}
