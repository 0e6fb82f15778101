system S {
  model M {
    config { n: 4, scale: 0.5 }
    param w[n * scale, n] ~ normal(0, 0.02)
    forward(x: f32[T, n]) { loss = linear(x, w) }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-shape-not-integer.dsl:4:15: error: shape dimension must be an integer, got 2.0
// CHECK: 1 error generated.
