system S {
  model M {
    config {
      n_embd: 16
      n_head: 3
      head_dim: n_embd / n_head
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-inexact-division.dsl:6:24: error: division is not exact: 16 / 3 (write 16.0 / 3 for a real number)
// CHECK: {{.*}}sema-inexact-division.dsl:2:3: error: model 'M' has no forward(...) { ... }
// CHECK: 2 errors generated.
