// Fusion and transformation rules. Each rule is switchable: set `enabled: false` (or delete it) and recompile to
// get the unfused kernels. `when` is evaluated against the graph; `apply` names the fusion the compiler performs.
rules Fusion {
  rule "Fuse RMSNorm" {
    when: producer == rmsnorm && consumer == linear
    apply: fuse_norm_into_linear
    priority: 10
    source: "microgpt_system_v1.dsl: fuse scale = (ms + 1e-5)**-0.5 into the next linear load"
  }
  rule "Bias GELU Epilogue" {
    when: producer == linear && consumer == gelu
    apply: epilogue(bias, gelu)
    priority: 20
  }
  rule "Residual Epilogue" {
    when: producer == linear && consumer == add
    apply: epilogue(residual)
    priority: 20
  }
  rule "Softmax CrossEntropy" {
    when: producer == linear && consumer == cross_entropy
    apply: fuse_softmax_xent
    priority: 30
  }
  rule "Flash Attention" {
    when: op == attention
    apply: online_softmax
    priority: 40
  }
  rule "Attention Reads QKV" {
    when: producer == split && consumer == attention
    apply: attention_reads_split
    priority: 45
    source: "the flash-attention kernels read q, k, v as column ranges of the qkv linear's output and attention_grad writes dq, dk, dv into the columns of one dqkv buffer: no split or concat copies (sm90 session 9)"
  }
  rule "MultiTensor Adam" {
    when: op == adam || op == adamw
    apply: multi_tensor_update
    priority: 50
  }
  rule "BF16 Copy In Producer" {
    when: consumer == cast_bf16 && producer_writes_alone
    apply: bf16_copy_in_producer
    priority: 60
    source: "cuda target, mma_bits = 16: the kernel that writes a matmul operand also stores its bf16 copy (spak-bf16-producers)"
  }
  rule "BF16 Logits" {
    when: producer == linear && consumer == cross_entropy
    apply: bf16_logits
    priority: 62
    enabled: true
    source: "cuda target, mma_bits = 16: the cross-entropy kernels read the logits from a bf16 copy, which the lm_head writes instead of f32 logits (spak-bf16-operands, then spak-bf16-producers): half the bytes of the largest activation (GPT-2: 16384 x 50304); the softmax and the loss stay f32, as PyTorch's autocast computes them. Was off while the row kernels read bf16 one element per load (docs/benchmarks.md session 10 call 6, session 11 call 4: slower); on since the vector layout (law vec_width) and the unmasked whole chunks (session 12)"
  }
  rule "BF16 GELU Input" {
    when: producer == linear && consumer == gelu_grad
    apply: bf16_gelu_input
    priority: 63
    source: "cuda target, mma_bits = 16: the GELU backward reads the saved pre-activation from a bf16 copy, which the MLP's first matmul stores instead of f32 (spak-bf16-operands, then spak-bf16-producers), as PyTorch's autocast saves that linear's output in bf16; the derivative is computed in f32"
  }
  rule "BF16 Bias Gradients" {
    when: op == reduce_sum
    apply: bf16_bias_grads
    priority: 64
    source: "cuda target, mma_bits = 16: a bias gradient's column sum (its first stage) reads dY from the bf16 copy the dY matmuls read (spak-bf16-operands); the sums stay f32, as PyTorch's autocast sums the bf16 dY. The GELU backward then stores its output in bf16 only (spak-bf16-producers drops the f32 buffer nothing reads)"
  }
  rule "Vocab Padding" {
    when: producer == linear && consumer == cross_entropy && cols % pad_vocab != 0 && cols > pad_vocab
    apply: pad_vocab
    priority: 3
    source: "nanoGPT model.py pads GPT-2's vocabulary 50257 -> 50304 (law pad_vocab): the logits' rows become 16-byte multiples for the lm_head's matmuls; the padding columns never reach the loss, the gradients or sampling (spak-pad-vocab)"
  }
  rule "Pow2 Masking" {
    when: dim % 2 != 0 || !is_pow2(dim)
    apply: pow2_mask
    priority: 5
  }
  rule "GELU Grad Epilogue" {
    when: producer == matmul && consumer == gelu_grad
    apply: epilogue(gelu_grad)
    priority: 20
    enabled: false
    source: "the backward of the Bias GELU Epilogue: the data-gradient matmul multiplies by gelu'(x) before its store. Off: measured slower on the H100 (2026-11-24, docs/benchmarks.md session 8 call 3: shakespeare-char 12.87 -> 13.19 ms/step, gpt2-124M 104.3 -> 105.3) than the separate gelu_grad kernel at DRAM speed"
  }
}
