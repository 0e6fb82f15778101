#!/usr/bin/env bash
# Data-parallel gpt2-124M through NCCL on 2 GPUs of one host, in one device call (docs/distributed.md). Carries
# gpu-carry/ with gpu-carry/nccl/ written by bench/gpu/prepare_nccl.sh (the generated cuda projects of gpt2_124m.dsl
# at batch 16 and batch 8, evaluation off, and the GPT-2 token files). Device call: kind nvidia-h200-x2, carry
# ["gpu-carry"], command "bash bench/gpu/nccl_h200x2.sh".
#
# Runs (each --steps $STEPS --stop-after $K: the first K steps of the cosine schedule, same seed and data stream):
#   A  b16 x 1 rank   the compiled @train_step (single-GPU path)               global batch 16
#   S  b16 x 1 rank   SPAK_SPLIT_STEP=1: @backward + the trainer's optimizer    global batch 16 (checks the DP step)
#   B  b8  x 1 rank   the single-GPU path at per-GPU batch 8                     global batch 8
#   D  b8  x 2 ranks  spak-run -n 2: data parallel through NCCL                  global batch 16 (= A's rows)
# and prints: the loss curves of A, S and D side by side (same global batch: D trains on exactly A's rows, split in
# two), the tokens/s of B and D (same per-GPU batch) and the scaling D/B, the weights of D's two ranks compared
# (bit-identical), and a checkpoint of D resumed with 1 rank (N -> M). Env: K (5), STEPS (100), TIMEOUT (240 s a run),
# BUDGET (420 s: the extras S / W / R start only before then).
set -uo pipefail
T_START=$(date +%s)
export NCCL_NVLS_ENABLE=0  # NVLink SHARP / multicast stays off on these machines
C=${CARRY:-gpu-carry}/nccl
OUT=${OUT:-/tmp/out}
K=${K:-5}
STEPS=${STEPS:-100}
TO=${TIMEOUT:-240}
mkdir -p "$OUT"
J=$(nproc)
nvidia-smi --query-gpu=index,name,driver_version,clocks.max.sm --format=csv
nvidia-smi topo -m 2>/dev/null | head -4
DATA="$C/data/tinyshakespeare/gpt2_train.bin"
[ -f "$DATA" ] || { echo "no $DATA: run bench/gpu/prepare_nccl.sh and carry gpu-carry"; exit 1; }

# ---- build both projects at once (half the cores each), NCCL on
t0=$(date +%s)
for b in 16 8; do
  ( cmake -S "$C/gpt2_b$b" -B "/tmp/b$b" -DCMAKE_BUILD_TYPE=Release -DSPAK_NCCL=ON >"/tmp/cfg$b.log" 2>&1 &&
    cmake --build "/tmp/b$b" -j $(( J / 2 )) >"/tmp/build$b.log" 2>&1 ) &
done
wait
for b in 16 8; do
  [ -x "/tmp/b$b/train" ] && [ -x "/tmp/b$b/spak-run" ] || { tail -30 "/tmp/cfg$b.log" "/tmp/build$b.log"; exit 1; }
  grep "NCCL" "/tmp/cfg$b.log"
done
echo "== built both projects in $(( $(date +%s) - t0 )) s"

