// spak-bf16-operands: under mma_bits = 16 and mma_schedule = 5, a matmul k-loop reads bf16 copies of its operands.
// The host function gets one cast per (buffer, view) until a launch writes that buffer; kernels whose laws do not
// ask for it, and arguments with other readers, keep f32.
// RUN: spak-opt %s --spak-bf16-operands | FileCheck %s
// RUN: spak-opt %s --spak-bf16-operands --spak-bf16-operands | FileCheck %s --check-prefix=TWICE

#s5 = #spak_tile.config<{mma_bits = #spak_tile.law<"mma_bits", 16, "t:1:1">, mma_schedule = #spak_tile.law<"mma_schedule", 5, "t:2:1">}>
#s4 = #spak_tile.config<{mma_bits = #spak_tile.law<"mma_bits", 16, "t:1:1">, mma_schedule = #spak_tile.law<"mma_schedule", 4, "t:2:1">}>

// CHECK-LABEL: spak_tile.kernel @cast_bf16(%{{.*}}: !spak_tile.buffer<1x?xf32>, %{{.*}}: !spak_tile.buffer<1x?xbf16>)
// CHECK: grid = ["ceildiv(n, 512)"]
// CHECK: spak_tile.load {{.*}} -> !spak_tile.tile<1x512xf32>
// CHECK: spak_tile.convert {{.*}} : !spak_tile.tile<1x512xf32> -> !spak_tile.tile<1x512xbf16>
// CHECK: spak_tile.store {{.*}} : !spak_tile.tile<1x512xbf16>, !spak_tile.buffer<1x?xbf16>

