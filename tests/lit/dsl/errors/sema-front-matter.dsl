---
title: ok
this line has no colon
---
system S { }

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-front-matter.dsl:3:1: error: front matter line must be 'key: value'
// CHECK: 1 error generated.
