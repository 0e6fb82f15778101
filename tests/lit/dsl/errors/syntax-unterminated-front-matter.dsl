---
title: "no closing line"
system S { }

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}syntax-unterminated-front-matter.dsl:1:1: error: unterminated front matter: no closing '---' line
// CHECK: 1 error generated.
