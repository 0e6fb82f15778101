system S {
  model M {
    config { n: 4 }
    group layer[2] as "layer." { param w[n] ~ ones }
    forward(x: f32[T, n]) { loss = x }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-group-prefix.dsl:4:23: error: group export prefix must contain '{i}' (the group index)
// CHECK: 1 error generated.
