// Lowering of the backward (VJP) ops: maps, row kernels, deterministic layernorm dw/db, cross-entropy
// gradient with the floor and target validation, flash attention backward (dq; dk/dv), deterministic embedding
// scatter-add (chunked, no atomics).
// RUN: spak-opt %s -split-input-file -spak-graph-to-tile | FileCheck %s

// CHECK-LABEL: spak_tile.kernel @relu_grad_0(
// CHECK-SAME: math = "dx[i] = x[i] > 0 ? dy[i] : 0"
// CHECK: %[[X:.*]] = spak_tile.load %arg1
// CHECK: %[[POS:.*]] = spak_tile.cmp gt, %[[X]], %{{.*}} : !spak_tile.tile<512xf32> -> !spak_tile.tile<512xi1>
// CHECK: spak_tile.select %[[POS]]
// CHECK-LABEL: spak_tile.kernel @gelu_grad_0(
// CHECK: spak_tile.tanh
// CHECK: spak_tile.constant 1.341450e-01
// CHECK-LABEL: spak_tile.kernel @rmsnorm_grad_0(
// CHECK-SAME: grid = ["ceildiv(rows, 4)"], math = "r = rsqrt(mean(x[r, :]^2) + 1e-05); dx = r dy - x r^3 mean(dy[r, :] x[r, :])"
// CHECK: spak_tile.rsqrt %{{.*}} : !spak_tile.tile<4x1xf32>
func.func @maps(%dy: tensor<2x?x16xf32>, %x: tensor<2x?x16xf32>) -> (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>) {
  %0 = spak_graph.relu_grad %dy, %x : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  %1 = spak_graph.gelu_grad %dy, %x : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  %2 = spak_graph.rmsnorm_grad %dy, %x : (tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  return %0, %1, %2 : tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>
}

// -----

// layernorm_grad over C = 384 (a 512-wide masked row tile): kernel 1 writes dx and the row mean / rstd;
// dw, db by the two-stage column sum (rows dynamic): stage 1 per (128-wide column tile, chunk of 256 rows)
// accumulates dy * xhat and dy in [16 x 128] tiles, reduced once; stage 2 sums the chunks in order. No atomics.
// CHECK-LABEL: spak_tile.kernel @layernorm_grad_dx_0(
// CHECK: %[[M:.*]] = spak_tile.mask bounds{{.*}} : !spak_tile.tile<4x512xi1>
// CHECK: spak_tile.select %[[M]]
// CHECK: spak_tile.store %{{.*}} mask %[[M]] : !spak_tile.tile<4x512xf32>, !spak_tile.buffer<?x384xf32>
// CHECK: spak_tile.store %{{.*}} : !spak_tile.tile<4x1xf32>, !spak_tile.buffer<?x1xf32>
// CHECK: spak_tile.store %{{.*}} : !spak_tile.tile<4x1xf32>, !spak_tile.buffer<?x1xf32>
// CHECK-LABEL: spak_tile.kernel @layernorm_grad_dwdb_partial_0(
// CHECK-SAME: grid = ["ceildiv(C, 128)", "ceildiv(rows, 256)"]
// CHECK-SAME: (fixed order: deterministic)
// CHECK: scf.for {{.*}} -> (!spak_tile.tile<16x128xf32>, !spak_tile.tile<16x128xf32>)
// CHECK-NOT: spak_tile.reduce
// CHECK:   scf.yield
// CHECK: spak_tile.reduce sum %{{.*}} axis 0 : !spak_tile.tile<16x128xf32> -> !spak_tile.tile<1x128xf32>
// CHECK: spak_tile.reduce sum %{{.*}} axis 0 : !spak_tile.tile<16x128xf32> -> !spak_tile.tile<1x128xf32>
// CHECK-LABEL: spak_tile.kernel @layernorm_grad_dwdb_sum_0(
// CHECK-SAME: grid = ["ceildiv(K2, 32)", "1", "K1"]
// CHECK: scf.for {{.*}} -> (!spak_tile.tile<64x32xf32>, !spak_tile.tile<64x32xf32>)
// CHECK-NOT: atomic_add
// CHECK-LABEL: func.func @layernorm_grad(
// CHECK: %[[MEAN:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x1xf32>
// CHECK: %[[RSTD:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x1xf32>
// CHECK: spak_tile.launch @layernorm_grad_dx_0{{.*}}%[[MEAN]], %[[RSTD]])
// CHECK: %[[PW:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x384xf32>
// CHECK: %[[PB:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x384xf32>
// CHECK: spak_tile.launch @layernorm_grad_dwdb_partial_0[%c3, %{{.*}}] (%{{.*}}, %{{.*}}, %[[MEAN]], %[[RSTD]], %[[PW]], %[[PB]])
// CHECK: spak_tile.launch @layernorm_grad_dwdb_sum_0
func.func @layernorm_grad(%dy: tensor<4x?x384xf32>, %x: tensor<4x?x384xf32>, %w: tensor<384xf32>) -> (tensor<4x?x384xf32>, tensor<384xf32>, tensor<384xf32>) {
  %dx, %dw, %db = spak_graph.layernorm_grad %dy, %x, %w : (tensor<4x?x384xf32>, tensor<4x?x384xf32>, tensor<384xf32>) -> (tensor<4x?x384xf32>, tensor<384xf32>, tensor<384xf32>)
  return %dx, %dw, %db : tensor<4x?x384xf32>, tensor<384xf32>, tensor<384xf32>
}

// -----

// CHECK-LABEL: spak_tile.kernel @softmax_grad_0(
// CHECK: scf.for
// CHECK:   spak_tile.reduce sum
// CHECK: scf.for
// CHECK:   spak_tile.sub
// CHECK:   spak_tile.store
// Cross-entropy gradient: online max/sum with the floor, (softmax - onehot) * dloss / N, bad targets flagged.
// CHECK-LABEL: spak_tile.kernel @cross_entropy_grad_0(
// CHECK-SAME: math = "dx[r, c] = dloss (exp(x[r, c] - m[r]) / l[r] - (c == t[r])) / N  (masked logits = floor; targets outside [0, 27) set status[0] = 1)"
// CHECK: spak_tile.constant -1.000000e+20 {law = #spak_tile.law<"stability_floor", -1.000000e+20, "default">}
// CHECK: scf.for
// CHECK:   spak_tile.reduce max
// CHECK-DAG: spak_tile.cmp ge, %{{.*}} : !spak_tile.tile<4x1xi32>
// CHECK-DAG: spak_tile.cmp lt, %{{.*}} : !spak_tile.tile<4x1xi32>
// CHECK: spak_tile.store %{{.*}} mask %{{.*}} : !spak_tile.tile<1x1xi32>, !spak_tile.buffer<1x1xi32>
// CHECK: %[[N:.*]] = arith.uitofp
// CHECK: scf.for
// CHECK:   spak_tile.iota axis 1 : !spak_tile.tile<4x32xi32>
// CHECK:   spak_tile.cmp eq
// CHECK:   spak_tile.store %{{.*}} mask
// CHECK-LABEL: func.func @rows_grad(
// CHECK-SAME: {spak.status}
func.func @rows_grad(%dy: tensor<?x27xf32>, %y: tensor<?x27xf32>, %dl: tensor<f32>, %t: tensor<?xi32>) -> (tensor<?x27xf32>, tensor<?x27xf32>) {
  %0 = spak_graph.softmax_grad %dy, %y : (tensor<?x27xf32>, tensor<?x27xf32>) -> tensor<?x27xf32>
  %1 = spak_graph.cross_entropy_grad %dl, %y, %t : (tensor<f32>, tensor<?x27xf32>, tensor<?xi32>) -> tensor<?x27xf32>
  return %0, %1 : tensor<?x27xf32>, tensor<?x27xf32>
}

// -----

// Flash attention backward, causal, 4 heads of 4.
// Kernel dq: the forward loop again (m, l, O), then lse, D = rowsum(dO O), then dq over key tiles.
// CHECK-LABEL: spak_tile.kernel @attention_grad_dq_0(
// CHECK-SAME: grid = ["ceildiv(T, 64)", "B * 4"]
// CHECK: %[[END:.*]] = arith.minui
// CHECK: %[[FWD:.*]]:3 = scf.for %{{.*}} = %{{.*}} to %[[END]]
// CHECK:   spak_tile.load {{.*}} stage 0 {latency = #spak_tile.law<"k_lat"
// CHECK:   spak_tile.load {{.*}} stage 1 {latency = #spak_tile.law<"v_lat"
// CHECK:   spak_tile.mask causal
// CHECK:   spak_tile.select %{{.*}}, %{{.*}}, %{{.*}} : !spak_tile.tile<64x64xi1>, !spak_tile.tile<64x64xf32>
// CHECK: %[[LSE:.*]] = spak_tile.add %[[FWD]]#0, %{{.*}} : !spak_tile.tile<64x1xf32>
// CHECK: %[[D:.*]] = spak_tile.reduce sum %{{.*}} axis 1 : !spak_tile.tile<64x4xf32> -> !spak_tile.tile<64x1xf32>
// CHECK: scf.for
// CHECK:   spak_tile.exp
// CHECK:   %[[DP:.*]] = spak_tile.mma %{{.*}}, %{{.*}}, %{{.*}} {transpose_b} : !spak_tile.tile<64x4xf32>, !spak_tile.tile<64x4xf32, smem> -> !spak_tile.tile<64x64xf32>
// CHECK:   spak_tile.sub %[[DP]]
// CHECK:   spak_tile.mma %{{.*}}, %{{.*}}, %{{.*}} : !spak_tile.tile<64x64xf32>, !spak_tile.tile<64x4xf32, smem> -> !spak_tile.tile<64x4xf32>
// CHECK: spak_tile.store %[[LSE]], %{{.*}} : !spak_tile.tile<64x1xf32>, !spak_tile.buffer<1x4x?x1xf32>
// CHECK: spak_tile.store %[[D]], %{{.*}} : !spak_tile.tile<64x1xf32>, !spak_tile.buffer<1x4x?x1xf32>
// Kernel dk/dv: per key tile, query tiles from the diagonal; dv += P^T dO, dk += dS^T q.
// CHECK-LABEL: spak_tile.kernel @attention_grad_dkdv_0(
// CHECK: %[[Q0:.*]] = arith.divui %[[N0:.*]], %c64
// CHECK: %[[START:.*]] = arith.muli %[[Q0]], %c64
// CHECK: scf.for %[[M0:.*]] = %[[START]] to
// CHECK:   spak_tile.mask causal[%[[M0]], %[[N0]]]
// CHECK:   spak_tile.exp
// CHECK:   spak_tile.mma %{{.*}}, %{{.*}}, %{{.*}} {transpose_a} : !spak_tile.tile<64x64xf32>, !spak_tile.tile<64x4xf32, smem> -> !spak_tile.tile<64x4xf32>
// CHECK:   spak_tile.mma %{{.*}}, %{{.*}}, %{{.*}} {transpose_a} : !spak_tile.tile<64x64xf32>, !spak_tile.tile<64x4xf32, smem> -> !spak_tile.tile<64x4xf32>
// CHECK-LABEL: func.func @attention_grad(
// CHECK: %[[L:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<1x4x?x1xf32>
// CHECK: %[[DD:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<1x4x?x1xf32>
// CHECK: spak_tile.launch @attention_grad_dq_0{{.*}}%[[L]], %[[DD]])
// CHECK: spak_tile.launch @attention_grad_dkdv_0{{.*}}%[[L]], %[[DD]]
func.func @attention_grad(%do: tensor<1x?x16xf32>, %q: tensor<1x?x16xf32>, %k: tensor<1x?x16xf32>, %v: tensor<1x?x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) {
  %dq, %dk, %dv = spak_graph.attention_grad %do, %q, %k, %v {heads = 4 : i64, causal = true} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>)
  return %dq, %dk, %dv : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>
}

