system S {
  train {
    steps: -5
    optimizer: lion { lr: 0.01 }
    batch: 4
    batch: 8
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-train.dsl:3:12: error: 'steps' must be a positive integer
// CHECK: {{.*}}sema-train.dsl:4:16: error: unknown optimizer 'lion' (expected adam, adamw, sgd)
// CHECK: {{.*}}sema-train.dsl:6:5: error: redefinition of train setting 'batch'
// CHECK: {{.*}}sema-train.dsl:5:5: note: previous definition is here
// CHECK: 3 errors generated.
