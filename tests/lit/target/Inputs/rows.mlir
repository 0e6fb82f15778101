// Row kernels over a dynamic number of rows, 4 rows per program instance, row tiles wider than the
// rows (masked tails): a two-pass online softmax over 27 columns in 32-wide chunks with the stability
// floor, and an rmsnorm over 20 columns held in one 32-wide tile (with a weight broadcast).
// Shared by tests/lit/target/*.mlir and tests/unit/target (run + compare).
module {
  spak_tile.kernel @softmax_0(%x: !spak_tile.buffer<?x27xf32>, %y: !spak_tile.buffer<?x27xf32>)
      attributes {grid = ["ceildiv(rows, 4)"], math = "y[r, c] = exp(x[r, c] - max_c x[r, :]) / sum_c exp(x[r, c] - max)",
                  config = #spak_tile.config<{row_tile = #spak_tile.law<"row_tile", 4, "default">, warps = #spak_tile.law<"warps", 4, "default">}>} {
    %p = spak_tile.program_id 0
    %c4 = arith.constant 4 : index
    %r0 = arith.muli %p, %c4 : index
    %R = spak_tile.dim %x, 0 : !spak_tile.buffer<?x27xf32>
    %C = spak_tile.dim %x, 1 : !spak_tile.buffer<?x27xf32>
    %minit = spak_tile.constant -1.0e20 {law = #spak_tile.law<"stability_floor", -1.0e20, "rules/targets/sm90_h100.dsl:17:3">} : !spak_tile.tile<4x1xf32>
    %linit = spak_tile.constant 0.0 : !spak_tile.tile<4x1xf32>
    %floor = spak_tile.constant -1.0e20 {law = #spak_tile.law<"stability_floor", -1.0e20, "rules/targets/sm90_h100.dsl:17:3">} : !spak_tile.tile<4x32xf32>
    %c32 = arith.constant 32 : index
    %c0 = arith.constant 0 : index
    %ml:2 = scf.for %k = %c0 to %C step %c32 iter_args(%m = %minit, %l = %linit) -> (!spak_tile.tile<4x1xf32>, !spak_tile.tile<4x1xf32>) {
      %mask = spak_tile.mask bounds [%r0, %k] within [%R, %C] : !spak_tile.tile<4x32xi1>
      %v = spak_tile.load %x[%r0, %k] mask %mask : !spak_tile.buffer<?x27xf32> -> !spak_tile.tile<4x32xf32>
      %vf = spak_tile.select %mask, %v, %floor : !spak_tile.tile<4x32xi1>, !spak_tile.tile<4x32xf32>
      %cm = spak_tile.reduce max %vf axis 1 : !spak_tile.tile<4x32xf32> -> !spak_tile.tile<4x1xf32>
      %mn = spak_tile.max %m, %cm : !spak_tile.tile<4x1xf32>
      %mb = spak_tile.broadcast %mn : !spak_tile.tile<4x1xf32> -> !spak_tile.tile<4x32xf32>
      %d = spak_tile.sub %vf, %mb : !spak_tile.tile<4x32xf32>
      %e = spak_tile.exp %d : !spak_tile.tile<4x32xf32>
      %cs = spak_tile.reduce sum %e axis 1 : !spak_tile.tile<4x32xf32> -> !spak_tile.tile<4x1xf32>
      %dm = spak_tile.sub %m, %mn : !spak_tile.tile<4x1xf32>
      %alpha = spak_tile.exp %dm : !spak_tile.tile<4x1xf32>
      %la = spak_tile.mul %l, %alpha : !spak_tile.tile<4x1xf32>
      %ln = spak_tile.add %la, %cs : !spak_tile.tile<4x1xf32>
      scf.yield %mn, %ln : !spak_tile.tile<4x1xf32>, !spak_tile.tile<4x1xf32>
    }
    %mfin = spak_tile.broadcast %ml#0 : !spak_tile.tile<4x1xf32> -> !spak_tile.tile<4x32xf32>
    %lfin = spak_tile.broadcast %ml#1 : !spak_tile.tile<4x1xf32> -> !spak_tile.tile<4x32xf32>
    scf.for %k = %c0 to %C step %c32 {
      %mask = spak_tile.mask bounds [%r0, %k] within [%R, %C] : !spak_tile.tile<4x32xi1>
      %v = spak_tile.load %x[%r0, %k] mask %mask : !spak_tile.buffer<?x27xf32> -> !spak_tile.tile<4x32xf32>
      %d = spak_tile.sub %v, %mfin : !spak_tile.tile<4x32xf32>
      %e = spak_tile.exp %d : !spak_tile.tile<4x32xf32>
      %o = spak_tile.div %e, %lfin : !spak_tile.tile<4x32xf32>
      spak_tile.store %o, %y[%r0, %k] mask %mask : !spak_tile.tile<4x32xf32>, !spak_tile.buffer<?x27xf32>
    }
    spak_tile.return
  }

  spak_tile.kernel @rmsnorm_0(%x: !spak_tile.buffer<?x20xf32>, %w: !spak_tile.buffer<1x20xf32>, %y: !spak_tile.buffer<?x20xf32>)
      attributes {grid = ["ceildiv(rows, 4)"], math = "y[r, c] = x[r, c] * rsqrt(mean(x[r, :]^2) + 1e-05) * w[c]",
                  config = #spak_tile.config<{row_tile = #spak_tile.law<"row_tile", 4, "default">, warps = #spak_tile.law<"warps", 1, "rules/test.dsl:7:3">}>} {
    %p = spak_tile.program_id 0
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %r0 = arith.muli %p, %c4 : index
    %R = spak_tile.dim %x, 0 : !spak_tile.buffer<?x20xf32>
    %C = spak_tile.dim %x, 1 : !spak_tile.buffer<?x20xf32>
    %mask = spak_tile.mask bounds [%r0, %c0] within [%R, %C] : !spak_tile.tile<4x32xi1>
    %v = spak_tile.load %x[%r0, %c0] mask %mask : !spak_tile.buffer<?x20xf32> -> !spak_tile.tile<4x32xf32>
    %sq = spak_tile.mul %v, %v : !spak_tile.tile<4x32xf32>
    %ss = spak_tile.reduce sum %sq axis 1 : !spak_tile.tile<4x32xf32> -> !spak_tile.tile<4x1xf32>
    %invc = spak_tile.constant 0.05 : !spak_tile.tile<4x1xf32>
    %ms = spak_tile.mul %ss, %invc : !spak_tile.tile<4x1xf32>
    %eps = spak_tile.constant 1.0e-5 : !spak_tile.tile<4x1xf32>
    %d = spak_tile.add %ms, %eps : !spak_tile.tile<4x1xf32>
    %rs = spak_tile.rsqrt %d : !spak_tile.tile<4x1xf32>
    %rb = spak_tile.broadcast %rs : !spak_tile.tile<4x1xf32> -> !spak_tile.tile<4x32xf32>
    %wm = spak_tile.mask bounds [%c0, %c0] within [%c1, %C] : !spak_tile.tile<1x32xi1>
    %wt = spak_tile.load %w[%c0, %c0] mask %wm : !spak_tile.buffer<1x20xf32> -> !spak_tile.tile<1x32xf32>
    %wb = spak_tile.broadcast %wt : !spak_tile.tile<1x32xf32> -> !spak_tile.tile<4x32xf32>
    %n = spak_tile.mul %v, %rb : !spak_tile.tile<4x32xf32>
    %o = spak_tile.mul %n, %wb : !spak_tile.tile<4x32xf32>
    spak_tile.store %o, %y[%r0, %c0] mask %mask : !spak_tile.tile<4x32xf32>, !spak_tile.buffer<?x20xf32>
    spak_tile.return
  }

  func.func @softmax(%x: !spak_tile.buffer<?x27xf32>) -> !spak_tile.buffer<?x27xf32> {
    %R = spak_tile.dim %x, 0 : !spak_tile.buffer<?x27xf32>
    %y = spak_tile.alloc(%R) : !spak_tile.buffer<?x27xf32>
    %c4 = arith.constant 4 : index
    %g = arith.ceildivui %R, %c4 : index
    spak_tile.launch @softmax_0 [%g] (%x, %y) : (!spak_tile.buffer<?x27xf32>, !spak_tile.buffer<?x27xf32>)
    return %y : !spak_tile.buffer<?x27xf32>
  }

  func.func @rmsnorm(%x: !spak_tile.buffer<?x20xf32>, %w: !spak_tile.buffer<20xf32>) -> !spak_tile.buffer<?x20xf32> {
    %R = spak_tile.dim %x, 0 : !spak_tile.buffer<?x20xf32>
    %y = spak_tile.alloc(%R) : !spak_tile.buffer<?x20xf32>
    %wv = spak_tile.view %w : !spak_tile.buffer<20xf32> to !spak_tile.buffer<1x20xf32>
    %c4 = arith.constant 4 : index
    %g = arith.ceildivui %R, %c4 : index
    spak_tile.launch @rmsnorm_0 [%g] (%x, %wv, %y) : (!spak_tile.buffer<?x20xf32>, !spak_tile.buffer<1x20xf32>, !spak_tile.buffer<?x20xf32>)
    return %y : !spak_tile.buffer<?x20xf32>
  }
}
