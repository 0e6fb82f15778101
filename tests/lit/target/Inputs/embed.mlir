// Embedding backward: one program per token row t adds dout[t, :] into dwte[ids[t], :]. Tokens repeat,
// so rows accumulate (atomic_add). Exercises extract (a token id as a scalar), index_cast, atomic_add,
// and a host function with two launches (zero the gradient, then scatter-add).
// Shared by tests/lit/target/*.mlir and tests/unit/target (run + compare).
module {
  spak_tile.kernel @zero_0(%g: !spak_tile.buffer<27x16xf32>)
      attributes {grid = ["27"], math = "g[r, :] = 0", config = #spak_tile.config<{warps = #spak_tile.law<"warps", 1, "default">}>} {
    %r = spak_tile.program_id 0
    %c0 = arith.constant 0 : index
    %z = spak_tile.constant 0.0 : !spak_tile.tile<1x16xf32>
    spak_tile.store %z, %g[%r, %c0] : !spak_tile.tile<1x16xf32>, !spak_tile.buffer<27x16xf32>
    spak_tile.return
  }
  spak_tile.kernel @embed_bwd_0(%ids: !spak_tile.buffer<?xi32>, %dout: !spak_tile.buffer<?x16xf32>, %dwte: !spak_tile.buffer<27x16xf32>)
      attributes {grid = ["T"], math = "dwte[ids[t], c] += dout[t, c]", config = #spak_tile.config<{warps = #spak_tile.law<"warps", 1, "default">}>} {
    %t = spak_tile.program_id 0
    %c0 = arith.constant 0 : index
    %idt = spak_tile.load %ids[%t] : !spak_tile.buffer<?xi32> -> !spak_tile.tile<1xi32>
    %id32 = spak_tile.extract %idt[0] : !spak_tile.tile<1xi32> -> i32
    %id = arith.index_cast %id32 : i32 to index
    %row = spak_tile.load %dout[%t, %c0] : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<1x16xf32>
    spak_tile.atomic_add %row, %dwte[%id, %c0] : !spak_tile.tile<1x16xf32>, !spak_tile.buffer<27x16xf32>
    spak_tile.return
  }
  func.func @embed_backward(%ids: !spak_tile.buffer<?xi32>, %dout: !spak_tile.buffer<?x16xf32>) -> !spak_tile.buffer<27x16xf32> {
    %g = spak_tile.alloc() : !spak_tile.buffer<27x16xf32>
    %c27 = arith.constant 27 : index
    spak_tile.launch @zero_0 [%c27] (%g) : (!spak_tile.buffer<27x16xf32>)
    %T = spak_tile.dim %ids, 0 : !spak_tile.buffer<?xi32>
    spak_tile.launch @embed_bwd_0 [%T] (%ids, %dout, %g) : (!spak_tile.buffer<?xi32>, !spak_tile.buffer<?x16xf32>, !spak_tile.buffer<27x16xf32>)
    return %g : !spak_tile.buffer<27x16xf32>
  }
}
