system S {
  train { steps: (10)(2) }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}syntax-call-non-name.dsl:2:19: error: only a name can be called
// CHECK: 1 error generated.
