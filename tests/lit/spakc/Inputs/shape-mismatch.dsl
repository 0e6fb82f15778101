// A model whose forward graph has a shape error that only MLIRGen sees (the linear weight has the wrong width).
system ShapeMismatch {
  model Tiny {
    config {
      vocab: 8
      n_embd: 4
    }
    param wte[vocab, n_embd] ~ normal(0, 0.02)
    param proj[n_embd, 3] ~ normal(0, 0.02)
    forward(tokens: i32[T], targets: i32[T]) {
      x = embed(wte, tokens)
      y = linear(x, proj)
      loss = cross_entropy(linear(y, wte), targets)
    }
  }
}
