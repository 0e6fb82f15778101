// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}syntax-missing-brace.dsl:8:1: error: expected '}' at end of file
// CHECK: {{.*}}syntax-missing-brace.dsl:6:11: note: to match this '{'
// CHECK: 1 error generated.
system S {
  model M {
    config { n: 4 }
