system S {
  model M {
    param w[4, 4] ~
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}syntax-missing-init-expr.dsl:4:3: error: expected an expression, found '}'
// CHECK: 1 error generated.