COMMON=(--data "$DATA" --steps "$STEPS" --stop-after "$K" --sample 0)
run() {  # name, then the command
  local name=$1; shift
  local t=$(date +%s)
  timeout "$TO" "$@" --log "$OUT/$name.jsonl" > "$OUT/$name.txt" 2>&1
  local rc=$?
  echo "== $name: exit $rc in $(( $(date +%s) - t )) s"
  grep -E "^(spakc trainer|data parallel|step|summary)|error|note" "$OUT/$name.txt" | head -12
  return $rc
}
# Core runs first (scaling and the same-global-batch curves); extras only while the call has time left (BUDGET s
# since the start, default 420 of the device call's 600).
run D /tmp/b8/spak-run -n 2 -- /tmp/b8/train "${COMMON[@]}" --checkpoint "$OUT/D.ckpt"
run B /tmp/b8/train "${COMMON[@]}"
run A /tmp/b16/train "${COMMON[@]}"
summary() { python3 - "$OUT" "$K" <<'EOF'
import json, os, statistics, sys
out, K = sys.argv[1], int(sys.argv[2])
def log(name):
    p = os.path.join(out, name + ".jsonl")
    if not os.path.exists(p):
        return []
    return [r for r in (json.loads(l) for l in open(p) if l.strip()) if "event" not in r]
A, S, B, D = log("A"), log("S"), log("B"), log("D")
print("\nstep | A b16x1 (train_step) | S b16x1 (split step) | D b8x2 (NCCL) | D-A rel | S-A rel")
for i in range(K):
    row = [r[i]["loss"] if i < len(r) else float("nan") for r in (A, S, D)]
    rel = lambda x: abs(x - row[0]) / abs(row[0])
    print(f"{i + 1:4d} | {row[0]:20.6f} | {row[1]:20.6f} | {row[2]:13.6f} | {rel(row[2]):.2e} | {rel(row[1]):.2e}")
if all("grad_norm" in r for r in A + D):
    print("grad_norm A:", [round(r["grad_norm"], 4) for r in A])
    print("grad_norm D:", [round(r["grad_norm"], 4) for r in D])
def tps(recs, rows, world):
    ms = [r["ms"] for r in recs[1:]] or [r["ms"] for r in recs]
    return rows * 1024 * world / (statistics.median(ms) / 1000.0), statistics.median(ms)
if B and D:
    tb, mb = tps(B, 8, 1)
    td, md = tps(D, 8, 2)
    print(f"\ntokens/s, per-GPU batch 8: 1 rank {tb:,.0f} ({mb:.0f} ms/step), 2 ranks {td:,.0f} ({md:.0f} ms/step)"
          f" -> scaling {td / tb:.3f}x (target >= 1.85x)")
if A:
    ta, ma = tps(A, 16, 1)
    print(f"tokens/s, 1 rank batch 16: {ta:,.0f} ({ma:.0f} ms/step)")
EOF
}
summary
left() { [ $(( $(date +%s) - T_START )) -lt "${BUDGET:-420}" ]; }

# Extras. S: the split step in one process on A's data (checks the trainer-side optimizer against @train_step).
if left; then SPAK_SPLIT_STEP=1 run S /tmp/b16/train "${COMMON[@]}"; summary; fi
# Bit-identical weights across ranks: SPAK_SAVE_ALL_RANKS=1 makes every rank write <--save>.rank<r>.
if left; then
  SPAK_SAVE_ALL_RANKS=1 timeout "$TO" /tmp/b8/spak-run -n 2 -- /tmp/b8/train --data "$DATA" --steps "$STEPS" \
    --stop-after 2 --sample 0 --save "$OUT/W.weights" > "$OUT/W.txt" 2>&1
  echo "== weights of rank 0 and rank 1 after 2 data-parallel steps (exit $?):"
  if cmp "$OUT/W.weights.rank0" "$OUT/W.weights.rank1"; then echo "bit-identical"; else echo "DIFFERENT"; fi
fi
# N -> M: D's 2-rank checkpoint resumed by 1 rank of the b16 project (same global batch) for one more step.
if left && [ -f "$OUT/D.ckpt" ]; then
  timeout "$TO" /tmp/b16/train --data "$DATA" --steps "$STEPS" --stop-after $(( K + 1 )) --sample 0 \
    --resume "$OUT/D.ckpt" --log "$OUT/R.jsonl" > "$OUT/R.txt" 2>&1
  echo "== resume of D's 2-rank checkpoint with 1 rank (b16): exit $?"; grep -E "^step|note|error" "$OUT/R.txt"
fi
echo "== total $(( $(date +%s) - T_START )) s"
