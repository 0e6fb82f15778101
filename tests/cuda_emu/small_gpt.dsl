---
title: "NanoGPT small: tiny.dsl with shakespeare-sized tiles (CPU-emulated CUDA vs cpp kernels, tests/cuda_emu)"
source: "examples/nanogpt/tiny.dsl; tests/cuda_emu/README.md"
---
// tiny.dsl's architecture with block_size 128, n_embd 128, 2 heads of 64, batch 2: attention runs full 64 x 128
// (query x key) tiles with head_dim 64, and the linears 64-row x 128-column output tiles (H100 laws: tile_m 64,
// tile_n 128, warps 4, mma_bits 16), like shakespeare_char.dsl, at a size the CUDA emulator runs in seconds.
import "targets/sm90_h100.dsl"
import "fusion.dsl"

system NanoGPTSmallEmu {
  model GPT {
    config {
      vocab: 65
      n_embd: 128
      n_head: 2
      n_layer: 2
      block_size: 128
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
