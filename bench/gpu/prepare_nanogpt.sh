#!/usr/bin/env bash
# Writes gpu-carry/ for bench/gpu/nanogpt_h100.sh: the generated cuda projects of both NanoGPT examples, the
# tiny-shakespeare text and GPT-2 token files, and the PyTorch anchor. Device call: carry ["gpu-carry"],
# command "bash bench/gpu/nanogpt_h100.sh".
set -euo pipefail
cd "$(dirname "$0")/../.."
C=gpu-carry
rm -rf "$C" && mkdir -p "$C/data/tinyshakespeare"
for m in shakespeare_char gpt2_124m; do
  build/bin/spakc compile "examples/nanogpt/$m.dsl" -o "$C/$m" --target cuda -q --no-unused-warnings
done
cp ../shared/data/tinyshakespeare/* "$C/data/tinyshakespeare/"
cp ../shared/anchors/torch_gpt_bench.py "$C/"
du -sh "$C"
