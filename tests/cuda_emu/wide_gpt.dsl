---
title: "NanoGPT wide: rows of 320 and 601 columns (CPU-emulated CUDA vs cpp kernels, tests/cuda_emu)"
source: "examples/nanogpt/tiny.dsl; tests/cuda_emu/README.md"
---
// small_gpt.dsl's architecture with rows wide enough for the cuda target's vector layout (law vec_width: runs of 4
// consecutive elements per thread once a row holds 4 x 128 elements): n_embd 320 (the layernorms' rows: 512-wide
// tiles, masked at 320) and a vocabulary of 601 (the cross-entropy's 1024-wide chunks end in a run that straddles
// column 601: its loads and stores go element by element), 5 heads of 64.
import "targets/sm90_h100.dsl"
import "fusion.dsl"

system NanoGPTWideEmu {
  model GPT {
    config {
      vocab: 601
      n_embd: 320
      n_head: 5
      n_layer: 1
      block_size: 64
      std: 0.02
      proj_std: std / sqrt(2 * n_layer)
    }

    param wte[vocab, n_embd] ~ normal(0, std) as "transformer.wte.weight"
    param wpe[block_size, n_embd] ~ normal(0, std) as "transformer.wpe.weight"
    group h[n_layer] as "transformer.h.{i}." {
      param ln_1.weight[n_embd] ~ ones
      param ln_1.bias[n_embd] ~ zeros
      param attn.c_attn.weight[3 * n_embd, n_embd] ~ normal(0, std)
      param attn.c_attn.bias[3 * n_embd] ~ zeros
      param attn.c_proj.weight[n_embd, n_embd] ~ normal(0, proj_std)
      param attn.c_proj.bias[n_embd] ~ zeros
      param ln_2.weight[n_embd] ~ ones
      param ln_2.bias[n_embd] ~ zeros
      param mlp.c_fc.weight[4 * n_embd, n_embd] ~ normal(0, std)
      param mlp.c_fc.bias[4 * n_embd] ~ zeros
      param mlp.c_proj.weight[n_embd, 4 * n_embd] ~ normal(0, proj_std)
      param mlp.c_proj.bias[n_embd] ~ zeros
    }
    param ln_f.weight[n_embd] ~ ones as "transformer.ln_f.weight"
    param ln_f.bias[n_embd] ~ zeros as "transformer.ln_f.bias"

    forward(tokens: i32[T], targets: i32[T]) {
      x = embed(wte, tokens) + embed(wpe, positions(T))
      repeat i in n_layer {
        qkv = split(linear(layernorm(x, h[i].ln_1.weight, h[i].ln_1.bias), h[i].attn.c_attn.weight,
                           h[i].attn.c_attn.bias), 3)
        a = attention(qkv[0], qkv[1], qkv[2], heads: n_head, causal: true)
        x = x + linear(a, h[i].attn.c_proj.weight, h[i].attn.c_proj.bias)
        m = gelu(linear(layernorm(x, h[i].ln_2.weight, h[i].ln_2.bias), h[i].mlp.c_fc.weight, h[i].mlp.c_fc.bias))
        x = x + linear(m, h[i].mlp.c_proj.weight, h[i].mlp.c_proj.bias)
      }
      logits = linear(layernorm(x, ln_f.weight, ln_f.bias), wte)   // weight tying
      loss = cross_entropy(logits, targets)
    }
  }

  train {
    data: text("tinyshakespeare/input.txt", val_fraction: 0.1)
    batch: 2
    seq_len: block_size
    steps: 10
    optimizer: adamw { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1 }
    schedule: cosine { warmup: 2, min_lr: 1e-4 }
    grad_clip: 1.0
    eval_every: 5
    eval_batches: 2
    seed: 1337
    sample { count: 1, temperature: 0.8, max_len: 64 }
  }
}
