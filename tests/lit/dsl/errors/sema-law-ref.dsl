import "targets/sm90_h100.dsl"
system S {
  knowledge {
    rule "Use law" { when: true  apply: tile(law.tile_x) }
  }
}

// RUN: not spakc check %s 2>&1 | FileCheck %s
// CHECK: {{.*}}sema-law-ref.dsl:4:50: error: unknown law 'tile_x' (target 'sm_90')
// CHECK: 1 error generated.
