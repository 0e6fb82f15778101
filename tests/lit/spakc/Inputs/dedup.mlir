// Input of dedup.test: @scale_0 and @scale_1 are the same tile program; @shift_0 differs in one op.
module {
  spak_tile.kernel @scale_0(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {grid = ["ceildiv(n, 512)"], math = "y = -x"} {
    %0 = spak_tile.program_id 0
    %c512 = arith.constant 512 : index
    %1 = arith.muli %0, %c512 : index
    %2 = spak_tile.dim %arg1, 0 : !spak_tile.buffer<?xf32>
    %3 = spak_tile.mask bounds[%1] within[%2] : !spak_tile.tile<512xi1>
    %4 = spak_tile.load %arg0[%1] mask %3 : !spak_tile.buffer<?xf32> -> !spak_tile.tile<512xf32>
    %5 = spak_tile.neg %4 : !spak_tile.tile<512xf32>
    spak_tile.store %5, %arg1[%1] mask %3 : !spak_tile.tile<512xf32>, !spak_tile.buffer<?xf32>
    spak_tile.return
  }
  spak_tile.kernel @scale_1(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {grid = ["ceildiv(n, 512)"], math = "y = -x"} {
    %0 = spak_tile.program_id 0
    %c512 = arith.constant 512 : index
    %1 = arith.muli %0, %c512 : index
    %2 = spak_tile.dim %arg1, 0 : !spak_tile.buffer<?xf32>
    %3 = spak_tile.mask bounds[%1] within[%2] : !spak_tile.tile<512xi1>
    %4 = spak_tile.load %arg0[%1] mask %3 : !spak_tile.buffer<?xf32> -> !spak_tile.tile<512xf32>
    %5 = spak_tile.neg %4 : !spak_tile.tile<512xf32>
    spak_tile.store %5, %arg1[%1] mask %3 : !spak_tile.tile<512xf32>, !spak_tile.buffer<?xf32>
    spak_tile.return
  }
  spak_tile.kernel @shift_0(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {grid = ["ceildiv(n, 512)"], math = "y = -x"} {
    %0 = spak_tile.program_id 0
    %c512 = arith.constant 512 : index
    %1 = arith.muli %0, %c512 : index
    %2 = spak_tile.dim %arg1, 0 : !spak_tile.buffer<?xf32>
    %3 = spak_tile.mask bounds[%1] within[%2] : !spak_tile.tile<512xi1>
    %4 = spak_tile.load %arg0[%1] mask %3 : !spak_tile.buffer<?xf32> -> !spak_tile.tile<512xf32>
    %5 = spak_tile.relu %4 : !spak_tile.tile<512xf32>
    spak_tile.store %5, %arg1[%1] mask %3 : !spak_tile.tile<512xf32>, !spak_tile.buffer<?xf32>
    spak_tile.return
  }
  func.func @host(%x: !spak_tile.buffer<?xf32>, %y: !spak_tile.buffer<?xf32>) {
    %c1 = arith.constant 1 : index
    spak_tile.launch @scale_0[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @scale_1[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @shift_0[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    return
  }
}
