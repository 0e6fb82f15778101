---
title: "NanoGPT shakespeare-char — nanoGPT's 384-dim character model"
source: "nanoGPT config/train_shakespeare_char.py; ../shared/docs/MODELS.md"
---
// Pre-norm GPT-2 block: LayerNorm with weight and bias, GELU (tanh), biases everywhere, weight tying
// (the lm_head is wte), learned positional embedding. 384 and 65 are not powers of two: pow2 masking.
import "targets/sm90_h100.dsl"
import "fusion.dsl"

system ShakespeareChar {
  // One matmul CTA per SM (the target says 2), so the epilogues store through the per-warp staging area
  // (docs/cuda-mma.md "Staged epilogue stores"): 10.70 -> 10.51 ms/step on the H100 (docs/benchmarks.md session 11,
  // call 4).
  law matmul.ctas_per_sm = 1
  // One row per row-kernel program (the target says 4), as gpt2_124m.dsl (docs/benchmarks.md session 12).
  law row.row_tile = 1

  model GPT {
    config {
      vocab: 65
      n_embd: 384
      n_head: 6
      n_layer: 6
      block_size: 256
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
    batch: 64
    seq_len: block_size
    steps: 5000
    optimizer: adamw { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1 }
    schedule: cosine { warmup: 100, min_lr: 1e-4 }
    grad_clip: 1.0
    eval_every: 250
    eval_batches: 20
    seed: 1337
    sample { count: 1, temperature: 0.8, max_len: 500 }
  }

  tuning_space {
    // The next H100 sweep (spakc tune --prepare; docs/rules.md): the matmul tile (attention has its own
    // `attention.*` laws in the rules), 4 variants, the rules as they are among them. Measured 2026-11-23
    // (docs/benchmarks.md, session 4): the rules 21.88 ms/step, matmul.warps=8 21.54, matmul.tile_n=64 23.17,
    // attention.tile_n=64 22.02, stages=2 22.73, tile_k=64 23.69.
    matmul.warps: [4, 8]
    matmul.tile_m: [64, 128]
  }
}
