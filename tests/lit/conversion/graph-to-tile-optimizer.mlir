// Lowering of the optimizer ops: adam / adamw (lr schedule computed on device from the step buffer,
// bias corrections as exp(t ln beta), in-place update of parameter and moments), and deterministic
// global-norm gradient clipping (partials, one ordered sum, scale).
// RUN: spak-opt %s -split-input-file -spak-graph-to-tile | FileCheck %s

// MicroGPT's Adam: linear decay over 1000 steps, no weight decay; the update is in place.
// CHECK-LABEL: spak_tile.kernel @adam_0(
// CHECK-SAME: %{{.*}}: !spak_tile.buffer<1xi32>,
// CHECK-SAME: math = "lr_s = 0.01 (1 - s / 1000); m = 0.85 m + 0.15 g; v = 0.99 v + 0.01 g^2; p -= lr_s (m / (1 - 0.85^t)) / (sqrt(v / (1 - 0.99^t)) + 1e-08), t = s + 1  (s read on device)"
// CHECK: %[[S:.*]] = spak_tile.extract %{{.*}}[0] : !spak_tile.tile<1xi32> -> i32
// CHECK: %[[SF:.*]] = arith.sitofp %[[S]] : i32 to f32
// CHECK: spak_tile.broadcast %[[SF]] : f32 -> !spak_tile.tile<1xf32>
// CHECK: spak_tile.constant 1.000000e+03 : !spak_tile.tile<1xf32>
// CHECK: spak_tile.constant -0.16251892949777494 : !spak_tile.tile<1xf32>
// CHECK: spak_tile.exp
// CHECK: spak_tile.sqrt %{{.*}} : !spak_tile.tile<512xf32>
// CHECK-COUNT-3: spak_tile.store
// CHECK-LABEL: func.func @adam(
// CHECK-SAME: %[[P:[a-z0-9]+]]: !spak_tile.buffer<16x32xf32>, %[[G:[a-z0-9]+]]: !spak_tile.buffer<16x32xf32>, %[[M:[a-z0-9]+]]: !spak_tile.buffer<16x32xf32>, %[[V:[a-z0-9]+]]: !spak_tile.buffer<16x32xf32>, %[[ST:[a-z0-9]+]]: !spak_tile.buffer<1xi32>)
// CHECK-SAME: -> (!spak_tile.buffer<16x32xf32> {spak.in_place_of = 0 : i64}, !spak_tile.buffer<16x32xf32> {spak.in_place_of = 2 : i64}, !spak_tile.buffer<16x32xf32> {spak.in_place_of = 3 : i64})
// CHECK-NOT: spak_tile.alloc
// CHECK: spak_tile.launch @adam_0
// CHECK: return %[[P]], %[[M]], %[[V]]
func.func @adam(%p: tensor<16x32xf32>, %g: tensor<16x32xf32>, %m: tensor<16x32xf32>, %v: tensor<16x32xf32>, %s: tensor<i32>) -> (tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>) {
  %0:3 = spak_graph.adam %p, %g, %m, %v, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "linear_decay", total_steps = 1000 : i64} : (tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<i32>) -> (tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>)
  return %0#0, %0#1, %0#2 : tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>
}

// -----

// nanoGPT's AdamW after clipping at 1.0: cosine with warmup 100 (cos by a polynomial), decoupled decay.
// Both gradients (1024 and 600 elements) are in the size class of tensors needing at most min_ctas programs: one
// grad_sumsq and one grad_clip kernel, program b handling block b of each (masked past a member's end).
// CHECK-LABEL: spak_tile.kernel @grad_sumsq_0(
// CHECK-SAME: math = "partials[0 + b] = sum_(i in block b) g0[i]^2; partials[2 + b] = sum_(i in block b) g1[i]^2; size class of 2 tensor(s), at most 49152 elements"
// CHECK: spak_tile.reduce sum %{{.*}} axis 0 : !spak_tile.tile<512xf32> -> !spak_tile.tile<1xf32>
// CHECK: spak_tile.store {{.*}} mask
// CHECK: %[[MSK:.*]] = spak_tile.mask bounds[%{{.*}}] within[%{{.*}}] : !spak_tile.tile<512xi1>
// CHECK: spak_tile.reduce sum %{{.*}} axis 0 : !spak_tile.tile<512xf32> -> !spak_tile.tile<1xf32>
// CHECK-NOT: spak_tile.kernel @grad_sumsq_1(
// CHECK-LABEL: spak_tile.kernel @grad_norm_0(
// CHECK-SAME: grid = ["1"], math = "norm = sqrt(sum_b partials[b]); f = min(1, 1 / (norm + 1e-6))  (fixed order: deterministic)"
// CHECK: scf.for
// CHECK: spak_tile.sqrt
// CHECK-LABEL: spak_tile.kernel @grad_clip_0(
// CHECK-SAME: math = "y[i] = g[i] * f for each member; size class of 2 tensor(s), at most 49152 elements"
// CHECK-LABEL: spak_tile.kernel @adamw_0(
// CHECK-SAME: %{{.*}}: !spak_tile.buffer<1xi64>,
// CHECK-SAME: math = "lr_s = cosine(0.001 -> 0.0001, 5000 steps), warmup 100; p -= lr_s 0.1 p;
// CHECK: spak_tile.constant 1.6059043836821613E-10 : !spak_tile.tile<1xf32>
// CHECK: spak_tile.cmp gt
// CHECK: spak_tile.cmp lt
// CHECK-LABEL: func.func @clip_adamw(
// CHECK: %[[PART:.*]] = spak_tile.alloc() : !spak_tile.buffer<4xf32>
// CHECK: spak_tile.launch @grad_sumsq_0[%{{.*}}] (%{{.*}}, %{{.*}}, %[[PART]])
// CHECK: spak_tile.launch @grad_norm_0[%{{.*}}] (%[[PART]], %{{.*}}, %[[F:.*]]) :
// CHECK: spak_tile.launch @grad_clip_0[%{{.*}}] (%{{.*}}, %{{.*}}, %[[F]], %{{.*}}, %{{.*}})
// CHECK: spak_tile.launch @adamw_0
func.func @clip_adamw(%p: tensor<64x16xf32>, %m: tensor<64x16xf32>, %v: tensor<64x16xf32>, %s: tensor<i64>, %x: tensor<64x16xf32>, %b: tensor<600xf32>) -> (tensor<64x16xf32>, tensor<600xf32>, tensor<f32>) {
  %g = spak_graph.mul %x, %x : (tensor<64x16xf32>, tensor<64x16xf32>) -> tensor<64x16xf32>
  %c:3 = spak_graph.clip_grad_norm %g, %b {max_norm = 1.0 : f64} : (tensor<64x16xf32>, tensor<600xf32>) -> (tensor<64x16xf32>, tensor<600xf32>, tensor<f32>)
  %0:3 = spak_graph.adam %p, %c#0, %m, %v, %s {lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, weight_decay = 0.1 : f64, schedule = "cosine", warmup = 100 : i64, min_lr = 1.0e-4 : f64, total_steps = 5000 : i64} : (tensor<64x16xf32>, tensor<64x16xf32>, tensor<64x16xf32>, tensor<64x16xf32>, tensor<i64>) -> (tensor<64x16xf32>, tensor<64x16xf32>, tensor<64x16xf32>)
  return %0#0, %c#1, %c#2 : tensor<64x16xf32>, tensor<600xf32>, tensor<f32>
}

