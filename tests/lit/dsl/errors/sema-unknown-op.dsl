system S {
  model M {
    config { n: 4 }
    param w[n, n] ~ normal(0, 0.02)
    forward(x: f32[T, n]) {
      loss = swiglu(linear(x, w))
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-unknown-op.dsl:6:14: error: unknown op 'swiglu'
// CHECK: 1 error generated.
