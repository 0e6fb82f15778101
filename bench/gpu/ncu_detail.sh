#!/usr/bin/env bash
# Why a kernel is slow: ncu's throughput, warp-stall, occupancy, memory and scheduler sections for chosen kernels of a
# trainer that bench/gpu/ab_prebuilt.sh prepared (gpu-carry/ab). Clocks untouched (--clock-control none).
#
#   device: carry ["gpu-carry/ab"], command
#           "NAME=sc KERNELS='fused_linear_gelu_bf16_0|attention_bf16_0' OUT=$OUT bash bench/gpu/ncu_detail.sh"
#   → $OUT/ncu-detail-NAME.txt (the full report) and a digest on stdout: per kernel, duration, SM / memory / L2
#     throughput, achieved occupancy, registers, shared memory, and the top warp-stall reasons.
# Env: NAME (trainer of gpu-carry/ab/plan.txt), KERNELS (regex over kernel function names), COUNT (launches profiled,
# default 8), STEPS (eager steps run, default 1).
set -uo pipefail
cd "$(dirname "$0")/../.."
AB=gpu-carry/ab
: "${NAME:?NAME=trainer}" "${KERNELS:?KERNELS=regex}"
OUT=${OUT:-/tmp/ncu-detail}
mkdir -p "$OUT"
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null || true)
[ -n "$NCU" ] || { echo "ncu_detail: no ncu on this machine" >&2; exit 1; }
BIN=${AB_BIN:-/tmp/ab-bin}
mkdir -p "$BIN"
[ -x "$BIN/$NAME" ] || { gzip -dc "$AB/bin/$NAME.gz" > "$BIN/$NAME" && chmod +x "$BIN/$NAME"; } ||
  { echo "ncu_detail: no trainer $NAME in $AB" >&2; exit 1; }
data=$(grep "^$NAME " "$AB/plan.txt" | awk '{print $4}')
[ -n "$data" ] || { echo "ncu_detail: $NAME is not in $AB/plan.txt" >&2; exit 1; }
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
report="$OUT/ncu-detail-$NAME.txt"
timeout 400 "$NCU" --clock-control none --kernel-name "regex:$KERNELS" --launch-count "${COUNT:-8}" \
  --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats \
  --section MemoryWorkloadAnalysis --section SchedulerStats --section ComputeWorkloadAnalysis \
  --metrics "$(printf 'smsp__average_warps_issue_stalled_%s_per_issue_active.ratio,' barrier long_scoreboard wait \
      math_pipe_throttle short_scoreboard mio_throttle lg_throttle not_selected selected dispatch_stall no_instruction \
      membar sleeping drain imc_miss branch_resolving tex_throttle misc | sed 's/,$//')" \
  "$BIN/$NAME" --data "$AB/$data" --steps 5000 --stop-after "${STEPS:-1}" --sample 0 --no-cuda-graph \
  > "$report" 2> "$OUT/ncu-detail-$NAME.err"
rc=$?
# Digest: the first launch of each kernel, the lines that say what bounds it (stall ratios: warps stalled for that
# reason per issued instruction).
python3 - "$report" <<'PY'
import re, sys
keep = re.compile(r"issue_stalled|Duration|Compute \(SM\) Throughput|Memory Throughput|L1/TEX Cache Throughput|"
                  r"L2 Cache Throughput|DRAM Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per Thread|"
                  r"Dynamic Shared Memory Per Block|Block Limit (Registers|Shared Mem)|Issued Warp Per Scheduler|"
                  r"No Eligible|Warp Cycles Per Issued Instruction|Executed Ipc Active")
seen, cur, out = set(), None, []
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"^  (\S.*?)\(.*Context \d+, Stream \d+, Device \d+", line)
    if m:
        name = m.group(1).split("::")[-1].strip()
        cur = None if name in seen else name
        if cur:
            seen.add(cur)
            out.append("== " + cur)
        continue
    if cur and keep.search(line):
        parts = line.split()
        out.append("   " + " ".join(parts))
print("\n".join(out))
PY
exit $rc
