---
title: "MicroGPT — Karpathy's microgpt.py as a spakc model"
source: "microgpt.py (Karpathy, Feb 2026); ../shared/docs/MODELS.md"
---
// The molecule: one layer, 16 dims, 4 heads, trained one name per step.
import "targets/sm90_h100.dsl"
import "fusion.dsl"

system MicroGPT {
  model GPT {
    config {
      vocab: 27          // 26 letters + BOS; checked against the data's tokenizer at train time
      n_embd: 16
      n_head: 4
      n_layer: 1
      block_size: 16
      head_dim: n_embd / n_head
      init_std: 0.08
    }

    param wte[vocab, n_embd] ~ normal(0, init_std)
    param wpe[block_size, n_embd] ~ normal(0, init_std)
    param lm_head[vocab, n_embd] ~ normal(0, init_std)
    group layer[n_layer] as "layer{i}." {
      param attn_wq[n_embd, n_embd] ~ normal(0, init_std)
      param attn_wk[n_embd, n_embd] ~ normal(0, init_std)
      param attn_wv[n_embd, n_embd] ~ normal(0, init_std)
      param attn_wo[n_embd, n_embd] ~ normal(0, init_std)
      param mlp_fc1[4 * n_embd, n_embd] ~ normal(0, init_std)
      param mlp_fc2[n_embd, 4 * n_embd] ~ normal(0, init_std)
    }

    forward(tokens: i32[T], targets: i32[T]) {
      x = rmsnorm(embed(wte, tokens) + embed(wpe, positions(T)), eps: 1e-5)
      repeat i in n_layer {
        h = rmsnorm(x, eps: 1e-5)
        a = attention(linear(h, layer[i].attn_wq), linear(h, layer[i].attn_wk), linear(h, layer[i].attn_wv),
                      heads: n_head, causal: true)
        x = x + linear(a, layer[i].attn_wo)
        h = rmsnorm(x, eps: 1e-5)
        x = x + linear(relu(linear(h, layer[i].mlp_fc1)), layer[i].mlp_fc2)
      }
      logits = linear(x, lm_head)
      loss = cross_entropy(logits, targets)
    }
  }

  train {
    data: documents("names/names.txt", bos: true, shuffle_seed: 42)
    batch: 1
    seq_len: block_size
    steps: 1000
    optimizer: adam { lr: 0.01, beta1: 0.85, beta2: 0.99, eps: 1e-8 }
    schedule: linear_decay
    seed: 42
    log_every: 1
    sample { count: 20, temperature: 0.5, max_len: block_size }
  }

  tuning_space {
    // The H100 sweep (bench/gpu/tune_h100.sh): 8 variants, the rules as they are among them. tile_m and tile_n
    // move the attention and matmul kernel families, k_lat (K load pipeline depth) only attention.
    tile_m: [32, 64]
    tile_n: [64, 128]
    k_lat: [2, 3]
  }

  knowledge {
    fact numerical_stability_fix {
      description: "Masking with -1e20 instead of -inf prevents NaN in exp(qk - m)."
      source: "microgpt_system_v1.dsl"
    }
  }
}
