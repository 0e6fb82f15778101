---
title: "Syntax forms"
extraction-date: 2026-02-13
tags: [A, B-C, D]
---
# hash comment
/* block
   comment */
target sm_x "Test GPU" { law tile_m = 64   law k_lat = 2, stability_floor = -1e20 }
system Forms {
  model {
    type X matches { a: int, b: int }
    state best: float = 0.0
    state current: "s\"q\n"
  }
  knowledge {
    fact is_l2_bound(t: TraceItem.Performance) { return t.speedup < 0.85 }
    rule "Steps" { step 1: "L1"  step 2: "L2" }
    hint "H" { suggestion: [64, 128] }
    invariant I { assert: "a == b" }
  }
  trace_schema { variant T { case A { bottleneck: "DRAM_BW" | "L2_Conflict" } } }
  agent_loop L {
    step "S" {
      llm.query { prompt: 'single' }
      emit TraceItem.Performance
    }
  }
  engineering_loop E { parameter Tile_M: [64] }
  build {
    artifact "a.md"
    artifact "b.md" { input: trace.all }
  }
  rule: 1  state: 2  in: 3
  kernel K {
    procedure p:
      m_i = -inf
      for k in 0..n-1:
        acc += A @ B
        P = softmax(S, dim=-1)
      O[b, m] = acc / l_i ** 2
      store(K.T)
  }
}

