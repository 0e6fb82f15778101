import "../Inputs/cycle-a.dsl"
system S { }

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}cycle-b.dsl:2:8: error: import cycle: cycle-a.dsl -> cycle-b.dsl -> cycle-a.dsl
// CHECK: 1 error generated.
