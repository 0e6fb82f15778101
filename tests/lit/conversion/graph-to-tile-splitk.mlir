// Split-K of a matmul whose output tile grid is small (below law min_ctas) over a long k (weight gradients,
// k = B·T rows): stage 1 `matmul_splitk` over (M tiles, N tiles, k chunks of split_k_chunk) runs the usual k-loop
// of smem loads + mma on its chunk and stores partials [chunks, M, N]; stage 2 `matmul_splitk_sum` adds the
// chunks in order (no atomics: deterministic). Static k of at most one chunk, or a grid of min_ctas tiles or
// more: the single kernel.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-graph-to-tile | FileCheck %s
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-apply-laws=min-ctas=8 -spak-stability-floor -spak-pow2-masking -spak-lower-graph-to-tile | FileCheck %s --check-prefix=OPT

// dW [384, 1536] over a dynamic k = B·T: 6 x 12 = 72 tiles < min_ctas 264 → chunks of 2048 rows.
// CHECK-LABEL: spak_tile.kernel @matmul_splitk_0(
// CHECK-SAME: %arg0: !spak_tile.buffer<?x384xf32>, %arg1: !spak_tile.buffer<?x1536xf32>, %arg2: !spak_tile.buffer<?x384x1536xf32>)
// CHECK-SAME: min_ctas = #spak_tile.law<"min_ctas", 264, "rules/targets/sm90_h100.dsl:19:3">
// CHECK-SAME: split_k_chunk = #spak_tile.law<"split_k_chunk", 2048, "rules/targets/sm90_h100.dsl:20:3">
// CHECK-SAME: grid = ["ceildiv(M, 64)", "ceildiv(N, 128)", "ceildiv(K, 2048)"], math = "p[j, m, n] = sum_(k in chunk j of 2048) a[k, m] * b[k, n]"
// CHECK: %[[J:.*]] = spak_tile.program_id 2
// CHECK: %[[K:.*]] = spak_tile.dim %arg0, 0
// CHECK: %[[LO:.*]] = arith.muli %[[J]], %c2048
// CHECK: %[[END:.*]] = arith.addi %[[LO]], %c2048
// CHECK: %[[HI:.*]] = arith.minui %[[END]], %[[K]]
// CHECK: %[[ACC0:.*]] = spak_tile.constant 0.000000e+00 : !spak_tile.tile<64x128xf32>
// CHECK: %[[ACC:.*]] = scf.for %{{.*}} = %[[LO]] to %[[HI]] step %c32 iter_args(%{{.*}} = %[[ACC0]])
// CHECK:   spak_tile.load %arg0{{.*}} -> !spak_tile.tile<32x64xf32, smem>
// CHECK:   spak_tile.load %arg1{{.*}} -> !spak_tile.tile<32x128xf32, smem>
// CHECK:   spak_tile.mma %{{.*}}, %{{.*}}, %{{.*}} {transpose_a} : {{.*}} -> !spak_tile.tile<64x128xf32>
// CHECK: spak_tile.store %[[ACC]], %arg2[%[[J]], %{{.*}}, %{{.*}}] : !spak_tile.tile<64x128xf32>, !spak_tile.buffer<?x384x1536xf32>
// Stage 2: [4 x 128] tiles (vec_width·32·warps = 512 elements), the chunks in order.
// CHECK-LABEL: spak_tile.kernel @matmul_splitk_sum_0(
// CHECK-SAME: %arg0: !spak_tile.buffer<?x384x1536xf32>, %arg1: !spak_tile.buffer<384x1536xf32>)
// CHECK-SAME: vec_width = #spak_tile.law<"vec_width", 4, "default">
// CHECK-SAME: grid = ["ceildiv(M, 4)", "ceildiv(N, 128)"], math = "c[m, n] = sum_j p[j, m, n] (chunks in order: deterministic)"
// CHECK: %[[S:.*]] = spak_tile.dim %arg0, 0
// CHECK: %[[SUM:.*]] = scf.for %[[JJ:.*]] = %c0 to %[[S]] step %c1 iter_args(%[[IT:.*]] = %{{.*}})
// CHECK:   %[[P:.*]] = spak_tile.load %arg0[%[[JJ]], %{{.*}}, %{{.*}}] : !spak_tile.buffer<?x384x1536xf32> -> !spak_tile.tile<4x128xf32>
// CHECK:   spak_tile.add %[[IT]], %[[P]]
// CHECK: spak_tile.store %[[SUM]], %arg1
// CHECK-NOT: atomic
// CHECK-LABEL: func.func @dw(
// CHECK: %[[C:.*]] = spak_tile.alloc() : !spak_tile.buffer<384x1536xf32>
// CHECK: %[[ROWS:.*]] = spak_tile.dim %arg0, 0
// CHECK: %[[CH:.*]] = arith.ceildivui %[[ROWS]], %c2048
// CHECK: %[[PART:.*]] = spak_tile.alloc(%[[CH]]) : !spak_tile.buffer<?x384x1536xf32>
// CHECK: %[[NCH:.*]] = spak_tile.dim %[[PART]], 0
// CHECK: spak_tile.launch @matmul_splitk_0[%{{.*}}, %{{.*}}, %[[NCH]]] (%arg0, %arg1, %[[PART]])
// CHECK: spak_tile.launch @matmul_splitk_sum_0[%{{.*}}, %{{.*}}] (%[[PART]], %[[C]])
// CHECK-NOT: spak_tile.launch
// CHECK: return %[[C]]
// With option min-ctas=8, 72 tiles are enough: one kernel, the law's provenance is the option.
// OPT-LABEL: spak_tile.kernel @matmul_0(
// OPT-SAME: min_ctas = #spak_tile.law<"min_ctas", 8, "option:min-ctas">
// OPT-SAME: grid = ["ceildiv(M, 64)", "ceildiv(N, 128)"], math = "c[m, n] = sum_k a[k, m] * b[k, n]"
// OPT-LABEL: func.func @dw(
// OPT-NOT: splitk
// OPT: return
module attributes {spak.laws = {tile_n = #spak_tile.law<"tile_n", 128, "rules/targets/sm90_h100.dsl:10:3">,
                                min_ctas = #spak_tile.law<"min_ctas", 264, "rules/targets/sm90_h100.dsl:19:3">,
                                split_k_chunk = #spak_tile.law<"split_k_chunk", 2048, "rules/targets/sm90_h100.dsl:20:3">}} {
func.func @dw(%dy: tensor<?x384xf32>, %x: tensor<?x1536xf32>) -> tensor<384x1536xf32> {
  %0 = "spak_graph.matmul"(%dy, %x) {transpose_a = true} : (tensor<?x384xf32>, tensor<?x1536xf32>) -> tensor<384x1536xf32>
  return %0 : tensor<384x1536xf32>
}
}

// -----

// Static k = 5000 > 2048: three chunks, a static partials buffer; N = 100 → masked 128-wide tiles in both stages.
// CHECK-LABEL: spak_tile.kernel @matmul_splitk_0(
// CHECK-SAME: !spak_tile.buffer<3x64x100xf32>
// CHECK-SAME: grid = ["ceildiv(M, 64)", "ceildiv(N, 128)", "ceildiv(K, 2048)"]
// CHECK: spak_tile.store {{.*}} mask {{.*}} : !spak_tile.tile<64x128xf32>, !spak_tile.buffer<3x64x100xf32>
// CHECK-LABEL: spak_tile.kernel @matmul_splitk_sum_0(
// CHECK: %[[M:.*]] = spak_tile.mask bounds{{.*}} : !spak_tile.tile<4x128xi1>
// CHECK: spak_tile.load %arg0[{{.*}}] mask %[[M]]
// CHECK: spak_tile.store {{.*}} mask %[[M]] : !spak_tile.tile<4x128xf32>, !spak_tile.buffer<64x100xf32>
// CHECK-LABEL: func.func @static_k(
// CHECK: %[[PART:.*]] = spak_tile.alloc() : !spak_tile.buffer<3x64x100xf32>
// CHECK: spak_tile.launch @matmul_splitk_0[%{{.*}}, %{{.*}}, %{{.*}}] ({{.*}}, %[[PART]])
// CHECK: spak_tile.launch @matmul_splitk_sum_0
module attributes {spak.laws = {tile_n = #spak_tile.law<"tile_n", 128, "rules/targets/sm90_h100.dsl:10:3">,
                                min_ctas = #spak_tile.law<"min_ctas", 264, "rules/targets/sm90_h100.dsl:19:3">,
                                split_k_chunk = #spak_tile.law<"split_k_chunk", 2048, "rules/targets/sm90_h100.dsl:20:3">}} {
func.func @static_k(%a: tensor<5000x64xf32>, %b: tensor<5000x100xf32>) -> tensor<64x100xf32> {
  %0 = "spak_graph.matmul"(%a, %b) {transpose_a = true} : (tensor<5000x64xf32>, tensor<5000x100xf32>) -> tensor<64x100xf32>
  return %0 : tensor<64x100xf32>
}
}

// -----

// Not split: a static k of one chunk (2048 ≤ 2048), a dynamic k bounded by spak.train batch · seq_len (4 · 256 =
// 1024 ≤ 2048), and a grid of at least min_ctas tiles (32 · 16 = 512 ≥ 264).
// CHECK-LABEL: spak_tile.kernel @matmul_0(
// CHECK-SAME: grid = ["ceildiv(M, 64)", "ceildiv(N, 128)"], math = "c[m, n] = sum_k a[k, m] * b[k, n]"
// CHECK-LABEL: spak_tile.kernel @matmul_1(
// CHECK-SAME: grid = ["ceildiv(M, 64)", "ceildiv(N, 128)"]
// CHECK-LABEL: spak_tile.kernel @matmul_2(
// CHECK-SAME: grid = ["ceildiv(M, 64)", "ceildiv(N, 128)"]
// CHECK-NOT: splitk
module attributes {spak.laws = {tile_n = #spak_tile.law<"tile_n", 128, "rules/targets/sm90_h100.dsl:10:3">,
                                min_ctas = #spak_tile.law<"min_ctas", 264, "rules/targets/sm90_h100.dsl:19:3">,
                                split_k_chunk = #spak_tile.law<"split_k_chunk", 2048, "rules/targets/sm90_h100.dsl:20:3">},
                   spak.train = {batch = 4 : i64, seq_len = 256 : i64}} {
func.func @one_chunk(%a: tensor<2048x384xf32>, %b: tensor<2048x1536xf32>) -> tensor<384x1536xf32> {
  %0 = "spak_graph.matmul"(%a, %b) {transpose_a = true} : (tensor<2048x384xf32>, tensor<2048x1536xf32>) -> tensor<384x1536xf32>
  return %0 : tensor<384x1536xf32>
}
func.func @bounded(%a: tensor<?x384xf32>, %b: tensor<?x1536xf32>) -> tensor<384x1536xf32> {
  %0 = "spak_graph.matmul"(%a, %b) {transpose_a = true} : (tensor<?x384xf32>, tensor<?x1536xf32>) -> tensor<384x1536xf32>
  return %0 : tensor<384x1536xf32>
}
func.func @big_grid(%a: tensor<?x2048xf32>, %b: tensor<?x2048xf32>) -> tensor<2048x2048xf32> {
  %0 = "spak_graph.matmul"(%a, %b) {transpose_a = true} : (tensor<?x2048xf32>, tensor<?x2048xf32>) -> tensor<2048x2048xf32>
  return %0 : tensor<2048x2048xf32>
}
}
