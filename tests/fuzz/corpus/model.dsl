import "targets/sm90_h100.dsl"
system S {
  model M {
    config { n: 8, h: 2, d: n / h, s: 0.02 }
    param wte[16, n] ~ normal(0, s) as "wte"
    group blk[2] as "b.{i}." { param ln.weight[n] ~ ones  param ln.bias[n] ~ zeros  param w[3 * n, n] ~ uniform(-1, 1) }
    forward(tokens: i32[T], targets: i32[T]) {
      x = embed(wte, tokens) + embed(wte, positions(T))
      repeat i in 2 { x = x + linear(gelu(layernorm(x, blk[i].ln.weight, blk[i].ln.bias, eps: 1e-5)), blk[i].w) }
      loss = cross_entropy(linear(dropout(x, p: 0.1), wte), targets)
    }
  }
  train { data: text("t.txt", val_fraction: 0.1) batch: 2 optimizer: adamw { lr: 1e-3 } schedule: cosine { warmup: 10 } }
}
