system S {
  model M {
    config { n: 4, n_layer: 2 }
    group layer[n_layer] { param wq[n, n] ~ normal(0, 0.02) }
    forward(x: f32[T, n]) {
      repeat i in n_layer { x2 = linear(x, layer[i].wk) }
      loss = x2
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-group-no-param.dsl:6:53: error: group 'layer' has no parameter 'wk'
// CHECK: 1 error generated.
