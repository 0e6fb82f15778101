system S {
  model M {
    config { n: 4 }
    param w[n, n] ~ normal(0, 0.02)
    param w[n] ~ zeros
    forward(x: f32[T, n]) { loss = linear(x, w) }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-duplicate-param.dsl:5:11: error: redefinition of parameter 'w'
// CHECK: {{.*}}sema-duplicate-param.dsl:4:11: note: previous definition is here
// CHECK: 1 error generated.
