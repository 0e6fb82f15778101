#!/usr/bin/env bash
# NanoGPT on the GPU machine, in one call: builds the generated cuda projects of examples/nanogpt/shakespeare_char.dsl
# and gpt2_124m.dsl (carried in gpu-carry/, written by bench/gpu/prepare_nanogpt.sh), trains shakespeare-char for a
# time-boxed run (loss, val loss, ms/step), runs a few gpt2-124M steps (loss falls, no NaN, ms/step), and runs the
# PyTorch anchor rows of both configs in the same call. Env: SC_STEPS (600), SC_TIMEOUT (240 s), G2_STEPS (12).
set -uo pipefail
C=${CARRY:-gpu-carry}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
J=$(nproc)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
for m in shakespeare_char gpt2_124m; do
  t0=$(date +%s)
  cmake -S "$C/$m" -B "/tmp/b-$m" -DCMAKE_BUILD_TYPE=Release -DSPAK_TARGET=cuda >"/tmp/cfg-$m.log" 2>&1 || { cat "/tmp/cfg-$m.log"; exit 1; }
  cmake --build "/tmp/b-$m" -j "$J" >"/tmp/build-$m.log" 2>&1 || { tail -40 "/tmp/build-$m.log"; exit 1; }
  echo "== built $m in $(( $(date +%s) - t0 )) s"
done
echo "== shakespeare-char: --steps ${SC_STEPS:-600} (time box ${SC_TIMEOUT:-240} s)"
timeout "${SC_TIMEOUT:-240}" /tmp/b-shakespeare_char/train --data "$C/data/tinyshakespeare/input.txt" \
  --steps "${SC_STEPS:-600}" --log "$OUT/sc.jsonl" --sample 1 > "$OUT/sc.txt" 2>&1
echo "exit $?"; grep -E "^step|eval|summary|val" "$OUT/sc.txt" | tail -25; tail -12 "$OUT/sc.txt" | grep -v "^step"
echo "== gpt2-124M: ${G2_STEPS:-12} steps"
timeout 240 /tmp/b-gpt2_124m/train --data "$C/data/tinyshakespeare/gpt2_train.bin" --steps "${G2_STEPS:-12}" \
  --log "$OUT/g2.jsonl" --sample 0 > "$OUT/g2.txt" 2>&1
echo "exit $?"; tail -16 "$OUT/g2.txt"
echo "== torch anchor"
timeout 200 python3 "$C/torch_gpt_bench.py" shakespeare-char gpt2-124M 2>&1 | tee "$OUT/torch.jsonl"
