// Column reductions (bias gradients, layernorm dw / db) are two-stage and deterministic: stage 1 over a
// (column tile x row chunk) grid accumulates [step x cols] tiles element-wise (no reduce and no barrier inside
// the loop: a thread owns one column), reduces over rows once and writes partials[chunk, c]; stage 2 sums the
// partials in order. cols = 32 * warps, step = row_tile * vec_width, chunk = step * colsum_steps rows; stage 2
// (and a one-stage sum) reads [step * warps x 32] tiles (its few rows spread over the warps, a warp per 32
// columns): all laws, named in the kernel's config with their provenance (docs/dialects/tile.md, "Column
// reductions").
// RUN: spak-opt %s -split-input-file -spak-graph-to-tile | FileCheck %s
// spak-translate sits next to spak-opt (this directory has no substitution for it).
// RUN: spak-opt %s -split-input-file -spak-graph-to-tile | sed '/^\/\/ -----/,$d' | "$(dirname spak-opt)/spak-translate" --emit-cuda | FileCheck %s --check-prefix=CUDA

// Static rows > chunk: [1024 x 384] -> 4 chunks of 256 rows, 3 column tiles of 128; no masks (1024 = 64 * 16,
// 384 = 3 * 128). Stage 2 sums the 4 partial rows in one [4 x 32] step over 12 programs.
// CHECK-LABEL: spak_tile.kernel @reduce_cols_partial_0(
// CHECK-SAME: config = #spak_tile.config<{colsum_steps = #spak_tile.law<"colsum_steps", 16, "default">, ctas_per_sm = #spak_tile.law<"ctas_per_sm", 1, "default">, fast_exp = #spak_tile.law<"fast_exp", 0, "default">, row_chunk = #spak_tile.law<"row_chunk", 1024, "default">, row_tile = #spak_tile.law<"row_tile", 4, "default">, vec_width = #spak_tile.law<"vec_width", 4, "default">, warps = #spak_tile.law<"warps", 4, "default">}>
// CHECK-SAME: grid = ["ceildiv(K2, 128)", "ceildiv(R, 256)", "K1"], math = "p[k1, j, c] = sum_(r in chunk j of 256 rows) x[k1, r, c]"
// CHECK: scf.for %{{.*}} step %c16 iter_args(%[[ACC:.*]] = %{{.*}}) -> (!spak_tile.tile<16x128xf32>)
// CHECK-NOT: spak_tile.mask
// CHECK-NEXT: %[[X:.*]] = spak_tile.load %{{.*}} : !spak_tile.buffer<1x1024x384xf32> -> !spak_tile.tile<16x128xf32>
// CHECK-NEXT: %[[S:.*]] = spak_tile.add %[[ACC]], %[[X]] : !spak_tile.tile<16x128xf32>
// CHECK-NEXT: scf.yield %[[S]]
// CHECK: spak_tile.reduce sum %{{.*}} axis 0 : !spak_tile.tile<16x128xf32> -> !spak_tile.tile<1x128xf32>
// CHECK: spak_tile.store %{{.*}} : !spak_tile.tile<1x128xf32>, !spak_tile.buffer<1x4x384xf32>
// CHECK-LABEL: spak_tile.kernel @reduce_cols_0(
// CHECK-SAME: grid = ["ceildiv(K2, 32)", "1", "K1"]
// CHECK: scf.for %{{.*}} step %c4 {{.*}} -> (!spak_tile.tile<4x32xf32>)
// CHECK-NOT: atomic_add
// CHECK-LABEL: func.func @bias_grad(
// CHECK: %[[P:.*]] = spak_tile.alloc() : !spak_tile.buffer<1x4x384xf32>
// CHECK: spak_tile.launch @reduce_cols_partial_0[%{{.*}}, %{{.*}}, %{{.*}}] (%{{.*}}, %[[P]])
// CHECK: spak_tile.launch @reduce_cols_0[%{{.*}}, %c1{{.*}}, %{{.*}}] (%[[P]], %{{.*}})

