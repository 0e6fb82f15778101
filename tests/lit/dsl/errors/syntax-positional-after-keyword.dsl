system S {
  model M {
    config { n: 4 }
    param w[n, n] ~ normal(0, 0.02)
    forward(x: f32[T, n]) {
      loss = rmsnorm(eps: 1e-5, x)
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}syntax-positional-after-keyword.dsl:6:33: error: positional argument after a keyword argument
// CHECK: 1 error generated.
