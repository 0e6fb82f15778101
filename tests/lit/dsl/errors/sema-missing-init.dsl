system S {
  model M {
    config { n: 4 }
    param w[n, n]
    forward(x: f32[T, n]) { loss = linear(x, w) }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-missing-init.dsl:4:11: error: parameter 'w' has no initializer (add '~ normal(0, 0.02)', '~ zeros' or '~ ones')
// CHECK: 1 error generated.
