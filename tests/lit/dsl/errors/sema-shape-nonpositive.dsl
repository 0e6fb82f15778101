system S {
  model M {
    config { n: 4 }
    param w[n - 4, n] ~ normal(0, 0.02)
    forward(x: f32[T, n]) { loss = linear(x, w) }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-shape-nonpositive.dsl:4:15: error: shape dimension must be positive, got 0
// CHECK: 1 error generated.
