system S {
  tuning_space { tile_m: [64] $ tile_n: [64] }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}syntax-invalid-char.dsl:2:31: error: invalid character '$'
// CHECK: 1 error generated.