// -----

// Embedding backward, deterministic: zero fill; per token, when it is its 128-token chunk's first with its id, the
// in-order sum of that id's dy rows in the chunk (a scalar loop, row loads masked by the id match) into
// partial[N, C]; per token, when it is the first with its id at all, the sum of its chunk partials in chunk order
// into dtable[id]. No atomic_add anywhere.
// CHECK-LABEL: spak_tile.kernel @embed_grad_zero_0(
// CHECK: spak_tile.constant 0.000000e+00 : !spak_tile.tile<512xf32>
// CHECK-LABEL: spak_tile.kernel @embed_grad_chunk_0(
// CHECK-SAME: %{{.*}}: !spak_tile.buffer<?x16xf32>, %{{.*}}: !spak_tile.buffer<?xi32>, %{{.*}}: !spak_tile.buffer<?x16xf32>, %{{.*}}: !spak_tile.buffer<1xi32>
// CHECK-SAME: math = "chunks of 128 tokens; if r is its chunk's first token with id v = ids[r]: partial[r, c] = sum_(q = r .. chunk end, ids[q] = v, in order) dy[q, c]  (no atomics; ids outside [0, 27) add nothing and set status[0] = 1)"
// CHECK: %[[OK:.*]] = arith.andi
// CHECK: %[[C0:.*]] = arith.muli %{{.*}}, %c128
// Earlier tokens of the chunk with the same id: a 128-wide compare below r, reduced once.
// CHECK: %[[BEFORE:.*]] = spak_tile.mask bounds[%[[C0]]] within[%{{.*}}] : !spak_tile.tile<128xi1>
// CHECK: spak_tile.load %{{.*}}[%[[C0]]] mask %[[BEFORE]] : !spak_tile.buffer<?xi32> -> !spak_tile.tile<128xi32>
// CHECK: spak_tile.cmp eq
// CHECK: spak_tile.reduce max %{{.*}} axis 0 : !spak_tile.tile<128xf32> -> !spak_tile.tile<1xf32>
// CHECK: %[[FIRST:.*]] = arith.andi %[[OK]]
// CHECK: %[[UB:.*]] = arith.select %[[FIRST]]
// CHECK: scf.for %[[Q:.*]] = %{{.*}} to %[[UB]] step %c1 iter_args
// CHECK:   arith.cmpi eq
// CHECK:   spak_tile.load %{{.*}}[%[[Q]], %{{.*}}] mask %{{.*}} : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<1x16xf32>
// CHECK:   spak_tile.add
// CHECK: spak_tile.store %{{.*}} mask %{{.*}} : !spak_tile.tile<1x16xf32>, !spak_tile.buffer<?x16xf32>
// CHECK: spak_tile.store %{{.*}} : !spak_tile.tile<1xi32>, !spak_tile.buffer<1xi32>
// CHECK-NOT: atomic_add
// CHECK-LABEL: spak_tile.kernel @embed_grad_reduce_0(
// CHECK-SAME: math = "if r is the first token with id v = ids[r] (in [0, 27)): dtable[v, c] = sum_(chunks j of 128 tokens from r's, in order) partial[first token of chunk j with id v, c]"
// Seen before r: an elementwise max over the 128-token chunks below r, one reduction after the loop.
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK:   spak_tile.max %{{.*}} : !spak_tile.tile<128xf32>
// CHECK: spak_tile.reduce max %{{.*}} axis 0 : !spak_tile.tile<128xf32> -> !spak_tile.tile<1xf32>
// From r's chunk on: the first matching position of each chunk (max of 128 - i), its partial row when found.
// CHECK: spak_tile.iota axis 0 : !spak_tile.tile<128xi32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK:   spak_tile.reduce max %{{.*}} axis 0 : !spak_tile.tile<128xi32> -> !spak_tile.tile<1xi32>
// CHECK:   spak_tile.load %{{.*}} mask %{{.*}} : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<1x16xf32>
// CHECK: spak_tile.store %{{.*}} mask %{{.*}} : !spak_tile.tile<1x16xf32>, !spak_tile.buffer<27x16xf32>
// CHECK-NOT: atomic_add
// CHECK-LABEL: func.func @embed_grad(
// CHECK: spak_tile.launch @embed_grad_zero_0
// CHECK: %[[PART:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x16xf32>
// CHECK: spak_tile.launch @embed_grad_chunk_0[%{{.*}}] (%{{.*}}, %{{.*}}, %[[PART]], %{{.*}})
// CHECK: spak_tile.launch @embed_grad_reduce_0[%{{.*}}] (%{{.*}}, %[[PART]], %{{.*}})
func.func @embed_grad(%dy: tensor<1x?x16xf32>, %ids: tensor<1x?xi32>) -> tensor<27x16xf32> {
  %0 = spak_graph.embed_grad %dy, %ids {vocab = 27 : i64} : (tensor<1x?x16xf32>, tensor<1x?xi32>) -> tensor<27x16xf32>
  return %0 : tensor<27x16xf32>
}
