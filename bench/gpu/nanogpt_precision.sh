#!/usr/bin/env bash
# NanoGPT on the GPU: precision checks (cuda fp32 / cuda bf16 vs the cpp target) and speed, one device call.
#
#   here (no GPU):  bench/gpu/nanogpt_precision.sh prepare [SPAKC]      (OLD=DIR: also an earlier project, for an A/B)
#       writes gpu-carry/prec: for examples/nanogpt/tiny.dsl the cpp project and two cuda projects
#       (rules as committed: mma_bits = 16, and a rules copy with mma_bits = 32), the same two cuda projects of
#       shakespeare_char.dsl plus its neighbours --law mma_schedule=1 (s1) and --law warps=8 (w8), gpt2-124M bf16,
#       the tiny-shakespeare data and the PyTorch anchor.
#   device:         bash bench/gpu/nanogpt_precision.sh run      (carry ["gpu-carry/prec"])
#       builds everything (in parallel), runs tiny 10 steps on all three and prints the loss differences against cpp
#       (bars: fp32 1e-4, bf16 2e-2), runs the shakespeare-char variants (SC_VARIANTS, default fp32 bf16 s1 w8 old)
#       for SC_STEPS steps (CUDA graphs) printing ms/step and the loss difference of the first 10 steps against
#       fp32, gpt2-124M bf16 for 20 steps, the PyTorch anchor rows, then a per-kernel ncu table of 2 eager bf16 steps.
#   device:         bash bench/gpu/nanogpt_precision.sh long   (LONG_VARIANT=bf16): the 5000-step shakespeare-char run,
#       time-boxed (LONG_TIMEOUT=540 s), printing the val-loss evaluations (issue 5: val loss <= 1.6).
set -uo pipefail
cd "$(dirname "$0")/../.."
P=gpu-carry/prec
mode=${1:-}
if [ "$mode" = prepare ]; then
  set -e
  spakc=${2:-build/bin/spakc}
  rm -rf "$P" && mkdir -p "$P/data" "$P/rules32"
  cp -r rules/. "$P/rules32/"
  sed -i 's/^\(  law mma_bits = \)16/\132/' "$P/rules32/targets/sm90_h100.dsl"
  grep -q "law mma_bits = 32" "$P/rules32/targets/sm90_h100.dsl"
  "$spakc" compile examples/nanogpt/tiny.dsl -o "$P/tiny_cpp" --target cpp -q --no-unused-warnings
  for m in tiny shakespeare_char; do
    "$spakc" compile "examples/nanogpt/$m.dsl" -o "$P/${m}_bf16" --target cuda -q --no-unused-warnings
    "$spakc" compile "examples/nanogpt/$m.dsl" -o "$P/${m}_fp32" --target cuda -q --no-unused-warnings \
      --rules-dir "$P/rules32"
  done
  # neighbours of the committed rules (mma_schedule = 2, warps = 4): schedule 1, and 8 warps
  for v in s1:mma_schedule=1 w8:warps=8; do
    "$spakc" compile examples/nanogpt/shakespeare_char.dsl -o "$P/shakespeare_char_${v%%:*}" --target cuda -q \
      --no-unused-warnings --law "${v#*:}"
  done
  # OLD=DIR: also carry an earlier build's project (an A/B in the same device call) as shakespeare_char_old
  if [ -n "${OLD:-}" ]; then cp -r "$OLD" "$P/shakespeare_char_old"; fi
  "$spakc" compile examples/nanogpt/gpt2_124m.dsl -o "$P/gpt2_124m_bf16" --target cuda -q --no-unused-warnings
  cp ../shared/data/tinyshakespeare/{input.txt,gpt2_train.bin,gpt2_val.bin} "$P/data/"
  cp ../shared/anchors/torch_gpt_bench.py "$P/"
  du -sh "$P"
  exit 0
fi
[ "$mode" = run ] || [ "$mode" = long ] || { echo "usage: $0 prepare [SPAKC] | run | long" >&2; exit 2; }
OUT=${OUT:-/tmp/prec-out}
L=/tmp/prec  # logs (only tables go to $OUT)
mkdir -p "$OUT" "$L"
D=$P/data/input.txt
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
date -u +%FT%TZ
J=$(nproc)
build() {  # name target
  cmake -S "$P/$1" -B "/tmp/b-$1" -DCMAKE_BUILD_TYPE=Release -DSPAK_TARGET="$2" >"$L/cfg-$1.log" 2>&1 &&
    cmake --build "/tmp/b-$1" -j "$J" >"$L/build-$1.log" 2>&1 || { echo "BUILD FAILED: $1"; tail -30 "$L/build-$1.log"; }
}
t0=$(date +%s)
if [ "$mode" = long ]; then  # shakespeare-char toward val loss <= 1.6: the full 5000-step schedule, time-boxed
  V=${LONG_VARIANT:-bf16}
  build "shakespeare_char_$V" cuda
  timeout "${LONG_TIMEOUT:-540}" "/tmp/b-shakespeare_char_$V/train" --data "$D" --steps 5000 --sample 1 \
    --log "$OUT/sc-long.jsonl" > "$L/sc-long.txt" 2>&1
  echo "exit $?"; grep -E "eval|summary" "$L/sc-long.txt" | tail -30; tail -12 "$L/sc-long.txt"
  exit 0
