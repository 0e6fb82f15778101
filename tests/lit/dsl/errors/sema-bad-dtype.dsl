system S {
  model M {
    config { n: 4 }
    forward(x: float[T, n], x: i32[T]) {
      loss = x
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-bad-dtype.dsl:4:16: error: unknown element type 'float' (expected i32, i64, u16, f32, f16 or bf16)
// CHECK: {{.*}}sema-bad-dtype.dsl:4:29: error: redefinition of argument 'x'
// CHECK: {{.*}}sema-bad-dtype.dsl:4:13: note: previous definition is here
// CHECK: 2 errors generated.
