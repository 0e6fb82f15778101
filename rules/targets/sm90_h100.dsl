// Hardware laws for the NVIDIA H100 80GB HBM3 (sm_90a), the GPU this project measures on.
// Every value here is data: kernels name the law (file:line) they took it from. `spakc tune` rewrites laws and
// appends facts with the evidence; keep one law per line so diffs stay readable.
target sm_90 "NVIDIA H100 80GB HBM3" {
  arch: "sm_90a"
  sms: 132
  smem_per_block: 232448     // bytes of dynamic shared memory an sm_90 CTA may opt into

  law tile_m = 64            // rows of the output tile per CTA (matmul, attention query rows)
  law tile_n = 128           // columns of the output tile per CTA
  law tile_k = 32            // depth of one k-step of the matmul main loop
  law k_lat = 2              // pipeline depth (stages in flight) of attention K loads
  law v_lat = 5              // pipeline depth of attention V loads (causal)
  law stages = 3             // cp.async/TMA pipeline stages of the matmul main loop
  law warps = 4              // warps per CTA for tile kernels
  law row_tile = 4           // rows per CTA of row-wise kernels (norms, softmax): SPAK's ln_tile_m
  law vec_width = 4          // elements per thread per memory op in elementwise kernels
  stability_floor = -1e20    // masked logits use this, never -inf (exp(-inf - -inf) is NaN)
  law min_ctas = 264         // split-K below this many output tiles of a matmul (2 CTAs per SM)
  law split_k_chunk = 2048   // k per CTA of a split-K matmul's first stage (weight gradients: k = B*T rows)
  law mma_bits = 16          // mma operands: 16 = bf16 tensor cores, fp32 accumulate (32 = exact fp32 CUDA cores)
  law mma_schedule = 1       // 2: + padded shared rows, warps owning whole softmax rows (quad shuffles, P from registers)
}
