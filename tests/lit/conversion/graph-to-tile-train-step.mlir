// A MicroGPT-shaped train step end to end: forward (embed + positions, rmsnorm, q/k/v linears, causal
// attention, residual adds, relu MLP, lm_head, cross_entropy) → spak-autodiff → spak-optimizer-step
// (Adam, linear decay) → spak-graph-to-tile. Every graph op lowers (no "no tile lowering" error); the
// host @train_step is a straight sequence of alloc / view / launch over buffers with parameters,
// moments, step, tokens and targets as arguments, the status flag appended, and the parameters and
// moments updated in place. A NanoGPT-shaped step (layernorm, fused qkv + split, gelu, biases,
// weight tying, AdamW + cosine + warmup, grad clip) follows.
// RUN: spak-opt %s -split-input-file --spak-autodiff --spak-optimizer-step --spak-graph-to-tile | FileCheck %s

// CHECK-NOT: spak_graph.
// CHECK-DAG: spak_tile.kernel @embed_0(
// CHECK-DAG: spak_tile.kernel @positions_0(
// CHECK-DAG: spak_tile.kernel @rmsnorm_0(
// CHECK-DAG: spak_tile.kernel @attention_0(
// CHECK-DAG: spak_tile.kernel @relu_0(
// CHECK-DAG: spak_tile.kernel @cross_entropy_rows_0(
// CHECK-DAG: spak_tile.kernel @cross_entropy_grad_0(
// CHECK-DAG: spak_tile.kernel @relu_grad_0(
// CHECK-DAG: spak_tile.kernel @rmsnorm_grad_0(
// CHECK-DAG: spak_tile.kernel @attention_grad_dq_0(
// CHECK-DAG: spak_tile.kernel @attention_grad_dkdv_0(
// CHECK-DAG: spak_tile.kernel @embed_grad_chunk_0(
// CHECK-DAG: spak_tile.kernel @embed_grad_reduce_0(
// dW = dY^T X over the B*T rows: a small output grid over a dynamic, masked contraction (no spak.train bound on
// it here) → split-K: partials per 4096-row chunk (law split_k_chunk), then the chunks summed in order.
// CHECK-DAG: spak_tile.kernel @matmul_splitk_{{[0-9]+}}({{.*}}math = "p[j, m, n] = sum_(k in chunk j of 4096) a[k, m] * b[k, n]"
// CHECK-DAG: spak_tile.kernel @matmul_splitk_sum_{{[0-9]+}}({{.*}}math = "c[m, n] = sum_j p[j, m, n] (chunks in order: deterministic)"
// CHECK-DAG: spak_tile.kernel @adam_0({{.*}}math = "lr_s = 0.01 (1 - s / N), N = step[1] on device (<= 0: 1000); m = 0.85 m + 0.15 g;
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[WTE:[a-z0-9]+]]: !spak_tile.buffer<27x16xf32> {spak.param = "wte"}
// CHECK-SAME: %{{[a-z0-9]+}}: !spak_tile.buffer<2xi32> {spak.step}, %[[TOK:[a-z0-9]+]]: !spak_tile.buffer<1x?xi32> {spak.input = "tokens"}, %{{[a-z0-9]+}}: !spak_tile.buffer<1x?xi32> {spak.input = "targets"}, %[[ST:[a-z0-9]+]]: !spak_tile.buffer<1xi32> {spak.status})
// CHECK-SAME: -> (!spak_tile.buffer<1xf32> {spak.loss}, !spak_tile.buffer<27x16xf32> {spak.in_place_of = 0 : i64, spak.param = "wte"}
// CHECK-SAME: !spak_tile.buffer<16x64xf32> {spak.adam_v = "layer0.mlp_fc2", spak.in_place_of = 26 : i64})
// CHECK: spak_tile.launch @embed_{{[0-9]+}}[%{{.*}}] (%[[WTE]], %{{.*}}, %{{.*}}, %[[ST]])
// CHECK: spak_tile.launch @attention_{{[0-9]+}}
// CHECK: spak_tile.launch @cross_entropy_rows_{{[0-9]+}}
// CHECK: spak_tile.launch @attention_grad_dq_{{[0-9]+}}
// CHECK: spak_tile.launch @attention_grad_dkdv_{{[0-9]+}}
// CHECK: spak_tile.launch @embed_grad_chunk_{{[0-9]+}}
// CHECK: spak_tile.launch @embed_grad_reduce_{{[0-9]+}}
// Adam writes the parameter in place: its output is a view of the wte argument.
// CHECK: %[[PW:.*]] = spak_tile.view %[[WTE]] : !spak_tile.buffer<27x16xf32> to !spak_tile.buffer<432xf32>
// CHECK: spak_tile.launch @adam_{{[0-9]+}}[%{{.*}}] (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[PW]],
// Only host-side ops in the step: index math, dims, allocs, views, launches.
// CHECK-NOT: spak_graph
// CHECK-NOT: scf.for
// CHECK: return %{{.*}}, %[[WTE]],
module attributes {spak.train = {optimizer = "adam", lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64,
                                 eps = 1.0e-8 : f64, schedule = "linear_decay", steps = 1000 : i64}} {
  func.func @forward(%wte: tensor<27x16xf32> {spak.param = "wte"}, %wpe: tensor<16x16xf32> {spak.param = "wpe"},
                     %lm: tensor<27x16xf32> {spak.param = "lm_head"},
                     %wq: tensor<16x16xf32> {spak.param = "layer0.attn_wq"}, %wk: tensor<16x16xf32> {spak.param = "layer0.attn_wk"},
                     %wv: tensor<16x16xf32> {spak.param = "layer0.attn_wv"}, %wo: tensor<16x16xf32> {spak.param = "layer0.attn_wo"},
                     %fc1: tensor<64x16xf32> {spak.param = "layer0.mlp_fc1"}, %fc2: tensor<16x64xf32> {spak.param = "layer0.mlp_fc2"},
                     %tok: tensor<1x?xi32> {spak.input = "tokens"}, %tgt: tensor<1x?xi32> {spak.input = "targets"}) -> tensor<f32> attributes {spak.forward} {
    %te = spak_graph.embed %wte, %tok : (tensor<27x16xf32>, tensor<1x?xi32>) -> tensor<1x?x16xf32>
    %pos = spak_graph.positions %tok : (tensor<1x?xi32>) -> tensor<?xi32>
    %pe = spak_graph.embed %wpe, %pos : (tensor<16x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
    %x0 = spak_graph.add %te, %pe : (tensor<1x?x16xf32>, tensor<?x16xf32>) -> tensor<1x?x16xf32>
    %x1 = spak_graph.rmsnorm %x0 : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
    %h = spak_graph.rmsnorm %x1 : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
    %q = spak_graph.linear %h, %wq : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
    %k = spak_graph.linear %h, %wk : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
    %v = spak_graph.linear %h, %wv : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
    %a = spak_graph.attention %q, %k, %v {heads = 4 : i64, causal = true} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
    %ao = spak_graph.linear %a, %wo : (tensor<1x?x16xf32>, tensor<16x16xf32>) -> tensor<1x?x16xf32>
    %x2 = spak_graph.add %x1, %ao : (tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
    %h2 = spak_graph.rmsnorm %x2 : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
    %f1 = spak_graph.linear %h2, %fc1 : (tensor<1x?x16xf32>, tensor<64x16xf32>) -> tensor<1x?x64xf32>
    %r = spak_graph.relu %f1 : (tensor<1x?x64xf32>) -> tensor<1x?x64xf32>
    %f2 = spak_graph.linear %r, %fc2 : (tensor<1x?x64xf32>, tensor<16x64xf32>) -> tensor<1x?x16xf32>
    %x3 = spak_graph.add %x2, %f2 : (tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
    %logits = spak_graph.linear %x3, %lm : (tensor<1x?x16xf32>, tensor<27x16xf32>) -> tensor<1x?x27xf32>
    %loss = spak_graph.cross_entropy %logits, %tgt : (tensor<1x?x27xf32>, tensor<1x?xi32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
}

// -----

// CHECK-NOT: spak_graph.
// CHECK-DAG: spak_tile.kernel @layernorm_grad_dwdb_partial_0(
// CHECK-DAG: spak_tile.kernel @layernorm_grad_dwdb_sum_0(
// CHECK-DAG: spak_tile.kernel @split_0(
// CHECK-DAG: spak_tile.kernel @concat_0(
// CHECK-DAG: spak_tile.kernel @gelu_grad_0(
// CHECK-DAG: spak_tile.kernel @reduce_cols_partial_0(
// CHECK-DAG: spak_tile.kernel @grad_norm_0(
// CHECK-DAG: spak_tile.kernel @adamw_0(
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: {spak.status})
// CHECK-SAME: !spak_tile.buffer<1xf32> {spak.grad_norm})
// CHECK: spak_tile.launch @split_{{[0-9]+}}
// CHECK: spak_tile.launch @grad_norm_{{[0-9]+}}
// CHECK: spak_tile.launch @adamw_{{[0-9]+}}
// CHECK-NOT: spak_graph
module attributes {spak.train = {optimizer = "adamw", lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, weight_decay = 0.1 : f64,
                                 schedule = "cosine", warmup = 100 : i64, min_lr = 1.0e-4 : f64, steps = 5000 : i64, grad_clip = 1.0 : f64}} {
  func.func @forward(%wte: tensor<65x384xf32> {spak.param = "wte"}, %wpe: tensor<256x384xf32> {spak.param = "wpe"},
                     %l1w: tensor<384xf32> {spak.param = "ln1.w"}, %l1b: tensor<384xf32> {spak.param = "ln1.b"},
                     %aw: tensor<1152x384xf32> {spak.param = "c_attn.w"}, %ab: tensor<1152xf32> {spak.param = "c_attn.b"},
                     %pw: tensor<384x384xf32> {spak.param = "c_proj.w"}, %pb: tensor<384xf32> {spak.param = "c_proj.b"},
                     %fw: tensor<1536x384xf32> {spak.param = "c_fc.w"}, %fb: tensor<1536xf32> {spak.param = "c_fc.b"},
                     %tok: tensor<64x?xi32> {spak.input = "tokens"}, %tgt: tensor<64x?xi32> {spak.input = "targets"}) -> tensor<f32> attributes {spak.forward} {
    %te = spak_graph.embed %wte, %tok : (tensor<65x384xf32>, tensor<64x?xi32>) -> tensor<64x?x384xf32>
    %pos = spak_graph.positions %tok : (tensor<64x?xi32>) -> tensor<?xi32>
    %pe = spak_graph.embed %wpe, %pos : (tensor<256x384xf32>, tensor<?xi32>) -> tensor<?x384xf32>
    %x0 = spak_graph.add %te, %pe : (tensor<64x?x384xf32>, tensor<?x384xf32>) -> tensor<64x?x384xf32>
    %h = spak_graph.layernorm %x0, %l1w, %l1b : (tensor<64x?x384xf32>, tensor<384xf32>, tensor<384xf32>) -> tensor<64x?x384xf32>
    %qkv = spak_graph.linear %h, %aw, %ab : (tensor<64x?x384xf32>, tensor<1152x384xf32>, tensor<1152xf32>) -> tensor<64x?x1152xf32>
    %q, %k, %v = spak_graph.split %qkv {parts = 3 : i64} : (tensor<64x?x1152xf32>) -> (tensor<64x?x384xf32>, tensor<64x?x384xf32>, tensor<64x?x384xf32>)
    %a = spak_graph.attention %q, %k, %v {heads = 6 : i64} : (tensor<64x?x384xf32>, tensor<64x?x384xf32>, tensor<64x?x384xf32>) -> tensor<64x?x384xf32>
    %ao = spak_graph.linear %a, %pw, %pb : (tensor<64x?x384xf32>, tensor<384x384xf32>, tensor<384xf32>) -> tensor<64x?x384xf32>
    %x1 = spak_graph.add %x0, %ao : (tensor<64x?x384xf32>, tensor<64x?x384xf32>) -> tensor<64x?x384xf32>
    %f = spak_graph.linear %x1, %fw, %fb : (tensor<64x?x384xf32>, tensor<1536x384xf32>, tensor<1536xf32>) -> tensor<64x?x1536xf32>
    %g = spak_graph.gelu %f : (tensor<64x?x1536xf32>) -> tensor<64x?x1536xf32>
    %f2 = spak_graph.reshape %g {shape = array<i64: 64, -1, 384>} : (tensor<64x?x1536xf32>) -> tensor<64x?x384xf32>
    %x2 = spak_graph.add %x1, %f2 : (tensor<64x?x384xf32>, tensor<64x?x384xf32>) -> tensor<64x?x384xf32>
    %logits = spak_graph.linear %x2, %wte : (tensor<64x?x384xf32>, tensor<65x384xf32>) -> tensor<64x?x65xf32>
    %loss = spak_graph.cross_entropy %logits, %tgt : (tensor<64x?x65xf32>, tensor<64x?xi32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
}
