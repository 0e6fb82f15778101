// Emitter errors are diagnostics on the offending op, never crashes.
// RUN: spak-translate --emit-cpp %s --split-input-file --verify-diagnostics
// RUN: spak-translate --emit-cuda %s --split-input-file --verify-diagnostics

// expected-error @+1 {{buffer element type 'f16' is not supported by the C++/CUDA emitters}}
spak_tile.kernel @k(%b: !spak_tile.buffer<16xf16>) attributes {grid = ["1"], math = "b = b"} {
  spak_tile.return
}

// -----

func.func @f(%x: !spak_tile.buffer<?x16xf32>) -> !spak_tile.buffer<?x?xf32> {
  // expected-error @+1 {{a view to a shape with 2 dynamic dimensions is ambiguous for the emitters}}
  %v = spak_tile.view %x : !spak_tile.buffer<?x16xf32> to !spak_tile.buffer<?x?xf32>
  return %v : !spak_tile.buffer<?x?xf32>
}

// -----

// expected-error @+1 {{nothing to emit: the module has no spak_tile.kernel and no host function}}
module {
}

// -----

func.func @g(%x: !spak_tile.buffer<4xf32>) {
  // expected-error @+1 {{'scf.while' op is not supported in a host function by the C++/CUDA emitters}}
  scf.while : () -> () {
    %true = arith.constant true
    scf.condition(%true)
  } do {
    scf.yield
  }
  return
}
