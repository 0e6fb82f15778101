system S {
  train { steps: 10) }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}syntax-unexpected-paren.dsl:2:20: error: unexpected ')'
// CHECK: 1 error generated.