// Both operands come from k-loop loads of depth law `stages`: bf16. The output stays f32.
// CHECK-LABEL: spak_tile.kernel @mm(%{{.*}}: !spak_tile.buffer<?x64xbf16>, %{{.*}}: !spak_tile.buffer<32x64xbf16>, %{{.*}}: !spak_tile.buffer<?x32xf32>)
// CHECK: spak_tile.load {{.*}} : !spak_tile.buffer<?x64xbf16> -> !spak_tile.tile<16x32xbf16, smem>
// CHECK: spak_tile.load {{.*}} : !spak_tile.buffer<32x64xbf16> -> !spak_tile.tile<32x32xbf16, smem>
// CHECK: spak_tile.mma {{.*}} : !spak_tile.tile<16x32xbf16, smem>, !spak_tile.tile<32x32xbf16, smem> -> !spak_tile.tile<16x32xf32>
spak_tile.kernel @mm(%x: !spak_tile.buffer<?x64xf32>, %w: !spak_tile.buffer<32x64xf32>, %y: !spak_tile.buffer<?x32xf32>) attributes {config = #s5, grid = ["ceildiv(M, 16)"], math = "y = x w^T"} {
  %p = spak_tile.program_id 0
  %c16 = arith.constant 16 : index
  %r = arith.muli %p, %c16 : index
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %m = spak_tile.dim %x, 0 : !spak_tile.buffer<?x64xf32>
  %z = spak_tile.constant 0.0 : !spak_tile.tile<16x32xf32>
  %acc = scf.for %k = %c0 to %c64 step %c32 iter_args(%a = %z) -> (!spak_tile.tile<16x32xf32>) {
    %mk = spak_tile.mask bounds[%r, %k] within[%m, %c64] : !spak_tile.tile<16x32xi1>
    %xa = spak_tile.load %x[%r, %k] mask %mk stage 0 {latency = #spak_tile.law<"stages", 3, "t:3:1">} : !spak_tile.buffer<?x64xf32> -> !spak_tile.tile<16x32xf32, smem>
    %wb = spak_tile.load %w[%c0, %k] stage 0 {latency = #spak_tile.law<"stages", 3, "t:3:1">} : !spak_tile.buffer<32x64xf32> -> !spak_tile.tile<32x32xf32, smem>
    %n = spak_tile.mma %xa, %wb, %a {transpose_b} : !spak_tile.tile<16x32xf32, smem>, !spak_tile.tile<32x32xf32, smem> -> !spak_tile.tile<16x32xf32>
    scf.yield %n : !spak_tile.tile<16x32xf32>
  }
  %mo = spak_tile.mask bounds[%r, %c0] within[%m, %c32] : !spak_tile.tile<16x32xi1>
  spak_tile.store %acc, %y[%r, %c0] mask %mo : !spak_tile.tile<16x32xf32>, !spak_tile.buffer<?x32xf32>
  spak_tile.return
}

// %x is also read outside the k-loop (a residual): it stays f32, and so does %w, its mma partner.
// CHECK-LABEL: spak_tile.kernel @mm_mixed(%{{.*}}: !spak_tile.buffer<?x64xf32>, %{{.*}}: !spak_tile.buffer<32x64xf32>
spak_tile.kernel @mm_mixed(%x: !spak_tile.buffer<?x64xf32>, %w: !spak_tile.buffer<32x64xf32>, %y: !spak_tile.buffer<?x32xf32>) attributes {config = #s5, grid = ["ceildiv(M, 16)"], math = "y = x w^T + x[:, :32]"} {
  %p = spak_tile.program_id 0
  %c16 = arith.constant 16 : index
  %r = arith.muli %p, %c16 : index
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %m = spak_tile.dim %x, 0 : !spak_tile.buffer<?x64xf32>
  %z = spak_tile.constant 0.0 : !spak_tile.tile<16x32xf32>
  %acc = scf.for %k = %c0 to %c64 step %c32 iter_args(%a = %z) -> (!spak_tile.tile<16x32xf32>) {
    %mk = spak_tile.mask bounds[%r, %k] within[%m, %c64] : !spak_tile.tile<16x32xi1>
    %xa = spak_tile.load %x[%r, %k] mask %mk stage 0 {latency = #spak_tile.law<"stages", 3, "t:3:1">} : !spak_tile.buffer<?x64xf32> -> !spak_tile.tile<16x32xf32, smem>
    %wb = spak_tile.load %w[%c0, %k] stage 0 {latency = #spak_tile.law<"stages", 3, "t:3:1">} : !spak_tile.buffer<32x64xf32> -> !spak_tile.tile<32x32xf32, smem>
    %n = spak_tile.mma %xa, %wb, %a {transpose_b} : !spak_tile.tile<16x32xf32, smem>, !spak_tile.tile<32x32xf32, smem> -> !spak_tile.tile<16x32xf32>
    scf.yield %n : !spak_tile.tile<16x32xf32>
  }
  %mo = spak_tile.mask bounds[%r, %c0] within[%m, %c32] : !spak_tile.tile<16x32xi1>
  %res = spak_tile.load %x[%r, %c0] mask %mo : !spak_tile.buffer<?x64xf32> -> !spak_tile.tile<16x32xf32>
  %o = spak_tile.add %acc, %res : !spak_tile.tile<16x32xf32>
  spak_tile.store %o, %y[%r, %c0] mask %mo : !spak_tile.tile<16x32xf32>, !spak_tile.buffer<?x32xf32>
  spak_tile.return
}

// Schedule 4: untouched.
// CHECK-LABEL: spak_tile.kernel @mm_s4(%{{.*}}: !spak_tile.buffer<?x64xf32>, %{{.*}}: !spak_tile.buffer<32x64xf32>
spak_tile.kernel @mm_s4(%x: !spak_tile.buffer<?x64xf32>, %w: !spak_tile.buffer<32x64xf32>, %y: !spak_tile.buffer<?x32xf32>) attributes {config = #s4, grid = ["ceildiv(M, 16)"], math = "y = x w^T"} {
  %p = spak_tile.program_id 0
  %c16 = arith.constant 16 : index
  %r = arith.muli %p, %c16 : index
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %m = spak_tile.dim %x, 0 : !spak_tile.buffer<?x64xf32>
  %z = spak_tile.constant 0.0 : !spak_tile.tile<16x32xf32>
  %acc = scf.for %k = %c0 to %c64 step %c32 iter_args(%a = %z) -> (!spak_tile.tile<16x32xf32>) {
    %mk = spak_tile.mask bounds[%r, %k] within[%m, %c64] : !spak_tile.tile<16x32xi1>
    %xa = spak_tile.load %x[%r, %k] mask %mk stage 0 {latency = #spak_tile.law<"stages", 3, "t:3:1">} : !spak_tile.buffer<?x64xf32> -> !spak_tile.tile<16x32xf32, smem>
    %wb = spak_tile.load %w[%c0, %k] stage 0 {latency = #spak_tile.law<"stages", 3, "t:3:1">} : !spak_tile.buffer<32x64xf32> -> !spak_tile.tile<32x32xf32, smem>
    %n = spak_tile.mma %xa, %wb, %a {transpose_b} : !spak_tile.tile<16x32xf32, smem>, !spak_tile.tile<32x32xf32, smem> -> !spak_tile.tile<16x32xf32>
    scf.yield %n : !spak_tile.tile<16x32xf32>
  }
  %mo = spak_tile.mask bounds[%r, %c0] within[%m, %c32] : !spak_tile.tile<16x32xi1>
  spak_tile.store %acc, %y[%r, %c0] mask %mo : !spak_tile.tile<16x32xf32>, !spak_tile.buffer<?x32xf32>
  spak_tile.return
}

// Writes its first argument (the launches below use it to change %x).
spak_tile.kernel @scale(%x: !spak_tile.buffer<?x64xf32>) attributes {grid = ["1"], math = "x[0, :] = 0"} {
  %c0 = arith.constant 0 : index
  %z = spak_tile.constant 0.0 : !spak_tile.tile<1x64xf32>
  spak_tile.store %z, %x[%c0, %c0] : !spak_tile.tile<1x64xf32>, !spak_tile.buffer<?x64xf32>
  spak_tile.return
}

// CHECK-LABEL: func.func @step(
// The first launch of @mm: one copy of %x (dynamic rows) and one of %w (static, viewed as 1 x ?).
// CHECK: %[[XB:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x64xbf16>
// CHECK: spak_tile.view %arg0 : !spak_tile.buffer<?x64xf32> to !spak_tile.buffer<1x?xf32>
// CHECK: spak_tile.launch @cast_bf16
// CHECK: %[[WB:.*]] = spak_tile.alloc() : !spak_tile.buffer<32x64xbf16>
// CHECK: spak_tile.view %arg1 : !spak_tile.buffer<32x64xf32> to !spak_tile.buffer<1x?xf32>
// CHECK: spak_tile.launch @cast_bf16
// CHECK: spak_tile.launch @mm[%{{.*}}] (%[[XB]], %[[WB]], %{{.*}})
// The second: both copies reused.
// CHECK-NOT: @cast_bf16
// CHECK: spak_tile.launch @mm[%{{.*}}] (%[[XB]], %[[WB]], %{{.*}})
// @mm_mixed and @mm_s4 take the f32 buffers.
// CHECK: spak_tile.launch @mm_mixed[%{{.*}}] (%arg0, %arg1,
// CHECK: spak_tile.launch @mm_s4[%{{.*}}] (%arg0, %arg1,
// @scale writes %x through a view: %x is cast again, %w's copy is reused.
// CHECK: spak_tile.launch @scale
// CHECK: %[[XB2:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x64xbf16>
// CHECK: spak_tile.launch @cast_bf16
// CHECK-NOT: @cast_bf16
// CHECK: spak_tile.launch @mm[%{{.*}}] (%[[XB2]], %[[WB]], %{{.*}})
func.func @step(%x: !spak_tile.buffer<?x64xf32>, %w: !spak_tile.buffer<32x64xf32>, %y: !spak_tile.buffer<?x32xf32>) {
  %c1 = arith.constant 1 : index
  spak_tile.launch @mm[%c1] (%x, %w, %y) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<32x64xf32>, !spak_tile.buffer<?x32xf32>)
  spak_tile.launch @mm[%c1] (%x, %w, %y) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<32x64xf32>, !spak_tile.buffer<?x32xf32>)
  spak_tile.launch @mm_mixed[%c1] (%x, %w, %y) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<32x64xf32>, !spak_tile.buffer<?x32xf32>)
  spak_tile.launch @mm_s4[%c1] (%x, %w, %y) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<32x64xf32>, !spak_tile.buffer<?x32xf32>)
  %v = spak_tile.view %x : !spak_tile.buffer<?x64xf32> to !spak_tile.buffer<?x64xf32>
  spak_tile.launch @scale[%c1] (%v) : (!spak_tile.buffer<?x64xf32>)
  spak_tile.launch @mm[%c1] (%x, %w, %y) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<32x64xf32>, !spak_tile.buffer<?x32xf32>)
  return
}

// A second run finds nothing left to retype and adds no casts.
// TWICE-COUNT-3: spak_tile.launch @cast_bf16
// TWICE-NOT: spak_tile.launch @cast_bf16
