// Verifier diagnostics of spak_tile types, attributes and ops.
// RUN: spak-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{tile dimensions must be static and positive, got 0}}
func.func private @f(!spak_tile.tile<0x4xf32>)

// -----

// expected-error @+1 {{expected memory space 'reg' or 'smem', got 'gmem'}}
func.func private @f(!spak_tile.tile<4x4xf32, gmem>)

// -----

// expected-error @+1 {{a buffer needs at least one dimension}}
func.func private @f(!spak_tile.buffer<f32>)

// -----

// expected-error @+1 {{law 'tile_m' needs a provenance}}
func.func private @f() attributes {l = #spak_tile.law<"tile_m", 64, "">}

// -----

// expected-error @+1 {{config entry 'tile_n' holds law 'tile_m'}}
func.func private @f() attributes {c = #spak_tile.config<{tile_n = #spak_tile.law<"tile_m", 64, "default">}>}

// -----

// expected-error @+1 {{extent tile must be positive, got 0}}
func.func private @f() attributes {e = #spak_tile.extent<768, 0>}

// -----

// expected-error @+1 {{'spak_tile.kernel' op grid must describe 1 to 3 axes, got 4}}
spak_tile.kernel @k() attributes {grid = ["a", "b", "c", "d"], math = ""} {
  spak_tile.return
}

// -----

// expected-error @+1 {{argument #0 has type 'tensor<4xf32>'; kernel arguments are buffers or scalars}}
spak_tile.kernel @k(%t: tensor<4xf32>) attributes {grid = ["1"], math = ""} {
  spak_tile.return
}

// -----

spak_tile.kernel @k() attributes {grid = ["1"], math = ""} {
  // expected-error @+1 {{axis 1 is outside the kernel's 1-axis grid}}
  %p = spak_tile.program_id 1
  spak_tile.return
}

// -----

spak_tile.kernel @k(%b: !spak_tile.buffer<768xf32>) attributes {grid = ["1"], math = ""} {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{tile extent 1024 does not evenly cover buffer dimension 0 (size 768): the access needs a mask}}
  %t = spak_tile.load %b[%c0] : !spak_tile.buffer<768xf32> -> !spak_tile.tile<1024xf32>
  spak_tile.return
}

// -----

spak_tile.kernel @k(%b: !spak_tile.buffer<?x16xf32>) attributes {grid = ["1"], math = ""} {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{needs one offset per buffer dimension: 2 expected, 1 given}}
  %t = spak_tile.load %b[%c0] : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<4x16xf32>
  spak_tile.return
}

// -----

spak_tile.kernel @k(%b: !spak_tile.buffer<?x16xf32>) attributes {grid = ["1"], math = ""} {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{tile element type 'f16' differs from buffer element type 'f32'}}
  %t = spak_tile.load %b[%c0, %c0] : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<4x16xf16>
  spak_tile.return
}

// -----

spak_tile.kernel @k(%b: !spak_tile.buffer<?x16xf32>) attributes {grid = ["1"], math = ""} {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{latency law 'k_lat' must be a positive integer}}
  %t = spak_tile.load %b[%c0, %c0] {latency = #spak_tile.law<"k_lat", 0, "default">} : !spak_tile.buffer<?x16xf32> -> !spak_tile.tile<4x16xf32>
  spak_tile.return
}

// -----

func.func @f(%a: !spak_tile.tile<64x32xf32>, %b: !spak_tile.tile<16x64xf32>, %c: !spak_tile.tile<64x64xf32>) {
  // expected-error @+1 {{contraction extents differ: op(a) is 64x32, op(b) is 16x64}}
  %r = spak_tile.mma %a, %b, %c : !spak_tile.tile<64x32xf32>, !spak_tile.tile<16x64xf32> -> !spak_tile.tile<64x64xf32>
  return
}

// -----

func.func @f(%a: !spak_tile.tile<64x32xf32>, %b: !spak_tile.tile<64x32xf32>, %c: !spak_tile.tile<64x32xf32>) {
  // expected-error @+1 {{accumulator must be 64x64, got [64, 32]}}
  %r = spak_tile.mma %a, %b, %c {transpose_b} : !spak_tile.tile<64x32xf32>, !spak_tile.tile<64x32xf32> -> !spak_tile.tile<64x32xf32>
  return
}

// -----

func.func @f(%a: !spak_tile.tile<64x32xf32>) {
  // expected-error @+1 {{result shape must be [64, 1] (the reduced axis kept with extent 1), got [64]}}
  %r = spak_tile.reduce sum %a axis 1 : !spak_tile.tile<64x32xf32> -> !spak_tile.tile<64xf32>
  return
}

