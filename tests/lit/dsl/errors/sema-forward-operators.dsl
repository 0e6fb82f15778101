system S {
  model M {
    config { n: 4 }
    forward(x: f32[T, n]) {
      loss = x @ x + "text"
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-forward-operators.dsl:5:16: error: operator '@' is not supported in forward (use + - * / or an op)
// CHECK: {{.*}}sema-forward-operators.dsl:5:22: error: a string is not allowed in forward
// CHECK: 2 errors generated.
