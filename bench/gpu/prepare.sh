#!/usr/bin/env bash
# Prepares gpu-carry/ (git-ignored; named in the device tool's `carry`): the generated MicroGPT project (both targets),
# the data, the float64 reference's init weights, the log comparer and the PyTorch anchor. Run here, then call the
# device tool with: carry ["gpu-carry"], command "bash bench/gpu/microgpt_h100.sh".
set -euo pipefail
cd "$(dirname "$0")/../.."
C=gpu-carry
rm -rf "$C" && mkdir -p "$C/data/names"
build/bin/spakc compile examples/microgpt/microgpt.dsl -o "$C/microgpt" --target all -q --no-unused-warnings
cp ../shared/data/names/names.txt "$C/data/names/"
/usr/bin/python3 tests/reference/microgpt_ref.py --steps 1 --dump-init "$C/init.safetensors" >/dev/null
cp ../shared/anchors/torch_gpt_bench.py "$C/"
cp bench/compare_logs.py "$C/"
du -sh "$C"
