system S {
  model M {
    config {
      n_embd: 16
      n_embd: 32
    }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-duplicate-config.dsl:5:7: error: redefinition of config value 'n_embd'
// CHECK: {{.*}}sema-duplicate-config.dsl:4:7: note: previous definition is here
// CHECK: {{.*}}sema-duplicate-config.dsl:2:3: error: model 'M' has no forward(...) { ... }
// CHECK: 2 errors generated.
