system S {
  model M {
    config { n: 4, n_layer: 2 }
    group layer[n_layer] { param wq[n, n] ~ normal(0, 0.02) }
    forward(x: f32[T, n]) {
      loss = linear(x, layer[2].wq)
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-group-index-range.dsl:6:30: error: group index 2 is out of range (group 'layer' has 2 entries)
// CHECK: 1 error generated.
