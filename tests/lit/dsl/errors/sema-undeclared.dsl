system S {
  model M {
    config { n: 4 }
    forward(x: f32[T, n]) {
      loss = relu(y)
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-undeclared.dsl:5:19: error: use of undeclared name 'y'
// CHECK: 1 error generated.
