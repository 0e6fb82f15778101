import "targets/sm90_h100.dsl"
import "targets/sm120_rtx5070.dsl"
system S { }

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-conflicting-targets.dsl:2:8: error: conflicting targets: 'sm_120' is imported here but 'sm_90' was already imported (choose one with --target)
// CHECK: {{.*}}sema-conflicting-targets.dsl:1:8: note: target 'sm_90' imported here
// CHECK: 1 error generated.
