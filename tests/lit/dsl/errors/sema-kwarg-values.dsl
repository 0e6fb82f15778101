system S {
  model M {
    config { n: 4 }
    forward(x: f32[T, n]) {
      a = attention(x, x, x, heads: 0, causal: 1)
      loss = dropout(a, p: 1.5)
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-kwarg-values.dsl:5:37: error: 'heads' must be positive
// CHECK: {{.*}}sema-kwarg-values.dsl:5:48: error: 'causal' must be true or false
// CHECK: {{.*}}sema-kwarg-values.dsl:6:28: error: 'p' must be in [0, 1)
// CHECK: 3 errors generated.
