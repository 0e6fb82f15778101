system K {
  kernel A {
    procedure p:
      m_i = -inf
      for n in 0..N-1:
        s = q @ k.T / sqrt(D)
        acc += softmax(s, dim=-1) @ v
      O[b, m] = acc / l
  }
  knowledge { fact f(t: T.P) { return t.x < 0.85 } hint "H" { a: 1 } invariant I { assert: "x" } }
  agent_loop L { step "S" { llm.query { prompt: 'p' } emit T.P } }
  engineering_loop E { parameter P: [64] measure { cmd: "x" } }
  build { artifact "a" artifact "b" { x: trace.all } }
  model { type X matches { a: int } state s: float = 0.0 }
  trace_schema { variant T { case A { b: "X" | "Y" } } }
}
