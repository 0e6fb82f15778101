// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}syntax-unterminated-comment.dsl:7:3: error: unterminated /* comment
// CHECK: {{.*}}syntax-unterminated-comment.dsl:10:1: error: expected '}' at end of file
// CHECK: {{.*}}syntax-unterminated-comment.dsl:6:10: note: to match this '{'
// CHECK: 2 errors generated.
system S {
  /* a comment that never ends
  baseline { }
}
