system S { }

// RUN: not spakc check %s --target sm_99 2>&1 | FileCheck %s
// CHECK: spakc: error: unknown target 'sm_99' (--target); known targets: sm_120, sm_90
// CHECK: 1 error generated.