// -----

// The step pair [step, total_steps]: the cosine's length is read on device; <= 0 selects the attribute (5000).
// CHECK-LABEL: spak_tile.kernel @adamw_0(
// CHECK-SAME: %{{.*}}: !spak_tile.buffer<2xi32>,
// CHECK-SAME: math = "lr_s = cosine(0.001 -> 0.0001, N steps), warmup 100, N = step[1] on device (<= 0: 5000); p -= lr_s 0.1 p;
// CHECK: %[[ST:.*]] = spak_tile.load %{{.*}}[%{{.*}}] : !spak_tile.buffer<2xi32> -> !spak_tile.tile<2xi32>
// CHECK: %[[S:.*]] = spak_tile.extract %[[ST]][0] : !spak_tile.tile<2xi32> -> i32
// CHECK: %[[DEF:.*]] = spak_tile.constant 5.000000e+03 : !spak_tile.tile<1xf32>
// CHECK: %[[N:.*]] = spak_tile.extract %[[ST]][1] : !spak_tile.tile<2xi32> -> i32
// CHECK: %[[NF:.*]] = arith.sitofp %[[N]] : i32 to f32
// CHECK: %[[NT:.*]] = spak_tile.broadcast %[[NF]] : f32 -> !spak_tile.tile<1xf32>
// CHECK: %[[POS:.*]] = spak_tile.cmp gt, %[[NT]], %{{.*}} : !spak_tile.tile<1xf32>
// CHECK: %[[TOT:.*]] = spak_tile.select %[[POS]], %[[NT]], %[[DEF]] : !spak_tile.tile<1xi1>, !spak_tile.tile<1xf32>
// The span total - warmup, 1 when not positive; past total: min_lr.
// CHECK: %[[SPAN:.*]] = spak_tile.sub %[[TOT]], %{{.*}} : !spak_tile.tile<1xf32>
// CHECK: spak_tile.cmp gt, %[[SPAN]]
// CHECK: spak_tile.cmp gt, %{{.*}}, %[[TOT]] : !spak_tile.tile<1xf32>
// CHECK: spak_tile.cmp lt
// CHECK-LABEL: func.func @adamw_pair(
// CHECK-SAME: !spak_tile.buffer<2xi32>
// CHECK: spak_tile.launch @adamw_0
func.func @adamw_pair(%p: tensor<64x16xf32>, %g: tensor<64x16xf32>, %m: tensor<64x16xf32>, %v: tensor<64x16xf32>, %s: tensor<2xi32>) -> (tensor<64x16xf32>, tensor<64x16xf32>, tensor<64x16xf32>) {
  %0:3 = spak_graph.adam %p, %g, %m, %v, %s {lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, weight_decay = 0.1 : f64, schedule = "cosine", warmup = 100 : i64, min_lr = 1.0e-4 : f64, total_steps = 5000 : i64} : (tensor<64x16xf32>, tensor<64x16xf32>, tensor<64x16xf32>, tensor<64x16xf32>, tensor<2xi32>) -> (tensor<64x16xf32>, tensor<64x16xf32>, tensor<64x16xf32>)
  return %0#0, %0#1, %0#2 : tensor<64x16xf32>, tensor<64x16xf32>, tensor<64x16xf32>
}
