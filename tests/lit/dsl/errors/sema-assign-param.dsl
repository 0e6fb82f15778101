system S {
  model M {
    config { n: 4 }
    param w[n, n] ~ normal(0, 0.02)
    group layer[1] { param wq[n, n] ~ normal(0, 0.02) }
    forward(x: f32[T, n]) {
      w = relu(x)
      loss = linear(x, layer)
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-assign-param.dsl:7:7: error: cannot assign to parameter 'w'
// CHECK: {{.*}}sema-assign-param.dsl:8:24: error: group 'layer' must be indexed (layer[i].name)
// CHECK: 2 errors generated.
