rules R {
  rule "A" { when: op == attention && x != 1  apply: fuse(a, b)  priority: 3  enabled: false }
}
