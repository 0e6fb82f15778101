// A tiled matmul with masked tails on every axis: c[M, 45] = a[M, 29] * b[29, 45] (M dynamic),
// 16x16 output tiles, k-steps of 8 (29 = 3 * 8 + 5, 45 = 2 * 16 + 13). The A operand is staged in
// shared memory, B stays in registers; a second kernel is a linear layer (W[N, K] read transposed)
// with a bias broadcast. Shared by tests/lit/target/*.mlir and tests/unit/target (run + compare).
module {
  spak_tile.kernel @matmul_0(%a: !spak_tile.buffer<?x29xf32>, %b: !spak_tile.buffer<29x45xf32>, %c: !spak_tile.buffer<?x45xf32>)
      attributes {grid = ["ceildiv(M, 16)", "ceildiv(N, 16)"], math = "c[m, n] = sum_k a[m, k] * b[k, n]",
                  config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 16, "rules/test.dsl:3:3">,
                                              tile_k = #spak_tile.law<"tile_k", 8, "default">,
                                              warps = #spak_tile.law<"warps", 2, "rules/test.dsl:5:3">}>} {
    %pm = spak_tile.program_id 0
    %pn = spak_tile.program_id 1
    %c0 = arith.constant 0 : index
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %m0 = arith.muli %pm, %c16 : index
    %n0 = arith.muli %pn, %c16 : index
    %M = spak_tile.dim %a, 0 : !spak_tile.buffer<?x29xf32>
    %K = spak_tile.dim %a, 1 : !spak_tile.buffer<?x29xf32>
    %N = spak_tile.dim %b, 1 : !spak_tile.buffer<29x45xf32>
    %zero = spak_tile.constant 0.0 : !spak_tile.tile<16x16xf32>
    %acc = scf.for %k = %c0 to %K step %c8 iter_args(%s = %zero) -> (!spak_tile.tile<16x16xf32>) {
      %ma = spak_tile.mask bounds [%m0, %k] within [%M, %K] : !spak_tile.tile<16x8xi1>
      %ta = spak_tile.load %a[%m0, %k] mask %ma stage 0 {latency = #spak_tile.law<"stages", 2, "rules/test.dsl:4:3">}
            : !spak_tile.buffer<?x29xf32> -> !spak_tile.tile<16x8xf32, smem>
      %mb = spak_tile.mask bounds [%k, %n0] within [%K, %N] : !spak_tile.tile<8x16xi1>
      %tb = spak_tile.load %b[%k, %n0] mask %mb : !spak_tile.buffer<29x45xf32> -> !spak_tile.tile<8x16xf32>
      %r = spak_tile.mma %ta, %tb, %s : !spak_tile.tile<16x8xf32, smem>, !spak_tile.tile<8x16xf32> -> !spak_tile.tile<16x16xf32>
      scf.yield %r : !spak_tile.tile<16x16xf32>
    }
    %mc = spak_tile.mask bounds [%m0, %n0] within [%M, %N] : !spak_tile.tile<16x16xi1>
    spak_tile.store %acc, %c[%m0, %n0] mask %mc : !spak_tile.tile<16x16xf32>, !spak_tile.buffer<?x45xf32>
    spak_tile.return
  }

  spak_tile.kernel @linear_0(%x: !spak_tile.buffer<?x29xf32>, %w: !spak_tile.buffer<45x29xf32>, %bias: !spak_tile.buffer<1x45xf32>, %y: !spak_tile.buffer<?x45xf32>)
      attributes {grid = ["ceildiv(M, 16)", "ceildiv(N, 16)"], math = "y[m, n] = sum_k x[m, k] * w[n, k] + b[n]",
                  config = #spak_tile.config<{warps = #spak_tile.law<"warps", 4, "default">}>} {
    %pm = spak_tile.program_id 0
    %pn = spak_tile.program_id 1
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %m0 = arith.muli %pm, %c16 : index
    %n0 = arith.muli %pn, %c16 : index
    %M = spak_tile.dim %x, 0 : !spak_tile.buffer<?x29xf32>
    %K = spak_tile.dim %x, 1 : !spak_tile.buffer<?x29xf32>
    %N = spak_tile.dim %w, 0 : !spak_tile.buffer<45x29xf32>
    %zero = spak_tile.constant 0.0 : !spak_tile.tile<16x16xf32>
    %acc = scf.for %k = %c0 to %K step %c8 iter_args(%s = %zero) -> (!spak_tile.tile<16x16xf32>) {
      %ma = spak_tile.mask bounds [%m0, %k] within [%M, %K] : !spak_tile.tile<16x8xi1>
      %ta = spak_tile.load %x[%m0, %k] mask %ma : !spak_tile.buffer<?x29xf32> -> !spak_tile.tile<16x8xf32>
      %mb = spak_tile.mask bounds [%n0, %k] within [%N, %K] : !spak_tile.tile<16x8xi1>
      %tb = spak_tile.load %w[%n0, %k] mask %mb : !spak_tile.buffer<45x29xf32> -> !spak_tile.tile<16x8xf32, smem>
      %r = spak_tile.mma %ta, %tb, %s {transpose_b} : !spak_tile.tile<16x8xf32>, !spak_tile.tile<16x8xf32, smem> -> !spak_tile.tile<16x16xf32>
      scf.yield %r : !spak_tile.tile<16x16xf32>
    }
    %mbias = spak_tile.mask bounds [%c0, %n0] within [%c1, %N] : !spak_tile.tile<1x16xi1>
    %tbias = spak_tile.load %bias[%c0, %n0] mask %mbias : !spak_tile.buffer<1x45xf32> -> !spak_tile.tile<1x16xf32>
    %bb = spak_tile.broadcast %tbias : !spak_tile.tile<1x16xf32> -> !spak_tile.tile<16x16xf32>
    %out = spak_tile.add %acc, %bb : !spak_tile.tile<16x16xf32>
    %mc = spak_tile.mask bounds [%m0, %n0] within [%M, %N] : !spak_tile.tile<16x16xi1>
    spak_tile.store %out, %y[%m0, %n0] mask %mc : !spak_tile.tile<16x16xf32>, !spak_tile.buffer<?x45xf32>
    spak_tile.return
  }

  func.func @matmul(%a: !spak_tile.buffer<?x29xf32>, %b: !spak_tile.buffer<29x45xf32>) -> !spak_tile.buffer<?x45xf32> {
    %M = spak_tile.dim %a, 0 : !spak_tile.buffer<?x29xf32>
    %c = spak_tile.alloc(%M) : !spak_tile.buffer<?x45xf32>
    %c16 = arith.constant 16 : index
    %c45 = arith.constant 45 : index
    %gm = arith.ceildivui %M, %c16 : index
    %gn = arith.ceildivui %c45, %c16 : index
    spak_tile.launch @matmul_0 [%gm, %gn] (%a, %b, %c) : (!spak_tile.buffer<?x29xf32>, !spak_tile.buffer<29x45xf32>, !spak_tile.buffer<?x45xf32>)
    return %c : !spak_tile.buffer<?x45xf32>
  }

  func.func @linear(%x: !spak_tile.buffer<?x29xf32>, %w: !spak_tile.buffer<45x29xf32>, %b: !spak_tile.buffer<45xf32>) -> !spak_tile.buffer<?x45xf32> {
    %M = spak_tile.dim %x, 0 : !spak_tile.buffer<?x29xf32>
    %y = spak_tile.alloc(%M) : !spak_tile.buffer<?x45xf32>
    %bv = spak_tile.view %b : !spak_tile.buffer<45xf32> to !spak_tile.buffer<1x45xf32>
    %c16 = arith.constant 16 : index
    %c3 = arith.constant 3 : index
    %gm = arith.ceildivui %M, %c16 : index
    spak_tile.launch @linear_0 [%gm, %c3] (%x, %w, %bv, %y) : (!spak_tile.buffer<?x29xf32>, !spak_tile.buffer<45x29xf32>, !spak_tile.buffer<1x45xf32>, !spak_tile.buffer<?x45xf32>)
    return %y : !spak_tile.buffer<?x45xf32>
  }
}
