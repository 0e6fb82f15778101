system S {
  model M {
    config { n: 4 }
    param w[n, n] ~ xavier(n)
    forward(x: f32[T, n]) { loss = linear(x, w) }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-unknown-init.dsl:4:21: error: unknown initializer 'xavier' (expected normal, uniform, zeros or ones)
// CHECK: 1 error generated.
