// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}syntax-unterminated-string.dsl:[[@LINE+4]]:30: error: unterminated string literal
// CHECK: {{.*}}syntax-unterminated-string.dsl:[[@LINE+5]]:1: error: expected '}' at end of file
// CHECK: {{.*}}syntax-unterminated-string.dsl:[[@LINE+1]]:10: note: to match this '{'
system S {
  baseline { implementation: "microgpt.py }
}
