rules R {
  rule "Half Rule" {
    when: op == attention
  }
  rule "Dup" { when: a  apply: b }
  rule "Dup" { when: a  apply: c }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-rule-incomplete.dsl:2:8: error: rule 'Half Rule' has no 'apply:' action
// CHECK: {{.*}}sema-rule-incomplete.dsl:6:8: error: redefinition of rule 'Dup'
// CHECK: {{.*}}sema-rule-incomplete.dsl:5:8: note: previous definition is here
// CHECK: 2 errors generated.
