import "no/such/file.dsl"
system S { }

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-import-not-found.dsl:1:8: error: cannot find import 'no/such/file.dsl' (looked in {{.*}}errors/no/such/file.dsl, {{.*}}rules/no/such/file.dsl)
// CHECK: 1 error generated.
