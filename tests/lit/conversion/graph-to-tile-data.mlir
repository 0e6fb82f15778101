// Lowering of the data-movement ops: embed (validated ids, status flag), positions (iota), broadcasting
// add (wte + wpe), split / concat (strided copies), transpose (row move / tile transpose), reduce_sum
// (row sums, deterministic column sums, two-pass for long columns), broadcast_like, zeros_like, splat constants.
// RUN: spak-opt %s -split-input-file -spak-graph-to-tile | FileCheck %s

// CHECK-LABEL: spak_tile.kernel @embed_0(
// CHECK-SAME: %{{.*}}: !spak_tile.buffer<27x16xf32>, %{{.*}}: !spak_tile.buffer<?xi32>, %{{.*}}: !spak_tile.buffer<?x16xf32>, %{{.*}}: !spak_tile.buffer<1xi32>)
// CHECK-SAME: grid = ["rows"], math = "y[r, c] = table[ids[r], c]  (ids outside [0, 27) read nothing and set status[0] = 1)"
// CHECK: %[[ID:.*]] = spak_tile.extract %{{.*}}[0] : !spak_tile.tile<1xi32> -> i32
// CHECK: %[[LT:.*]] = arith.cmpi slt, %[[ID]], %c27_i32
// CHECK: %[[GE:.*]] = arith.cmpi sge, %[[ID]], %c0_i32
// CHECK: %[[OK:.*]] = arith.andi %[[GE]], %[[LT]] : i1
// CHECK: %[[ROW:.*]] = arith.select %[[OK]], %{{.*}}, %{{.*}} : index
// CHECK: %[[OKT:.*]] = spak_tile.broadcast %{{.*}} : !spak_tile.tile<1x1xi1> -> !spak_tile.tile<1x16xi1>
// CHECK: spak_tile.load %{{.*}}[%[[ROW]], %{{.*}}] mask %[[OKT]] : !spak_tile.buffer<27x16xf32> -> !spak_tile.tile<1x16xf32>
// CHECK: %[[BAD:.*]] = arith.xori %[[OK]], %true : i1
// CHECK: spak_tile.store %{{.*}} mask %{{.*}} : !spak_tile.tile<1xi32>, !spak_tile.buffer<1xi32>
// CHECK-LABEL: spak_tile.kernel @positions_0(
// CHECK-SAME: math = "p[t] = t"
// CHECK: spak_tile.iota axis 0 : !spak_tile.tile<512xi32>
// CHECK: spak_tile.store %{{.*}} mask %{{.*}} : !spak_tile.tile<512xi32>, !spak_tile.buffer<?xi32>
// [2, T, 16] + [T, 16]: the operand repeats over the batch: grouped map (batch group, then T*16).
// CHECK-LABEL: spak_tile.kernel @add_0(
// CHECK-SAME: %{{.*}}: !spak_tile.buffer<2x?xf32>, %{{.*}}: !spak_tile.buffer<1x?xf32>, %{{.*}}: !spak_tile.buffer<2x?xf32>)
// CHECK-SAME: grid = ["ceildiv(inner, 512)", "outer0"], math = "y[i] = a[i] + b[i] (numpy broadcasting)"
// CHECK: %[[O:.*]] = spak_tile.program_id 1
// CHECK: %[[I0:.*]] = arith.muli
// CHECK: spak_tile.load %{{.*}}[%[[O]], %[[I0]]] mask
// CHECK: spak_tile.load %{{.*}}[%c0, %[[I0]]] mask
// CHECK: spak_tile.add %{{.*}} : !spak_tile.tile<1x512xf32>
// CHECK-LABEL: func.func @embeddings(
// CHECK-SAME: %[[ST:[a-z0-9]+]]: !spak_tile.buffer<1xi32> {spak.status})
// CHECK: spak_tile.launch @embed_0[%{{.*}}] (%{{.*}}, %{{.*}}, %{{.*}}, %[[ST]])
// CHECK: spak_tile.launch @positions_0
// CHECK: spak_tile.launch @embed_1[%{{.*}}] (%{{.*}}, %{{.*}}, %{{.*}}, %[[ST]])
// CHECK: spak_tile.launch @add_0
func.func @embeddings(%wte: tensor<27x16xf32>, %wpe: tensor<16x16xf32>, %tok: tensor<2x?xi32>) -> tensor<2x?x16xf32> {
  %e = spak_graph.embed %wte, %tok : (tensor<27x16xf32>, tensor<2x?xi32>) -> tensor<2x?x16xf32>
  %p = spak_graph.positions %tok : (tensor<2x?xi32>) -> tensor<?xi32>
  %pe = spak_graph.embed %wpe, %p : (tensor<16x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  %x = spak_graph.add %e, %pe : (tensor<2x?x16xf32>, tensor<?x16xf32>) -> tensor<2x?x16xf32>
  return %x : tensor<2x?x16xf32>
}

// -----

// Bias add [?, 384] + [384]: the tile runs along the 384 (512-wide, masked) row.
// CHECK-LABEL: spak_tile.kernel @add_0(
// CHECK-SAME: !spak_tile.buffer<?x384xf32>, %{{.*}}: !spak_tile.buffer<1x384xf32>
// CHECK: %[[M:.*]] = spak_tile.mask bounds[%{{.*}}, %{{.*}}] within[%{{.*}}, %{{.*}}] : !spak_tile.tile<1x512xi1>
// CHECK: spak_tile.load %{{.*}} mask %[[M]] : !spak_tile.buffer<1x384xf32> -> !spak_tile.tile<1x512xf32>
func.func @bias(%x: tensor<?x384xf32>, %b: tensor<384xf32>) -> tensor<?x384xf32> {
  %0 = spak_graph.add %x, %b : (tensor<?x384xf32>, tensor<384xf32>) -> tensor<?x384xf32>
  return %0 : tensor<?x384xf32>
}

// -----

// qkv split along the last axis: one kernel, three strided copies; concat is its inverse.
// CHECK-LABEL: spak_tile.kernel @split_0(
// CHECK-SAME: math = "y_i[o, c] = x[o, i*16 + c], i < 3"
// CHECK: spak_tile.load %{{.*}}[%[[O:.*]], %[[C:.*]]] : !spak_tile.buffer<?x48xf32> -> !spak_tile.tile<1x16xf32>
// CHECK: %[[C1:.*]] = arith.addi %[[C]], %c16
// CHECK: spak_tile.load %{{.*}}[%[[O]], %[[C1]]]
// CHECK: %[[C2:.*]] = arith.addi %[[C]], %c32
// CHECK: spak_tile.load %{{.*}}[%[[O]], %[[C2]]]
// CHECK-LABEL: spak_tile.kernel @concat_0(
// CHECK-SAME: math = "y[o, i*16 + c] = x_i[o, c], i < 3"
// Swapping the last two axes: a [32 x 16] tile transposed by an mma with the identity.
// CHECK-LABEL: spak_tile.kernel @transpose_0(
// CHECK-SAME: grid = ["ceildiv(R, 32)", "ceildiv(C, 16)", "batch"]
// CHECK: %[[EYE:.*]] = spak_tile.select
// CHECK: spak_tile.mma %{{.*}}, %[[EYE]], %{{.*}} {transpose_a} : !spak_tile.tile<32x16xf32>, !spak_tile.tile<32x32xf32> -> !spak_tile.tile<16x32xf32>
// A perm that keeps the last axis moves whole rows.
// CHECK-LABEL: spak_tile.kernel @transpose_1(
// CHECK-SAME: math = "y[i_0, ..., c] = x[i_perm..., c], perm = [1, 0, 2]  (rows moved whole)"
// CHECK: %[[I1:.*]] = arith.remui
// CHECK: %[[I0:.*]] = arith.divui
// CHECK: spak_tile.load %{{.*}}[%[[I1]], %[[I0]], %{{.*}}]
// CHECK: spak_tile.store %{{.*}}, %{{.*}}[%[[I0]], %[[I1]], %{{.*}}]
func.func @split_t(%x: tensor<2x?x48xf32>) -> (tensor<2x16x?xf32>, tensor<?x2x16xf32>, tensor<2x?x48xf32>) {
  %q, %k, %v = spak_graph.split %x {parts = 3 : i64} : (tensor<2x?x48xf32>) -> (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>)
  %c = spak_graph.concat %q, %k, %v : (tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>) -> tensor<2x?x48xf32>
  %t = spak_graph.transpose %q {perm = array<i64: 0, 2, 1>} : (tensor<2x?x16xf32>) -> tensor<2x16x?xf32>
  %r = spak_graph.transpose %k {perm = array<i64: 1, 0, 2>} : (tensor<2x?x16xf32>) -> tensor<?x2x16xf32>
  return %t, %r, %c : tensor<2x16x?xf32>, tensor<?x2x16xf32>, tensor<2x?x48xf32>
}

// -----

// Bias gradient: sum over the B*T rows of a [2, ?, 64] tensor. Rows are dynamic: stage 1 sums chunks of
// (row_tile * vec_width)^2 = 256 rows per (column tile, chunk) program into partials, accumulating [16 x 64]
// tiles element-wise (no reduce inside the loop), and a second kernel sums the chunks in order.
// CHECK-LABEL: spak_tile.kernel @reduce_cols_partial_0(
// CHECK-SAME: vec_width = #spak_tile.law<"vec_width", 4, "default">
// CHECK-SAME: grid = ["ceildiv(K2, 64)", "ceildiv(R, 256)", "K1"], math = "p[k1, j, c] = sum_(r in chunk j of 256 rows) x[k1, r, c]"
// CHECK: %[[HI:.*]] = arith.minui
// CHECK: scf.for %[[R:.*]] = %{{.*}} to %[[HI]] step %c16 iter_args(%[[ACC:.*]] = %{{.*}}) -> (!spak_tile.tile<16x64xf32>)
// CHECK:   spak_tile.mask bounds[%[[R]], %{{.*}}] within[%[[HI]], %{{.*}}] : !spak_tile.tile<16x64xi1>
// CHECK-NOT: spak_tile.reduce
// CHECK:   spak_tile.add %[[ACC]], %{{.*}} : !spak_tile.tile<16x64xf32>
// CHECK: spak_tile.reduce sum %{{.*}} axis 0 : !spak_tile.tile<16x64xf32> -> !spak_tile.tile<1x64xf32>
// Stage 2: one warp wide (32 columns), the partial rows spread over the 4 warps (64-row steps).
// CHECK-LABEL: spak_tile.kernel @reduce_cols_0(
// CHECK-SAME: grid = ["ceildiv(K2, 32)", "1", "K1"], math = "y[k1, c] = sum_r x[k1, r, c]"
// CHECK: scf.for {{.*}} step %c64 {{.*}} -> (!spak_tile.tile<64x32xf32>)
// CHECK-NOT: atomic_add
// Row sums (reduce over the last axis).
// CHECK-LABEL: spak_tile.kernel @reduce_rows_0(
// CHECK-SAME: grid = ["ceildiv(K1, 4)"], math = "y[k] = sum_r x[k, r]"
// CHECK: spak_tile.reduce sum %{{.*}} axis 1 : !spak_tile.tile<4x64xf32> -> !spak_tile.tile<4x1xf32>
// The VJP of a reduce: broadcast back along the reduced axes.
// CHECK-LABEL: spak_tile.kernel @broadcast_like_0(
// CHECK: spak_tile.load %{{.*}}[%c0, %{{.*}}] : !spak_tile.buffer<1x64xf32> -> !spak_tile.tile<1x64xf32>
// CHECK-LABEL: spak_tile.kernel @zeros_0(
// CHECK: spak_tile.constant 0.000000e+00 : !spak_tile.tile<512xf32>
// CHECK-LABEL: spak_tile.kernel @fill_0(
// CHECK-SAME: math = "y[i] = 1"
// CHECK-LABEL: func.func @reductions(
// CHECK: %[[P:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<1x?x64xf32>
// CHECK: spak_tile.launch @reduce_cols_partial_0[%{{.*}}, %{{.*}}, %{{.*}}] (%{{.*}}, %[[P]])
// CHECK: spak_tile.launch @reduce_cols_0[%{{.*}}, %{{.*}}, %{{.*}}] (%[[P]], %{{.*}})
func.func @reductions(%x: tensor<2x?x64xf32>) -> (tensor<64xf32>, tensor<2x?xf32>, tensor<2x?x64xf32>, tensor<2x?x64xf32>, tensor<f32>) {
  %0 = spak_graph.reduce_sum %x {axes = array<i64: 0, 1>} : (tensor<2x?x64xf32>) -> tensor<64xf32>
  %1 = spak_graph.reduce_sum %x {axes = array<i64: 2>} : (tensor<2x?x64xf32>) -> tensor<2x?xf32>
  %2 = spak_graph.broadcast_like %0, %x {axes = array<i64: 0, 1>} : (tensor<64xf32>, tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %3 = spak_graph.zeros_like %x : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %4 = arith.constant dense<1.0> : tensor<f32>
  return %0, %1, %2, %3, %4 : tensor<64xf32>, tensor<2x?xf32>, tensor<2x?x64xf32>, tensor<2x?x64xf32>, tensor<f32>
}

// -----

// Reducing only size-1 axes is a view (no kernel).
// CHECK-LABEL: func.func @unit_axis(
// CHECK-NOT: spak_tile.launch
// CHECK: %[[V:.*]] = spak_tile.view %{{.*}} : !spak_tile.buffer<1x?x16xf32> to !spak_tile.buffer<?x16xf32>
// CHECK: return %[[V]]
func.func @unit_axis(%x: tensor<1x?x16xf32>) -> tensor<?x16xf32> {
  %0 = spak_graph.reduce_sum %x {axes = array<i64: 0>} : (tensor<1x?x16xf32>) -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}