// CUDA (stage 1): the loop body is loads and adds in registers; the one reduce (and its barriers) follows it.
// CUDA-LABEL: __global__ void __launch_bounds__(128) reduce_cols_partial_0(
// CUDA: for (int64_t {{.*}} += 16) {
// CUDA-NOT: __syncthreads
// CUDA: ld{{[0-9]+}}[s] = arg0[
// CUDA-NOT: __syncthreads
// CUDA: sum of carry{{[0-9]+}} over axis 0 (16x128 -> 1x128)
func.func @bias_grad(%x: tensor<4x256x384xf32>) -> tensor<384xf32> {
  %0 = spak_graph.reduce_sum %x {axes = array<i64: 0, 1>} : (tensor<4x256x384xf32>) -> tensor<384xf32>
  return %0 : tensor<384xf32>
}

// -----

// Static rows <= chunk: one kernel, the stage-2 shape. 200 rows = 3.1 steps of 64 (row mask); 65 columns in
// three 32-wide tiles (column mask, masked store).
// CHECK-LABEL: spak_tile.kernel @reduce_cols_0(
// CHECK-SAME: grid = ["ceildiv(K2, 32)", "1", "K1"], math = "y[k1, c] = sum_r x[k1, r, c]"
// CHECK: scf.for
// CHECK:   spak_tile.mask bounds{{.*}} : !spak_tile.tile<64x32xi1>
// CHECK: spak_tile.reduce sum %{{.*}} axis 0 : !spak_tile.tile<64x32xf32> -> !spak_tile.tile<1x32xf32>
// CHECK: %[[CM:.*]] = spak_tile.mask bounds{{.*}} : !spak_tile.tile<1x32xi1>
// CHECK: spak_tile.store %{{.*}} mask %[[CM]] : !spak_tile.tile<1x32xf32>, !spak_tile.buffer<1x1x65xf32>
// CHECK-NOT: reduce_cols_partial
// CHECK-LABEL: func.func @small(
// CHECK-NOT: spak_tile.alloc() : !spak_tile.buffer<1x{{[0-9]+}}x65xf32>
// CHECK: spak_tile.launch @reduce_cols_0
func.func @small(%x: tensor<200x65xf32>) -> tensor<65xf32> {
  %0 = spak_graph.reduce_sum %x {axes = array<i64: 0>} : (tensor<200x65xf32>) -> tensor<65xf32>
  return %0 : tensor<65xf32>
}

// -----

