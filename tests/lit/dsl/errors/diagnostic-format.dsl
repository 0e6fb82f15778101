// The full clang-style format: location, message, source line, caret with a range, notes, summary.
// RUN: not spakc check %s 2>&1 | FileCheck %s --strict-whitespace --match-full-lines
system S {
  model M {
    config { n: 4 }
    param weight[n, n] ~ normal(0, 0.02)
    param weight[n] ~ zeros
    forward(x: f32[T, n]) { loss = linear(x, weight) }
  }
}
// CHECK:{{.*}}diagnostic-format.dsl:7:11: error: redefinition of parameter 'weight'
// CHECK-NEXT:    param weight[n] ~ zeros
// CHECK-NEXT:          ^~~~~~
// CHECK-NEXT:{{.*}}diagnostic-format.dsl:6:11: note: previous definition is here
// CHECK-NEXT:    param weight[n, n] ~ normal(0, 0.02)
// CHECK-NEXT:          ^~~~~~
// CHECK-NEXT:1 error generated.
