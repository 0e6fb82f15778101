target sm_test "Test GPU" {
  law tile_m = "big"
  law tile_n = 64
  law tile_n = 128
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-law-not-number.dsl:2:16: error: expected a numeric expression, found a string
// CHECK: {{.*}}sema-law-not-number.dsl:4:7: error: redefinition of law 'tile_n'
// CHECK: {{.*}}sema-law-not-number.dsl:3:7: note: previous definition is here
// CHECK: 2 errors generated.
