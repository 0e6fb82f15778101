#!/usr/bin/env bash
# Writes gpu-carry/nccl/ for bench/gpu/nccl_h200x2.sh (data-parallel gpt2-124M through NCCL, docs/distributed.md);
# the rest of gpu-carry/ (other benches' projects) is left alone:
#   gpu-carry/nccl/gpt2_b16/   the generated cuda project of examples/nanogpt/gpt2_124m.dsl at its batch (16 rows/GPU)
#   gpu-carry/nccl/gpt2_b8/    the same model at batch 8 (2 ranks x 8 = the global batch of 1 rank x 16)
#   gpu-carry/nccl/data/tinyshakespeare/   the GPT-2 token files
# Both variants have evaluation off (eval_batches: 0; the bench runs only a few steps and evaluation would cost
# 40 forward passes) and no samples; everything else is the .dsl's. Device call (2 x H200): carry ["gpu-carry"],
# command "bash bench/gpu/nccl_h200x2.sh".
set -euo pipefail
cd "$(dirname "$0")/../.."
SPAKC=${SPAKC:-build/bin/spakc}
[ -x "$SPAKC" ] || SPAKC=build-nccl/bin/spakc
C=gpu-carry/nccl
rm -rf "$C" && mkdir -p "$C/data/tinyshakespeare" "$C/src"
for b in 16 8; do
  src="examples/nanogpt/gpt2_124m.dsl"
  dsl="$C/src/gpt2_b$b.dsl"
  sed -e "s/^\(    batch:\) 16$/\1 $b/" -e "s/^\(    eval_batches:\) 20$/\1 0/" \
      -e "s/sample { count: 1,/sample { count: 0,/" "$src" > "$dsl"
  grep -q "batch: $b\$" "$dsl" && grep -q "eval_batches: 0" "$dsl" || { echo "could not edit $src"; exit 1; }
  # Imports are resolved like the original's (the copy sits in gpu-carry/src; the rules are found by spakc).
  "$SPAKC" compile "$dsl" -o "$C/gpt2_b$b" --target cuda -q --no-unused-warnings
  grep -q "constexpr int64_t kBatch = $b;" "$C/gpt2_b$b/cuda/main.cu" || { echo "gpt2_b$b: batch not $b"; exit 1; }
  grep -q "ncclAllReduce" "$C/gpt2_b$b/cuda/main.cu" || { echo "gpt2_b$b: no NCCL path in main.cu"; exit 1; }
done
rm -rf "$C/src"
cp ../shared/data/tinyshakespeare/gpt2_train.bin ../shared/data/tinyshakespeare/gpt2_val.bin "$C/data/tinyshakespeare/"
du -sh "$C"