// The geometry follows the laws: warps = 2 -> 64 columns per program; row_tile = 8, vec_width = 2 -> 16-row
// steps; colsum_steps = 4 -> 64-row chunks. layernorm_grad with static rows <= chunk (64 rows) needs one dw/db
// kernel.
// CHECK-LABEL: spak_tile.kernel @layernorm_grad_dwdb_0(
// CHECK-SAME: config = #spak_tile.config<{colsum_steps = #spak_tile.law<"colsum_steps", 4, "t.dsl:5:3">, ctas_per_sm = #spak_tile.law<"ctas_per_sm", 1, "default">, fast_exp = #spak_tile.law<"fast_exp", 0, "default">, row_chunk = #spak_tile.law<"row_chunk", 1024, "default">, row_tile = #spak_tile.law<"row_tile", 8, "t.dsl:3:3">, vec_width = #spak_tile.law<"vec_width", 2, "t.dsl:4:3">, warps = #spak_tile.law<"warps", 2, "t.dsl:2:3">}>
// CHECK-SAME: grid = ["ceildiv(C, 64)", "1"]
// CHECK: scf.for {{.*}} -> (!spak_tile.tile<16x64xf32>, !spak_tile.tile<16x64xf32>)
// CHECK: spak_tile.store %{{.*}}, %{{.*}}[%c0, %{{.*}}] mask %{{.*}} : !spak_tile.tile<1x64xf32>, !spak_tile.buffer<1x96xf32>
// CHECK-NOT: layernorm_grad_dwdb_sum
// The same laws on a dynamic row count: stage 1 (64-row chunks) and stage 2 (32 columns, 16 * 2 rows per
// step).
// CHECK-LABEL: spak_tile.kernel @reduce_cols_partial_0(
// CHECK-SAME: grid = ["ceildiv(K2, 64)", "ceildiv(R, 64)", "K1"], math = "p[k1, j, c] = sum_(r in chunk j of 64 rows) x[k1, r, c]"
// CHECK: scf.for {{.*}} -> (!spak_tile.tile<16x64xf32>)
// CHECK-LABEL: spak_tile.kernel @reduce_cols_0(
// CHECK-SAME: grid = ["ceildiv(K2, 32)", "1", "K1"]
// CHECK: scf.for {{.*}} -> (!spak_tile.tile<32x32xf32>)
module attributes {spak.laws = {
    warps = #spak_tile.law<"warps", 2, "t.dsl:2:3">,
    row_tile = #spak_tile.law<"row_tile", 8, "t.dsl:3:3">,
    vec_width = #spak_tile.law<"vec_width", 2, "t.dsl:4:3">,
    colsum_steps = #spak_tile.law<"colsum_steps", 4, "t.dsl:5:3">}} {
func.func @laws(%dy: tensor<64x96xf32>, %x: tensor<64x96xf32>, %w: tensor<96xf32>, %g: tensor<?x96xf32>) -> (tensor<64x96xf32>, tensor<96xf32>, tensor<96xf32>, tensor<96xf32>) {
  %dx, %dw, %db = spak_graph.layernorm_grad %dy, %x, %w : (tensor<64x96xf32>, tensor<64x96xf32>, tensor<96xf32>) -> (tensor<64x96xf32>, tensor<96xf32>, tensor<96xf32>)
  %s = spak_graph.reduce_sum %g {axes = array<i64: 0>} : (tensor<?x96xf32>) -> tensor<96xf32>
  return %dx, %dw, %db, %s : tensor<64x96xf32>, tensor<96xf32>, tensor<96xf32>, tensor<96xf32>
}
}

// -----

// A dynamic column count with a static row count of more than one chunk (the [T, C] positional-embedding
// gradient summed over a batch of 64 with colsum_steps = 2: 32-row chunks): the partials [1, 2, ?] take the
// column count from the operand.
// CHECK-LABEL: func.func @dynamic_cols(
// CHECK: %[[N:.*]] = spak_tile.dim %{{.*}}, 2
// CHECK: %[[P:.*]] = spak_tile.alloc(%[[N]]) : !spak_tile.buffer<1x2x?xf32>
// CHECK: spak_tile.launch @reduce_cols_partial_{{[0-9]+}}[%{{.*}}, %{{.*}}, %{{.*}}] (%{{.*}}, %[[P]])
// Its chunk's end, min(lo + 32, R) with R = 64 static, names its type: min_of(int64_t, int) would not compile.
// RUN: spak-opt %s -split-input-file -spak-graph-to-tile | tac | sed '/^\/\/ -----/,$d' | tac | "$(dirname spak-opt)/spak-translate" --emit-cuda | FileCheck %s --check-prefix=LAST
// LAST-LABEL: reduce_cols_partial_0(
// LAST: = spak_gen::min_of<int64_t>({{.*}}, 64);
module attributes {spak.laws = {colsum_steps = #spak_tile.law<"colsum_steps", 2, "t.dsl:1:3">}} {
func.func @dynamic_cols(%x: tensor<64x?x8xf32>) -> tensor<?x8xf32> {
  %0 = spak_graph.reduce_sum %x {axes = array<i64: 0>} : (tensor<64x?x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
}
