system S {
  model M {
    config { n: 4 }
    forward(x: f32[T, n]) {
      out = relu(x)
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-no-loss.dsl:4:5: error: forward does not assign 'loss' (the value training minimizes)
// CHECK: 1 error generated.
