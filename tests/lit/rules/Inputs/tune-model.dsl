// A tiny model for the tune lit tests (tune-prepare.test, tune-ingest.test): two swept laws, one of which makes
// duplicate variants. Imports resolve against --rules-dir (a copy of rules/ the tests may rewrite).
import "targets/sm90_h100.dsl"
import "fusion.dsl"
system TuneTiny {
  model M {
    config { vocab: 8  n_embd: 8  n_head: 2  block_size: 4 }
    param wte[vocab, n_embd] ~ normal(0, 0.02)
    param wq[n_embd, n_embd] ~ normal(0, 0.02)
    forward(tokens: i32[T], targets: i32[T]) {
      x = embed(wte, tokens)
      q = linear(x, wq)
      a = attention(q, q, q, heads: n_head, causal: true)
      logits = linear(rmsnorm(a, eps: 1e-5), wte)
      loss = cross_entropy(logits, targets)
    }
  }
  train { data: tokens("tune/x.bin")  batch: 1  seq_len: block_size  steps: 10  optimizer: adam { lr: 0.01 } }
  tuning_space {
    k_lat: [2, 3]
    tile_m: [64, 128]
  }
}