// -----

func.func @f(%a: !spak_tile.tile<64x32xf32>) {
  // expected-error @+1 {{axis 2 out of range for a rank-2 tile}}
  %r = spak_tile.reduce max %a axis 2 : !spak_tile.tile<64x32xf32> -> !spak_tile.tile<64x32xf32>
  return
}

// -----

func.func @f(%a: !spak_tile.tile<64x2xf32>) {
  // expected-error @+1 {{dimension 1 of extent 2 cannot broadcast to 32}}
  %r = spak_tile.broadcast %a : !spak_tile.tile<64x2xf32> -> !spak_tile.tile<64x32xf32>
  return
}

// -----

func.func @f(%s: index) {
  // expected-error @+1 {{scalar type 'index' differs from the tile element type 'i32'}}
  %r = spak_tile.broadcast %s : index -> !spak_tile.tile<4xi32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{value -1.000000e+30 differs from law 'stability_floor' (-1.000000e+20)}}
  %f = spak_tile.constant -1.0e30 {law = #spak_tile.law<"stability_floor", -1.0e20, "default">} : !spak_tile.tile<4xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{an integer tile needs an integer value, got 1.5}}
  %f = spak_tile.constant 1.5 : !spak_tile.tile<4xi32>
  return
}

// -----

func.func @f(%i: index) {
  // expected-error @+1 {{a causal mask is rank 2 with two offsets (row, column) and no bounds}}
  %m = spak_tile.mask causal [%i] : !spak_tile.tile<4xi1>
  return
}

// -----

func.func @f(%i: index) {
  // expected-error @+1 {{a bounds mask of rank 2 needs 2 offsets and 2 bounds, got 2 and 1}}
  %m = spak_tile.mask bounds [%i, %i] within [%i] : !spak_tile.tile<4x4xi1>
  return
}

// -----

func.func @f(%m: !spak_tile.tile<4x8xi1>, %a: !spak_tile.tile<4x4xf32>) {
  // expected-error @+1 {{condition shape [4, 8] differs from value shape [4, 4]}}
  %r = spak_tile.select %m, %a, %a : !spak_tile.tile<4x8xi1>, !spak_tile.tile<4x4xf32>
  return
}

// -----

func.func @f(%a: !spak_tile.tile<4x4xi32>) {
  // expected-error @+1 {{index 4 out of range for dimension 1 (extent 4)}}
  %r = spak_tile.extract %a[0, 4] : !spak_tile.tile<4x4xi32> -> i32
  return
}

// -----

func.func @f(%a: !spak_tile.tile<4x4xi32>) {
  // expected-error @+1 {{op operand #0 must be tile of floats}}
  %r = spak_tile.exp %a : !spak_tile.tile<4x4xi32>
  return
}

// -----

func.func @f(%a: !spak_tile.buffer<4x4xf32>) {
  // expected-error @+1 {{element counts differ: [4, 4] has 16, [8, 4] has 32}}
  %v = spak_tile.view %a : !spak_tile.buffer<4x4xf32> to !spak_tile.buffer<8x4xf32>
  return
}

// -----

func.func @f(%n: index) {
  // expected-error @+1 {{needs one size per dynamic dimension: 2 expected, 1 given}}
  %b = spak_tile.alloc(%n) : !spak_tile.buffer<?x?xf32>
  return
}

// -----

spak_tile.kernel @k(%b: !spak_tile.buffer<?xf32>) attributes {grid = ["n", "m"], math = ""} {
  spak_tile.return
}
func.func @f(%b: !spak_tile.buffer<?xf32>, %i: index) {
  // expected-error @+1 {{kernel 'k' has a 2-axis grid but the launch gives 1 extents}}
  spak_tile.launch @k [%i] (%b) : (!spak_tile.buffer<?xf32>)
  return
}

// -----

spak_tile.kernel @k(%b: !spak_tile.buffer<?xf32>) attributes {grid = ["n"], math = ""} {
  spak_tile.return
}
func.func @f(%b: !spak_tile.buffer<4xf32>, %i: index) {
  // expected-error @+1 {{argument #0 has type '!spak_tile.buffer<4xf32>' but kernel 'k' expects '!spak_tile.buffer<?xf32>'}}
  spak_tile.launch @k [%i] (%b) : (!spak_tile.buffer<4xf32>)
  return
}

// -----

func.func @f(%i: index) {
  // expected-error @+1 {{'missing' does not name a spak_tile.kernel}}
  spak_tile.launch @missing [%i] (%i) : (index)
  return
}