fi
ALL="tiny_cpp:cpp tiny_bf16:cuda tiny_fp32:cuda shakespeare_char_bf16:cuda shakespeare_char_fp32:cuda"
ALL="$ALL shakespeare_char_s1:cuda shakespeare_char_w8:cuda gpt2_124m_bf16:cuda"
[ -d "$P/shakespeare_char_old" ] && ALL="$ALL shakespeare_char_old:cuda"
for p in ${BUILDS:-$ALL}; do
  build "${p%%:*}" "${p##*:}" &
done
wait
echo "== built all in $(( $(date +%s) - t0 )) s"
cmp_logs() {  # a.jsonl b.jsonl n -> max |dloss| over the first n steps
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
def losses(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    return [r["loss"] for r in rows if "loss" in r]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
n = min(int(sys.argv[3]), len(a), len(b))
d = [abs(x - y) for x, y in zip(a[:n], b[:n])]
print(f"{n} steps, max |dloss| = {max(d):.3e}, first losses {a[0]:.6f} vs {b[0]:.6f}, last {a[n-1]:.6f} vs {b[n-1]:.6f}")
PY
}
if [ "${CHECKS:-1}" = 1 ]; then
echo "== tiny: 10 steps, cpp vs cuda fp32 vs cuda bf16"
for v in cpp bf16 fp32; do
  /tmp/b-tiny_$v/train --data "$D" --steps 200 --stop-after 10 --sample 0 --log "$L/tiny-$v.jsonl" >"$L/tiny-$v.txt" 2>&1 ||
    { echo "tiny $v failed"; tail -5 "$L/tiny-$v.txt"; }
done
echo -n "fp32 vs cpp: "; cmp_logs "$L/tiny-fp32.jsonl" "$L/tiny-cpp.jsonl" 10
echo -n "bf16 vs cpp: "; cmp_logs "$L/tiny-bf16.jsonl" "$L/tiny-cpp.jsonl" 10
echo "== shakespeare-char: ${SC_STEPS:-60} steps each (CUDA graphs)"
SC_VARIANTS=${SC_VARIANTS:-fp32 bf16 s1 w8 old}
for v in $SC_VARIANTS; do
  [ -x "/tmp/b-shakespeare_char_$v/train" ] || { echo "sc $v: not built"; continue; }
  timeout 200 /tmp/b-shakespeare_char_$v/train --data "$D" --steps 5000 --stop-after "${SC_STEPS:-60}" --sample 0 \
    --log "$L/sc-$v.jsonl" >"$L/sc-$v.txt" 2>&1 || echo "sc $v exit $?"
  grep summary "$L/sc-$v.txt"
done
echo -n "bf16 vs fp32: "; cmp_logs "$L/sc-bf16.jsonl" "$L/sc-fp32.jsonl" 10
python3 - $SC_VARIANTS <<'PY'
import json, statistics, sys
for v in sys.argv[1:]:
    try:
        rows = [json.loads(l) for l in open(f"/tmp/prec/sc-{v}.jsonl") if l.strip()]
        ms = [r["ms"] for r in rows if "ms" in r and "loss" in r]
        print(f"{v}: median ms/step over steps 11..: {statistics.median(ms[10:]):.2f}")
    except Exception as e:
        print(v, "no log", e)
PY
for v in s1 w8 old; do
  [ -f "$L/sc-$v.jsonl" ] && { echo -n "$v vs fp32: "; cmp_logs "$L/sc-$v.jsonl" "$L/sc-fp32.jsonl" 10; }
done
if [ -x /tmp/b-gpt2_124m_bf16/train ]; then
  echo "== gpt2-124M bf16: 20 steps of a 100-step schedule (B=16, T=1024)"
  timeout 240 /tmp/b-gpt2_124m_bf16/train --data "$P/data/gpt2_train.bin" --steps 100 --stop-after "${G2_STEPS:-20}" \
    --sample 0 --log "$L/g2.jsonl" > "$L/g2.txt" 2>&1; echo "exit $?"
  grep -E "^step|summary" "$L/g2.txt" | tail -8
fi
echo "== PyTorch anchor (same call)"
timeout 240 python3 "$P/torch_gpt_bench.py" shakespeare-char gpt2-124M 2>&1 | tail -12
fi
if [ "${PROFILE:-1}" = 1 ]; then
  echo "== ncu: 2 eager bf16 steps"
  mkdir -p gpu-carry/pc && rm -rf gpu-carry/pc/* && ln -sfn "$(pwd)/$P/shakespeare_char_bf16" gpu-carry/pc/shakespeare_char
  mkdir -p /tmp/b-x && rm -rf /tmp/b-shakespeare_char && ln -sfn /tmp/b-shakespeare_char_bf16 /tmp/b-shakespeare_char
  mkdir -p gpu-carry/pc/data/tinyshakespeare && cp "$D" gpu-carry/pc/data/tinyshakespeare/input.txt
  CARRY=gpu-carry/pc OUT=$OUT bash bench/gpu/nanogpt_profile.sh shakespeare_char | tail -42
  tail -5 "$OUT/ncu-shakespeare_char.err"
fi
