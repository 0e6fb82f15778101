#!/usr/bin/env bash
# MicroGPT on the GPU machine, in one call (the device tool runs this from the repository root):
#   1. build the generated project (carried in gpu-carry/microgpt, written here by bench/gpu/prepare.sh) for the
#      cuda and the cpp target with the machine's nvcc / g++;
#   2. correctness: cuda vs cpp trainer, step by step, same init (--init-from the reference init) and document order,
#      100 steps within 1e-4 relative; then the default 1000-step run on both (final loss, mean of last 100);
#   3. compute-sanitizer memcheck on a short cuda run;
#   4. speed: median ms/step of the cuda trainer (CUDA graphs on and off) and of the cpp trainer, and the PyTorch
#      anchor's microgpt rows (../shared/anchors/torch_gpt_bench.py, carried) in the same call.
# Results go to $OUT (logs + results.json) and a table at the end of stdout.
set -uo pipefail
C=${CARRY:-gpu-carry}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
J=$(nproc)
log() { echo "== $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
log build cuda + cpp
for t in cuda cpp; do
  cmake -S "$C/microgpt" -B "/tmp/b-$t" -DCMAKE_BUILD_TYPE=Release -DSPAK_TARGET=$t >"/tmp/cfg-$t.log" 2>&1 || { cat "/tmp/cfg-$t.log"; exit 1; }
  cmake --build "/tmp/b-$t" -j "$J" >"/tmp/build-$t.log" 2>&1 || { tail -50 "/tmp/build-$t.log"; exit 1; }
done
CUDA=/tmp/b-cuda/train CPP=/tmp/b-cpp/train
DATA="$C/data/names/names.txt"
INIT="$C/init.safetensors"
log parity 100 steps
$CPP --data "$DATA" --steps 100 --init-from "$INIT" --log "$OUT/cpp100.jsonl" --sample 0 > "$OUT/cpp100.txt" 2>&1 || { cat "$OUT/cpp100.txt"; exit 1; }
$CUDA --data "$DATA" --steps 100 --init-from "$INIT" --log "$OUT/cuda100.jsonl" --sample 0 > "$OUT/cuda100.txt" 2>&1 || { cat "$OUT/cuda100.txt"; exit 1; }
python3 "$C/compare_logs.py" "$OUT/cpp100.jsonl" "$OUT/cuda100.jsonl" --rtol 1e-4 | tee "$OUT/parity100.txt"
log default 1000-step runs
$CUDA --data "$DATA" --log "$OUT/cuda1000.jsonl" > "$OUT/cuda1000.txt" 2>&1; tail -24 "$OUT/cuda1000.txt"
$CPP --data "$DATA" --log "$OUT/cpp1000.jsonl" --sample 0 > "$OUT/cpp1000.txt" 2>&1; tail -2 "$OUT/cpp1000.txt"
python3 "$C/compare_logs.py" "$OUT/cpp1000.jsonl" "$OUT/cuda1000.jsonl" --rtol 1e-4 --report-only | tee "$OUT/parity1000.txt"
log determinism
$CUDA --data "$DATA" --steps 200 --log "$OUT/cuda200a.jsonl" --sample 0 >/dev/null 2>&1
$CUDA --data "$DATA" --steps 200 --log "$OUT/cuda200b.jsonl" --sample 0 >/dev/null 2>&1
python3 "$C/compare_logs.py" "$OUT/cuda200a.jsonl" "$OUT/cuda200b.jsonl" --rtol 0 | tee "$OUT/determinism.txt"
log compute-sanitizer memcheck
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
"$CS" --tool memcheck --leak-check full --error-exitcode 9 $CUDA --data "$DATA" --steps 5 --sample 2 > "$OUT/memcheck.txt" 2>&1
echo "memcheck exit $?"; tail -3 "$OUT/memcheck.txt"
log speed
for i in 1 2; do $CUDA --data "$DATA" --sample 0 | grep summary; done | tee "$OUT/speed_cuda.txt"
$CUDA --data "$DATA" --sample 0 --no-cuda-graph | grep summary | tee "$OUT/speed_cuda_nograph.txt"
$CPP --data "$DATA" --sample 0 | grep summary | tee "$OUT/speed_cpp.txt"
log torch anchor
python3 "$C/torch_gpt_bench.py" microgpt 2>&1 | tee "$OUT/torch_microgpt.jsonl"
