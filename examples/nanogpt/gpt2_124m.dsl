---
title: "NanoGPT GPT-2 124M — nanoGPT model.py at GPT-2 small size"
source: "nanoGPT model.py (GPT-2 small); ../shared/docs/MODELS.md"
---
// Pre-norm GPT-2 block: LayerNorm with weight and bias, GELU (tanh), biases everywhere, weight tying
// (the lm_head is wte), learned positional embedding. 768 and 50257 are not powers of two: pow2 masking.
import "targets/sm90_h100.dsl"
import "fusion.dsl"

system GPT2_124M {
  // This model's own matmul tiles (measured on the H100, docs/benchmarks.md session 10, call 4: 68.3 ms/step against
  // 71.0 with the target's 128 x 128 at 3 stages): its linears are wide enough (768 .. 50304 columns) for 128 x 256
  // tiles over 2 warpgroups (wgmma m64n256), one CTA per SM with 4 TMA stages of 48 KB.
  law matmul.tile_n = 256
  law matmul.stages = 4
  law matmul.ctas_per_sm = 1
  // One row per row-kernel program (the target says 4): the layernorms and the cross-entropy's 50304-column rows then
  // need no row mask, so the cross-entropy's whole chunks run unmasked (docs/benchmarks.md session 12).
  law row.row_tile = 1

  model GPT {
    config {
      vocab: 50257      // GPT-2 BPE vocabulary (not a power of two: pow2 masking)
      n_embd: 768
      n_head: 12
      n_layer: 12
      block_size: 1024
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
    data: tokens("tinyshakespeare/gpt2_train.bin", val: "tinyshakespeare/gpt2_val.bin")
    batch: 16
    seq_len: block_size
    steps: 500
    optimizer: adamw { lr: 6e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 }
    schedule: cosine { warmup: 50, min_lr: 6e-5 }
    grad_clip: 1.0
    eval_every: 250
    eval_batches: 20
    seed: 1337
    sample { count: 1, temperature: 0.8, max_len: 500 }
  }
}
