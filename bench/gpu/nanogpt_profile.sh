#!/usr/bin/env bash
# Per-kernel GPU time of generated NanoGPT projects (carried in gpu-carry/, written by bench/gpu/prepare_nanogpt.sh).
# Device call: carry ["gpu-carry"], command "bash bench/gpu/nanogpt_profile.sh shakespeare_char [gpt2_124m]".
# For each project: cmake build (cuda), `train --stop-after $STEPS --no-cuda-graph` under ncu, then a table of the
# kernels by total time per step (written to $OUT/kernels-<name>.txt). Env: STEPS (2), DATA_<name> overrides.
set -uo pipefail
C=${CARRY:-gpu-carry}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
J=$(nproc)
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null || true)
[ -n "$NCU" ] || { echo "ncu not found" >&2; exit 1; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
for m in "$@"; do
  case $m in
    gpt2*) data=$C/data/tinyshakespeare/gpt2_train.bin ;;
    *) data=$C/data/tinyshakespeare/input.txt ;;
  esac
  if [ ! -x "/tmp/b-$m/train" ]; then
    t0=$(date +%s)
    cmake -S "$C/$m" -B "/tmp/b-$m" -DCMAKE_BUILD_TYPE=Release -DSPAK_TARGET=cuda >"/tmp/cfg-$m.log" 2>&1 || { cat "/tmp/cfg-$m.log"; exit 1; }
    cmake --build "/tmp/b-$m" -j "$J" >"/tmp/build-$m.log" 2>&1 || { tail -40 "/tmp/build-$m.log"; exit 1; }
    echo "== built $m in $(( $(date +%s) - t0 )) s"
  fi
  # ncu, clocks untouched (--clock-control none): the GPU time of every launch of STEPS eager steps
  "$NCU" --clock-control none --metrics gpu__time_duration.sum --csv --print-units base /tmp/b-$m/train \
    --data "$data" --steps 1000 --stop-after "${STEPS:-2}" --sample 0 --no-cuda-graph >"/tmp/prof-$m.csv" 2>"$OUT/ncu-$m.err"
  grep -v '^"' "/tmp/prof-$m.csv" | grep -v "^==PROF==" | tail -3
  python3 "$(dirname "$0")/ncu_table.py" "/tmp/prof-$m.csv" "${STEPS:-2}" >"$OUT/kernels-$m.txt"
  head -45 "$OUT/kernels-$m.txt"
done
