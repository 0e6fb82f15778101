---
title: "x"
tags: [A, B]
---
// comment
# hash
/* block */
system S { a: -1e20, b: [1, 2] c: { d: "e" } }
