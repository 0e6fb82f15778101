// spak-bf16-producers: the kernel that writes an f32 buffer also writes its bf16 copy, and the cast launch goes.
// RUN: spak-opt %s --spak-bf16-operands --spak-bf16-producers | FileCheck %s
// Without the producers pass every activation is cast (the input this pass rewrites).
// RUN: spak-opt %s --spak-bf16-operands | FileCheck %s --check-prefix=CASTS
// RUN: spak-opt %s --spak-bf16-operands --spak-bf16-producers | FileCheck %s --check-prefix=LEFT
// The rule (apply bf16_copy_in_producer) disabled: nothing changes.
// RUN: sed 's/enabled = true/enabled = false/' %s | spak-opt --spak-bf16-operands --spak-bf16-producers | FileCheck %s --check-prefix=CASTS

#s5 = #spak_tile.config<{mma_bits = #spak_tile.law<"mma_bits", 16, "t:1:1">, mma_schedule = #spak_tile.law<"mma_schedule", 5, "t:2:1">}>

module attributes {spak.rules = [#spak_graph.rule<name = "BF16 Copy In Producer", apply = "bf16_copy_in_producer", enabled = true, priority = 60, loc = "rules/fusion.dsl:35:8">]} {

// CASTS-COUNT-4: spak_tile.launch @cast_bf16
// CASTS-NOT: spak_tile.launch @cast_bf16
// Two stay: the weight's (a function argument, cast once) and c's (two writers).
// LEFT-COUNT-2: spak_tile.launch @cast_bf16
// LEFT-NOT: spak_tile.launch @cast_bf16

// The matmul reading bf16 copies of both operands (spak-bf16-operands).
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

// A row kernel writing its output with one masked store of a register tile: it gets variants.
// CHECK-LABEL: spak_tile.kernel @relu(
spak_tile.kernel @relu(%x: !spak_tile.buffer<?x64xf32>, %y: !spak_tile.buffer<?x64xf32>) attributes {grid = ["rows"], math = "y = relu(x)"} {
  %p = spak_tile.program_id 0
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %m = spak_tile.dim %x, 0 : !spak_tile.buffer<?x64xf32>
  %mk = spak_tile.mask bounds[%p, %c0] within[%m, %c64] : !spak_tile.tile<1x64xi1>
  %v = spak_tile.load %x[%p, %c0] mask %mk : !spak_tile.buffer<?x64xf32> -> !spak_tile.tile<1x64xf32>
  %r = spak_tile.relu %v : !spak_tile.tile<1x64xf32>
  spak_tile.store %r, %y[%p, %c0] mask %mk : !spak_tile.tile<1x64xf32>, !spak_tile.buffer<?x64xf32>
  spak_tile.return
}
// Its variant for an output read by nothing else: only the bf16 copy is stored (the f32 argument stays, unwritten).
// CHECK: spak_tile.kernel @relu_bf16_0(%{{.*}}: !spak_tile.buffer<?x64xf32>, %[[Y:.*]]: !spak_tile.buffer<?x64xf32>, %[[B:.*]]: !spak_tile.buffer<?x64xbf16>)
// CHECK-SAME: math = "y = relu(x); arg 2 = bf16(arg 1), arg 1 unwritten  [bf16 copies by rule \22BF16 Copy In Producer\22 (rules/fusion.dsl:35:8)]"
// CHECK-SAME: spak.bf16_copy = {rule = "BF16 Copy In Producer", rule_loc = "rules/fusion.dsl:35:8"}
// CHECK: %[[R:.*]] = spak_tile.relu
// CHECK-NEXT: %[[H:.*]] = spak_tile.convert %[[R]] : !spak_tile.tile<1x64xf32> -> !spak_tile.tile<1x64xbf16>
// CHECK-NEXT: spak_tile.store %[[H]], %[[B]][%{{.*}}, %{{.*}}] mask %{{.*}} : !spak_tile.tile<1x64xbf16>, !spak_tile.buffer<?x64xbf16>
// CHECK-NOT: spak_tile.store
// CHECK: spak_tile.return
// Its variant for an output that another kernel reads too: both stores.
// CHECK-LABEL: spak_tile.kernel @relu_bf16_0_1(
// CHECK-SAME: math = "y = relu(x); arg 2 = bf16(arg 1)  [bf16 copies
// CHECK: spak_tile.store %{{.*}}, %{{.*}} : !spak_tile.tile<1x64xf32>, !spak_tile.buffer<?x64xf32>
// CHECK-NEXT: spak_tile.convert
// CHECK-NEXT: spak_tile.store %{{.*}} : !spak_tile.tile<1x64xbf16>, !spak_tile.buffer<?x64xbf16>

// Reads its argument and writes it back (an accumulation): no twins, its output keeps the cast.
spak_tile.kernel @accum(%x: !spak_tile.buffer<?x64xf32>) attributes {grid = ["rows"], math = "x = 2 x"} {
  %p = spak_tile.program_id 0
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %m = spak_tile.dim %x, 0 : !spak_tile.buffer<?x64xf32>
  %mk = spak_tile.mask bounds[%p, %c0] within[%m, %c64] : !spak_tile.tile<1x64xi1>
  %v = spak_tile.load %x[%p, %c0] mask %mk : !spak_tile.buffer<?x64xf32> -> !spak_tile.tile<1x64xf32>
  %d = spak_tile.add %v, %v : !spak_tile.tile<1x64xf32>
  spak_tile.store %d, %x[%p, %c0] mask %mk : !spak_tile.tile<1x64xf32>, !spak_tile.buffer<?x64xf32>
  spak_tile.return
}

// A reader of its first argument.
spak_tile.kernel @sum(%x: !spak_tile.buffer<?x64xf32>, %s: !spak_tile.buffer<?x64xf32>) attributes {grid = ["rows"], math = "s = x"} {
  %p = spak_tile.program_id 0
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %m = spak_tile.dim %x, 0 : !spak_tile.buffer<?x64xf32>
  %mk = spak_tile.mask bounds[%p, %c0] within[%m, %c64] : !spak_tile.tile<1x64xi1>
  %v = spak_tile.load %x[%p, %c0] mask %mk : !spak_tile.buffer<?x64xf32> -> !spak_tile.tile<1x64xf32>
  spak_tile.store %v, %s[%p, %c0] mask %mk : !spak_tile.tile<1x64xf32>, !spak_tile.buffer<?x64xf32>
  spak_tile.return
}

// CHECK-LABEL: func.func @step(
func.func @step(%x: !spak_tile.buffer<?x64xf32>, %w: !spak_tile.buffer<32x64xf32>, %y: !spak_tile.buffer<?x32xf32>, %s: !spak_tile.buffer<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = spak_tile.dim %x, 0 : !spak_tile.buffer<?x64xf32>
  // a: written by @relu, read only by the matmul (through a view): the copy is allocated before @relu's launch,
  // which becomes @relu_bf16's (the f32 output's views repeated on the copy); no cast.
  // CHECK: %[[A:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x64xf32>
  // CHECK: %[[AB:.*]] = spak_tile.alloc(%{{.*}}) : !spak_tile.buffer<?x64xbf16>
  // CHECK-NEXT: %[[ABV:.*]] = spak_tile.view %[[AB]] : !spak_tile.buffer<?x64xbf16> to !spak_tile.buffer<?x64xbf16>
  // CHECK-NEXT: spak_tile.launch @relu_bf16_0[%{{.*}}] (%arg0, %{{.*}}, %[[ABV]])
  // CHECK-NOT: @cast_bf16
  // CHECK: %[[AC:.*]] = spak_tile.view %[[AB]] : !spak_tile.buffer<?x64xbf16> to !spak_tile.buffer<?x64xbf16>
  // (the weight's cast)
  // CHECK: spak_tile.launch @cast_bf16
  // CHECK: spak_tile.launch @mm[%{{.*}}] (%[[AC]], %{{.*}}, %arg2)
  %a = spak_tile.alloc(%n) : !spak_tile.buffer<?x64xf32>
  %av = spak_tile.view %a : !spak_tile.buffer<?x64xf32> to !spak_tile.buffer<?x64xf32>
  spak_tile.launch @relu[%n] (%x, %av) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<?x64xf32>)
  spak_tile.launch @mm[%c1] (%a, %w, %y) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<32x64xf32>, !spak_tile.buffer<?x32xf32>)
  // b: written by @relu, read by the matmul and by @sum: @relu_bf16_0_1 keeps the f32 store.
  // CHECK: spak_tile.launch @relu_bf16_0_1[
  // CHECK-NOT: @cast_bf16
  // CHECK: spak_tile.launch @mm[
  // CHECK: spak_tile.launch @sum[
  %b = spak_tile.alloc(%n) : !spak_tile.buffer<?x64xf32>
  spak_tile.launch @relu[%n] (%x, %b) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<?x64xf32>)
  spak_tile.launch @mm[%c1] (%b, %w, %y) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<32x64xf32>, !spak_tile.buffer<?x32xf32>)
  spak_tile.launch @sum[%n] (%b, %s) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<?x64xf32>)
  // c: written by @relu, then again by @accum: two writers, the cast stays (and @relu's launch too).
  // CHECK: spak_tile.launch @relu[
  // CHECK: spak_tile.launch @accum[
  // CHECK: spak_tile.launch @cast_bf16
  // CHECK: spak_tile.launch @mm[
  %c = spak_tile.alloc(%n) : !spak_tile.buffer<?x64xf32>
  spak_tile.launch @relu[%n] (%x, %c) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<?x64xf32>)
  spak_tile.launch @accum[%n] (%c) : (!spak_tile.buffer<?x64xf32>)
  spak_tile.launch @mm[%c1] (%c, %w, %y) : (!spak_tile.buffer<?x64xf32>, !spak_tile.buffer<32x64xf32>, !spak_tile.buffer<?x32xf32>)
  // CHECK: return
  return
}

}