// Every syntactic oddity of the seeds plus soft keywords, dumped (RUN/CHECK at the end keep the line numbers).
// RUN: spakc compile %s --emit=ast 2>/dev/null | FileCheck %s
// CHECK: File "{{.*}}syntax-forms.dsl"
// CHECK-NEXT:   FrontMatter
// CHECK-NEXT:     title: "Syntax forms" <2:1>
// CHECK-NEXT:     extraction-date: 2026-02-13 <3:1>
// CHECK-NEXT:     tags: [A, B-C, D] <4:1>
// CHECK-NEXT:   Target sm_x "Test GPU" <9:1>
// CHECK-NEXT:     Law tile_m <9:26>
// CHECK-NEXT:       Number 64 int <9:39>
// CHECK-NEXT:     Law k_lat <9:44>
// CHECK-NEXT:       Number 2 int <9:56>
// CHECK-NEXT:     Assign stability_floor <9:59>
// CHECK-NEXT:       Unary '-' <9:77>
// CHECK-NEXT:         Number 1e20 <9:78>
// CHECK-NEXT:   System Forms <10:1>
// CHECK-NEXT:     Model <11:3>
// CHECK-NEXT:       Block type X matches <12:5>
// CHECK-NEXT:         Property a <12:22>
// CHECK-NEXT:           Ident int <12:25>
// CHECK-NEXT:         Property b <12:30>
// CHECK-NEXT:           Ident int <12:33>
// CHECK-NEXT:       State best <13:5>
// CHECK-NEXT:         type: Ident float <13:17>
// CHECK-NEXT:         value: Number 0.0 <13:25>
// CHECK-NEXT:       State current <14:5>
// CHECK-NEXT:         value: String "s\"q\n" <14:20>
// CHECK-NEXT:     Block knowledge <16:3>
// CHECK-NEXT:       Fact is_l2_bound params=1 <17:5>
// CHECK-NEXT:         FactParam t <17:22>
// CHECK-NEXT:           type: Member .Performance <17:25>
// CHECK-NEXT:             Ident TraceItem <17:25>
// CHECK-NEXT:         Return <17:50>
// CHECK-NEXT:           Binary '<' <17:67>
// CHECK-NEXT:             Member .speedup <17:57>
// CHECK-NEXT:               Ident t <17:57>
// CHECK-NEXT:             Number 0.85 <17:69>
// CHECK-NEXT:       Rule "Steps" <18:5>
// CHECK-NEXT:         Property step 1 <18:20>
// CHECK-NEXT:           String "L1" <18:28>
// CHECK-NEXT:         Property step 2 <18:34>
// CHECK-NEXT:           String "L2" <18:42>
// CHECK-NEXT:       Hint "H" <19:5>
// CHECK-NEXT:         Property suggestion <19:16>
// CHECK-NEXT:           List size=2 <19:28>
// CHECK-NEXT:             Number 64 int <19:29>
// CHECK-NEXT:             Number 128 int <19:33>
// CHECK-NEXT:       Invariant I <20:5>
// CHECK-NEXT:         Property assert <20:19>
// CHECK-NEXT:           String "a == b" <20:27>
// CHECK-NEXT:     Block trace_schema <22:3>
// CHECK-NEXT:       Block variant T <22:18>
// CHECK-NEXT:         Block case A <22:30>
// CHECK-NEXT:           Property bottleneck <22:39>
// CHECK-NEXT:             Binary '|' <22:61>
// CHECK-NEXT:               String "DRAM_BW" <22:51>
// CHECK-NEXT:               String "L2_Conflict" <22:63>
// CHECK-NEXT:     Block agent_loop L <23:3>
// CHECK-NEXT:       Block step "S" <24:5>
// CHECK-NEXT:         Block llm.query <25:7>
// CHECK-NEXT:           Property prompt <25:19>
// CHECK-NEXT:             String "single" <25:27>
// CHECK-NEXT:         Directive emit TraceItem.Performance <26:7>
// CHECK-NEXT:     Block engineering_loop E <29:3>
// CHECK-NEXT:       Parameter Tile_M <29:24>
// CHECK-NEXT:         List size=1 <29:42>
// CHECK-NEXT:           Number 64 int <29:43>
// CHECK-NEXT:     Block build <30:3>
// CHECK-NEXT:       Directive artifact "a.md" <31:5>
// CHECK-NEXT:       Block artifact "b.md" <32:5>
// CHECK-NEXT:         Property input <32:23>
// CHECK-NEXT:           Member .all <32:30>
// CHECK-NEXT:             Ident trace <32:30>
// CHECK-NEXT:     Property rule <34:3>
// CHECK-NEXT:       Number 1 int <34:9>
// CHECK-NEXT:     Property state <34:12>
// CHECK-NEXT:       Number 2 int <34:19>
// CHECK-NEXT:     Property in <34:22>
// CHECK-NEXT:       Number 3 int <34:26>
// CHECK-NEXT:     Block kernel K <35:3>
// CHECK-NEXT:       Procedure p <36:5>
// CHECK-NEXT:         AssignStmt '=' <37:7>
// CHECK-NEXT:           target: Ident m_i <37:7>
// CHECK-NEXT:           value: Unary '-' <37:13>
// CHECK-NEXT:             Ident inf <37:14>
// CHECK-NEXT:         For k <38:7>
// CHECK-NEXT:           in: Range <38:16>
// CHECK-NEXT:             lo: Number 0 int <38:16>
// CHECK-NEXT:             hi: Binary '-' <38:20>
// CHECK-NEXT:               Ident n <38:19>
// CHECK-NEXT:               Number 1 int <38:21>
// CHECK-NEXT:           AssignStmt '+=' <39:9>
// CHECK-NEXT:             target: Ident acc <39:9>
// CHECK-NEXT:             value: Binary '@' <39:18>
// CHECK-NEXT:               Ident A <39:16>
// CHECK-NEXT:               Ident B <39:20>
// CHECK-NEXT:           AssignStmt '=' <40:9>
// CHECK-NEXT:             target: Ident P <40:9>
// CHECK-NEXT:             value: Call softmax <40:13>
// CHECK-NEXT:               Ident S <40:21>
// CHECK-NEXT:               kw dim: Unary '-' <40:28>
// CHECK-NEXT:                 Number 1 int <40:29>
// CHECK-NEXT:         AssignStmt '=' <41:7>
// CHECK-NEXT:           target: Index <41:7>
// CHECK-NEXT:             base: Ident O <41:7>
// CHECK-NEXT:             index: Ident b <41:9>
// CHECK-NEXT:             index: Ident m <41:12>
// CHECK-NEXT:           value: Binary '/' <41:21>
// CHECK-NEXT:             Ident acc <41:17>
// CHECK-NEXT:             Binary '**' <41:27>
// CHECK-NEXT:               Ident l_i <41:23>
// CHECK-NEXT:               Number 2 int <41:30>
// CHECK-NEXT:         ExprStmt <42:7>
// CHECK-NEXT:           Call store <42:7>
// CHECK-NEXT:             Member .T <42:13>
// CHECK-NEXT:               Ident K <42:13>
// CHECK-NOT: {{.}}
