// Hardware laws for the NVIDIA H100 80GB HBM3 (sm_90a), the GPU this project measures on.
// Every value here is data: kernels name the law (file:line) they took it from. `spakc tune` rewrites laws and
// appends facts with the evidence; keep one law per line so diffs stay readable.
target sm_90 "NVIDIA H100 80GB HBM3" {
  arch: "sm_90a"
  sms: 132
  smem_per_block: 232448     // bytes of dynamic shared memory an sm_90 CTA may opt into

  law tile_m = 64            // rows of the output tile per CTA (matmul, attention query rows)
  law tile_n = 128           // columns of the output tile per CTA
  law tile_k = 64            // depth of one k-step of the matmul main loop: 64 bf16 = one 128-byte TMA swizzle row
  law k_lat = 2              // pipeline depth (stages in flight) of attention K loads
  law v_lat = 2              // pipeline depth of attention V loads (causal); the seed's 5 measured slower with bf16 rings
  law stages = 3             // cp.async/TMA pipeline stages of the matmul main loop (3 x 32 KB k-tiles: 2 CTAs per SM)
  law warps = 4              // warps per CTA for tile kernels
  law row_tile = 4           // rows per CTA of row-wise kernels (norms, softmax): SPAK's ln_tile_m
  law vec_width = 4          // elements per thread per memory op in elementwise kernels
  stability_floor = -1e20    // masked logits use this, never -inf (exp(-inf - -inf) is NaN)
  law min_ctas = 264         // split-K below this many output tiles of a matmul (2 CTAs per SM)
  law split_k_chunk = 2048   // k per CTA of a split-K matmul's first stage (weight gradients: k = B*T rows)
  law colsum_steps = 8       // column sums: 8 steps of row_tile * vec_width rows (128-row chunks) per first-stage CTA
  law mma_bits = 16          // mma operands: 16 = bf16 tensor cores, fp32 accumulate (32 = exact fp32 CUDA cores)
  law mma_schedule = 10      // 2: + padded shared rows, row-owning softmax warps, bf16 shared operands; 4: 2 + cp.async rings; 5: 4 + bf16 operand copies, ldmatrix; 6: 5 + matmul k-loops on wgmma; 7: 6 + attention loops on rings; 8: 7 with bf16 attention copies and bf16 staging; 9: 8 + matmul rings filled by TMA; 10: 9 + slots released on mbarriers
  law attention.tile_m = 128 // attention kernels: 128 query rows per CTA ...
  law attention.warps = 8    // ... over 8 warps (16 rows each)
  law matmul.tile_m = 128    // matmul kernels: 128 x 128 tiles ...
  law matmul.warps = 8       // ... over 2 warpgroups (wgmma m64n128 each)
  law matmul.ctas_per_sm = 2 // matmul kernels: 2 CTAs per SM (__launch_bounds__: at most 128 registers per thread)
  law pad_vocab = 64         // rule "Vocab Padding": the lm_head's classes rounded up to a multiple (50257 -> 50304)
  fact measured_20261124_session12 {
    laws: "row.row_tile=1 in gpt2_124m.dsl's and shakespeare_char.dsl's systems; rules BF16 Logits (now enabled) and BF16 Bias Gradients (new); the vector layout (vec_width) and the replicated layout"
    metric: "ms/step"
    value: 53.0
    baseline: 58.4
    note: "gpt2_124m.dsl, bf16, CUDA graphs, median of steps 11..60, 2 rounds per call: 58.4 -> 57.1 (vector layout, bf16 logits, the cross-entropy's second pass without barriers) -> 55.7 (BF16 Bias Gradients, row_tile 1) -> 52.9-53.0 (unmasked whole chunks, cvt.rn.bf16.f32) -> 53.5 in a slower call with the replicated layout (52.96 vs 53.5 for the same trainer across calls 3 and 4); PyTorch bf16 eager + SDPA 54.11 / 54.31 in the same calls. shakespeare_char.dsl 10.5 -> 9.58. Measured and rejected: row.row_chunk = 4096 (+0.4), row.fast_exp = 1 (neutral), row.warps = 8 (neutral)"
    date: "2026-11-24"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "STEPS=50/60 ROUNDS=2 bash bench/gpu/ab_prebuilt.sh run (docs/benchmarks.md 'session 12', calls 1 to 4)"
  }
  fact measured_20261124_session11 {
    laws: "matmul.ctas_per_sm=1 in gpt2_124m.dsl's and shakespeare_char.dsl's systems (staged epilogue stores); rule BF16 GELU Input"
    metric: "ms/step"
    value: 58.4
    baseline: 68.1
    note: "gpt2_124m.dsl, bf16, CUDA graphs, median of steps 11..50/60, 2 rounds per call: session 10's end 68.1; the causal forward's unmasked key loop, Q / K / V from the bf16 copy, 4-partial row reduces 67.6; staged epilogue stores (one CTA per SM) 58.8; rule BF16 GELU Input 58.9 (-0.5 against 59.4 in its call); the final compiler 58.4. shakespeare_char.dsl 10.74 -> 10.7 -> 10.5 with matmul.ctas_per_sm = 1 in its system. Measured and rejected: attention.warps = 4 with attention.tile_n = 64 for the forward (+0.5), rule BF16 Logits (+0.8), attention_grad.tile_n = 64 (+0.2), broadcasts of loads into fragments re-read from global memory (+2.7)"
    date: "2026-11-24"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "STEPS=50/60 ROUNDS=2 bash bench/gpu/ab_prebuilt.sh run (docs/benchmarks.md 'session 11', calls 1 to 5)"
  }
  fact measured_20261124_session10 {
    laws: "mma_schedule=10 tile_k=64 stages=3 (gpt2_124m.dsl: matmul.tile_n=256 matmul.stages=4 matmul.ctas_per_sm=1 in its system)"
    metric: "ms/step"
    value: 68.1
    baseline: 84.7
    note: "gpt2_124m.dsl, bf16, CUDA graphs, median of steps 11..50, 2 rounds per call: the session-9 rules 84.7; matmul rings filled by TMA (schedule 9) 73.2 at tile_k 32, 72.9 at tile_k 64 / 3 stages; slots released on mbarriers (schedule 10) 71.0; + 128 x 256 tiles at 4 stages, 1 CTA per SM (the model's own laws) 68.3 (3 stages: 73.8); + clipping in size classes and heaviest-first attention 68.1. shakespeare_char.dsl 12.13 -> 11.08 (schedule 9, tile_k 32) -> 10.89 (schedule 10, tile_k 64, 3 stages) -> 10.74. Losses bit-identical to schedule 8's. Measured and rejected: row.warps = 1 / row_tile = 1 (gpt2 75.0, shakespeare-char 11.65), row.warps = 2 / row_tile = 2 (73.4), fast_exp = 1 (71.4, 10.95), attention.ctas_per_sm = 2 (78.2), attention.tile_n = 64 (69.0), min_ctas = 132 (68.4), rules GELU Grad Epilogue (75.0) and BF16 Logits (69.9)"
    date: "2026-11-24"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "STEPS=50 ROUNDS=2 bash bench/gpu/ab_prebuilt.sh run (docs/benchmarks.md 'session 10', calls 2 to 6)"
  }
  fact measured_20261124_session9 {
    laws: "pad_vocab=64"
    metric: "ms/step"
    value: 85.7
    baseline: 104.5
    note: "gpt2_124m.dsl, bf16, CUDA graphs, median of steps 11..50, 2 rounds per call: vocab padding (rule Vocab Padding) 104.5 -> 93.7 (the lm_head 7376 -> 4713 us, its gradients 9694 / 8143 -> 5013 / 4042 us); + saved softmax statistics and rule Attention Reads QKV 88.8; + Adam per size class 86.0; + row reduces in registers 85.7. shakespeare_char.dsl 12.88 -> 12.88 (padding) -> 12.16 -> 12.13; tiny.dsl cuda fp32 vs the cpp target 4.77e-7 over 50 steps. Measured and rejected: row.warps = 8 (86.6), split_k_chunk = 4096 (gpt2 -0.3 ms, shakespeare-char +0.35), matmul.tile_k = 64 with stages = 3 (94.4, 13.41)"
    date: "2026-11-24"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "STEPS=50 ROUNDS=2 bash bench/gpu/ab_prebuilt.sh run (docs/benchmarks.md 'session 9', calls 1, 3 and 4)"
  }
  fact measured_20261124_schedule8 {
    laws: "mma_schedule=8 v_lat=2 colsum_steps=8"
    metric: "ms/step"
    value: 12.86
    baseline: 14.11
    note: "shakespeare_char.dsl, bf16, CUDA graphs, median of steps 11..40, 2 rounds, one device call each: schedule 6 with the session's dkdv / column-sum kernels 14.11 (call 1); schedule 8 (attention's loop tiles through bf16 cp.async rings, bf16 staging) at v_lat = 5 14.35 and v_lat = 2 14.05 (call 1, colsum_steps = 4); with the column sums' per-thread axis-0 reduce (call 2) colsum_steps 16 / 8 / 4: 13.05 / 12.86 / 13.11; v_lat = k_lat = 3 13.07; attention.tile_n = 64 13.00; gpt2_124m.dsl 117.2 (schedule 6) -> 104.1 (schedule 8, v_lat 2); losses at step 40 within 1e-3"
    date: "2026-11-24"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "STEPS=40 ROUNDS=2 bash bench/gpu/ab_prebuilt.sh run (docs/benchmarks.md 'session 8', calls 1 and 2)"
  }
  fact measured_20261124_ctas_per_sm {
    laws: "matmul.ctas_per_sm=2"
    metric: "ms/step"
    value: 14.68
    baseline: 14.85
    note: "shakespeare_char.dsl, bf16, CUDA graphs, median of steps 11..40, 2 rounds, one device call, with the producers' bf16 copies (rule BF16 Copy In Producer): 14.85 -> 14.68 (14.88 -> 14.70 in the call before); gpt2_124m.dsl 119.2 -> 117.5; losses at step 40 unchanged (2.5230, 5.8396); fused_linear_residual_1 keeps 152 bytes of spills under the cap; with stages = 6 the cap lost (15.19 -> 15.50)"
    date: "2026-11-24"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "STEPS=40 ROUNDS=2 ONLY='sc sc-c2 g2 g2-c2' bash bench/gpu/ab_prebuilt.sh run (docs/benchmarks.md 'session 7', call 6)"
  }
  fact measured_20261123_wgmma {
    laws: "mma_schedule=6 matmul.tile_m=128 matmul.warps=8"
    metric: "ms/step"
    value: 15.80
    baseline: 17.94
    note: "shakespeare_char.dsl, bf16, CUDA graphs, median of steps 11..40, 2 rounds, one device call, both with 16-byte cp.async through L1 and paired epilogue stores: schedule 5 (64 x 128, 4 warps) 17.94, schedule 6 with 128 x 128 over 8 warps 15.80, + matmul.tile_n=256 16.58; gpt2_124m.dsl schedule 5 149.0, schedule 6 128 x 256 over 8 warps 123.2; tiny.dsl cuda (schedule 6) vs the cpp target 8.25e-5 over 10 steps; losses at step 40 equal to schedule 5's"
    date: "2026-11-23"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "STEPS=40 PROFILE=sc-s6w8 bash bench/gpu/ab_prebuilt.sh run (docs/benchmarks.md 'session 6', call 3)"
  }
  fact measured_20261123_bf16_operands {
    laws: "mma_schedule=5 stages=4"
    metric: "ms/step"
    value: 19.13
    baseline: 21.94
    note: "shakespeare_char.dsl, bf16, CUDA graphs, median of steps 11..40, 2 rounds: schedule 4 21.94, schedule 5 without ldmatrix 20.26, with ldmatrix 19.72, + stages 4 19.16, + double-buffered fragments 19.13 (committed), + matmul.tile_m=128 matmul.warps=8 18.60 (not committed yet); gpt2_124m.dsl schedule 4 185.6, schedule 5 164.4, + ldmatrix 150.7, + matmul 128 / 8 144.9, + double-buffered fragments 141.7 (stages 3); MicroGPT unchanged (its 16 x 16 matmuls take no copies); losses at step 40 equal to 4 digits"
    date: "2026-11-23"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "STEPS=40 bash bench/gpu/ab_prebuilt.sh run, two device calls (docs/benchmarks.md 'session 5')"
  }
  fact measured_20261123_cp_async {
    laws: "mma_schedule=4 attention.tile_m=128 attention.warps=8"
    metric: "ms/step"
    value: 21.80
    baseline: 27.38
    note: "shakespeare_char.dsl, bf16, CUDA graphs, median of steps 11..40, 2 rounds, one device call: schedule 2 27.38, schedule 4 22.44, schedule 4 + attention 128 rows / 8 warps 21.80, + matmul 128 / 8 too 23.45, matmul only 23.39; gpt2_124m.dsl schedule 2 238.95, schedule 4 192.2, schedule 4 + all kernels 128 / 8 184.95; tiny.dsl cuda fp32 (schedule 4) vs the cpp target over 40 steps 4.77e-7, bf16 8.25e-5 over 10"
    date: "2026-11-23"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "STEPS=40 PROFILE=... bash bench/gpu/ab_prebuilt.sh run (docs/benchmarks.md 'session 4', call 2)"
  }
  fact tuned_20261123 {
    laws: "tile_m=64 tile_n=128 k_lat=2"
    metric: "ms/step"
    value: 0.1109
    baseline: 0.1109
    note: "baseline kept: the fastest variant (tile_m=32 tile_n=128 k_lat=2, 0.1100 ms/step) is within the run-to-run spread of 0.0048 ms"
    date: "2026-11-23"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "spakc tune examples/microgpt/microgpt.dsl, 100 steps, 8 of 8 variants measured, losses within 0.02 of the cpp target's over the first 10 steps, gpu-carry/tune/tune-results.csv, plan a665c8b8207d"
  }
  fact measured_20261123_mma_schedule {
    laws: "mma_schedule=2 warps=4"
    metric: "ms/step"
    value: 40.47
    baseline: 46.72
    note: "shakespeare_char.dsl, bf16, CUDA graphs, median of steps 11..60: schedule 1 / 4 warps 46.72, schedule 2 / 4 warps 40.47, schedule 2 / 8 warps 44.66 (fp32 mma 87.31); losses vs the fp32 mma within 1.27e-3 over 10 steps"
    date: "2026-11-23"
    device: "NVIDIA H100 80GB HBM3"
    evidence: "bash bench/gpu/nanogpt_precision.sh run (device call, docs/benchmarks.md 'NanoGPT on the H100, session 3')"
  }
}
