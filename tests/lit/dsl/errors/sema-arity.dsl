system S {
  model M {
    config { n: 4 }
    param w[n, n] ~ normal(0, 0.02)
    forward(x: f32[T, n]) {
      h = linear(x)
      loss = cross_entropy(h, x, w)
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-arity.dsl:6:11: error: 'linear' expects 2 or 3 arguments, got 1
// CHECK: {{.*}}sema-arity.dsl:7:14: error: 'cross_entropy' expects 2 arguments, got 3
// CHECK: 2 errors generated.
