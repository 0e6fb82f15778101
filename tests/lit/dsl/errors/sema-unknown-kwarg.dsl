system S {
  model M {
    config { n: 4 }
    forward(x: f32[T, n]) {
      loss = rmsnorm(x, epsilon: 1e-5)
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-unknown-kwarg.dsl:5:25: error: unknown keyword argument 'epsilon' for 'rmsnorm' (expected eps)
// CHECK: 1 error generated.
