// spak-dedup-kernels merges only kernels that are identical apart from their name and locations: a kernel that
// differs from another in one attribute, constant, law, operand order or block argument keeps its own symbol.
// RUN: spak-opt %s --spak-dedup-kernels | FileCheck %s

// neg_0: the reference
// neg_1: same as neg_0 apart from locations: merged
// neg_2: one constant differs: kept
// neg_3: one law value differs: kept
// neg_4: one law provenance differs: kept
// neg_5: the math attribute differs: kept
// neg_6: operands of one op swapped: kept
// neg_7: loads another block argument: kept
// neg_8: an argument attribute differs: kept
// neg_9: same as neg_2: merged into neg_2, not neg_0
// neg_10: neg_0 with arg_attrs = [{}, {}] (prints like no arg_attrs): merged into neg_0
// CHECK-LABEL: spak_tile.kernel @neg_0(
// CHECK-NOT: spak_tile.kernel @neg_1(
// CHECK: spak_tile.kernel @neg_2(
// CHECK: spak_tile.kernel @neg_3(
// CHECK: spak_tile.kernel @neg_4(
// CHECK: spak_tile.kernel @neg_5(
// CHECK: spak_tile.kernel @neg_6(
// CHECK: spak_tile.kernel @neg_7(
// CHECK: spak_tile.kernel @neg_8(
// CHECK-NOT: spak_tile.kernel @neg_9(
// CHECK-NOT: spak_tile.kernel @neg_10(
// CHECK-LABEL: func.func @host
// CHECK: spak_tile.launch @neg_0[
// CHECK-NEXT: spak_tile.launch @neg_0[
// CHECK-NEXT: spak_tile.launch @neg_2[
// CHECK-NEXT: spak_tile.launch @neg_3[
// CHECK-NEXT: spak_tile.launch @neg_4[
// CHECK-NEXT: spak_tile.launch @neg_5[
// CHECK-NEXT: spak_tile.launch @neg_6[
// CHECK-NEXT: spak_tile.launch @neg_7[
// CHECK-NEXT: spak_tile.launch @neg_8[
// CHECK-NEXT: spak_tile.launch @neg_2[
// CHECK-NEXT: spak_tile.launch @neg_0[
module {
  spak_tile.kernel @neg_0(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
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
  spak_tile.kernel @neg_1(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
    %0 = spak_tile.program_id 0 loc("other.dsl":7:3)
    %c512 = arith.constant 512 : index loc("other.dsl":7:3)
    %1 = arith.muli %0, %c512 : index loc("other.dsl":7:3)
    %2 = spak_tile.dim %arg1, 0 : !spak_tile.buffer<?xf32> loc("other.dsl":7:3)
    %3 = spak_tile.mask bounds[%1] within[%2] : !spak_tile.tile<512xi1> loc("other.dsl":7:3)
    %4 = spak_tile.load %arg0[%1] mask %3 : !spak_tile.buffer<?xf32> -> !spak_tile.tile<512xf32> loc("other.dsl":7:3)
    %5 = spak_tile.neg %4 : !spak_tile.tile<512xf32> loc("other.dsl":7:3)
    spak_tile.store %5, %arg1[%1] mask %3 : !spak_tile.tile<512xf32>, !spak_tile.buffer<?xf32> loc("other.dsl":7:3)
    spak_tile.return loc("other.dsl":7:3)
  } loc("other.dsl":7:3)
  spak_tile.kernel @neg_2(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
    %0 = spak_tile.program_id 0
    %c512 = arith.constant 256 : index
    %1 = arith.muli %0, %c512 : index
    %2 = spak_tile.dim %arg1, 0 : !spak_tile.buffer<?xf32>
    %3 = spak_tile.mask bounds[%1] within[%2] : !spak_tile.tile<512xi1>
    %4 = spak_tile.load %arg0[%1] mask %3 : !spak_tile.buffer<?xf32> -> !spak_tile.tile<512xf32>
    %5 = spak_tile.neg %4 : !spak_tile.tile<512xf32>
    spak_tile.store %5, %arg1[%1] mask %3 : !spak_tile.tile<512xf32>, !spak_tile.buffer<?xf32>
    spak_tile.return
  }
  spak_tile.kernel @neg_3(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 32, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
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
  spak_tile.kernel @neg_4(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/x.dsl:3:1">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
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
  spak_tile.kernel @neg_5(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = 0 - x"} {
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
  spak_tile.kernel @neg_6(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
    %0 = spak_tile.program_id 0
    %c512 = arith.constant 512 : index
    %1 = arith.muli %c512, %0 : index
    %2 = spak_tile.dim %arg1, 0 : !spak_tile.buffer<?xf32>
    %3 = spak_tile.mask bounds[%1] within[%2] : !spak_tile.tile<512xi1>
    %4 = spak_tile.load %arg0[%1] mask %3 : !spak_tile.buffer<?xf32> -> !spak_tile.tile<512xf32>
    %5 = spak_tile.neg %4 : !spak_tile.tile<512xf32>
    spak_tile.store %5, %arg1[%1] mask %3 : !spak_tile.tile<512xf32>, !spak_tile.buffer<?xf32>
    spak_tile.return
  }
  spak_tile.kernel @neg_7(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
    %0 = spak_tile.program_id 0
    %c512 = arith.constant 512 : index
    %1 = arith.muli %0, %c512 : index
    %2 = spak_tile.dim %arg1, 0 : !spak_tile.buffer<?xf32>
    %3 = spak_tile.mask bounds[%1] within[%2] : !spak_tile.tile<512xi1>
    %4 = spak_tile.load %arg1[%1] mask %3 : !spak_tile.buffer<?xf32> -> !spak_tile.tile<512xf32>
    %5 = spak_tile.neg %4 : !spak_tile.tile<512xf32>
    spak_tile.store %5, %arg1[%1] mask %3 : !spak_tile.tile<512xf32>, !spak_tile.buffer<?xf32>
    spak_tile.return
  }
  spak_tile.kernel @neg_8(%arg0: !spak_tile.buffer<?xf32> {spak.name = "x"}, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
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
  spak_tile.kernel @neg_9(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
    %0 = spak_tile.program_id 0
    %c512 = arith.constant 256 : index
    %1 = arith.muli %0, %c512 : index
    %2 = spak_tile.dim %arg1, 0 : !spak_tile.buffer<?xf32>
    %3 = spak_tile.mask bounds[%1] within[%2] : !spak_tile.tile<512xi1>
    %4 = spak_tile.load %arg0[%1] mask %3 : !spak_tile.buffer<?xf32> -> !spak_tile.tile<512xf32>
    %5 = spak_tile.neg %4 : !spak_tile.tile<512xf32>
    spak_tile.store %5, %arg1[%1] mask %3 : !spak_tile.tile<512xf32>, !spak_tile.buffer<?xf32>
    spak_tile.return
  }
  spak_tile.kernel @neg_10(%arg0: !spak_tile.buffer<?xf32>, %arg1: !spak_tile.buffer<?xf32>) attributes {arg_attrs = [{}, {}], config = #spak_tile.config<{tile_m = #spak_tile.law<"tile_m", 64, "default">}>, grid = ["ceildiv(n, 512)"], math = "y = -x"} {
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
  func.func @host(%x: !spak_tile.buffer<?xf32>, %y: !spak_tile.buffer<?xf32>) {
    %c1 = arith.constant 1 : index
    spak_tile.launch @neg_0[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_1[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_2[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_3[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_4[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_5[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_6[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_7[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_8[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_9[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    spak_tile.launch @neg_10[%c1] (%x, %y) : (!spak_tile.buffer<?xf32>, !spak_tile.buffer<?xf32>)
    return
  }
}
