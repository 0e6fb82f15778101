#!/usr/bin/env bash
# MicroGPT cuda train-step speed + per-kernel profile, for docs/perf-microgpt.md.
#
# Two halves, one script:
#   here (no GPU):   bench/gpu/microgpt_profile.sh prepare NAME [SPAKC]
#                    writes .perf/NAME (the generated MicroGPT project, cuda target) with SPAKC
#                    (default build-perf/bin/spakc), plus .perf/data/names.txt and .perf/torch_gpt_bench.py.
#                    .perf/ must be git-ignored (.git/info/exclude) and named in the device tool's `carry`.
#   device machine:  bash bench/gpu/microgpt_profile.sh run NAME [NAME...]
#                    for each NAME: build, 3 x `train --stop-after 300 --sample 0` with CUDA graphs (median µs/step
#                    from the per-step "ms" of --log, first 40 steps dropped: eager + capture of each T), 1 x the same
#                    with --no-cuda-graph, then a per-kernel profile of an eager window (nsys if installed, else ncu
#                    with --clock-control none: clocks are never touched). Then the PyTorch anchor's microgpt rows.
#                    Logs and tables go to $OUT; a summary table is printed last. GRAPH_RUNS=0 (profile only) and
#                    TORCH=0 (no anchor) shorten a call.
set -uo pipefail
P=${PERF_DIR:-.perf}
mode=${1:-}
shift || true

if [ "$mode" = prepare ]; then
  set -e
  name=${1:?usage: prepare NAME [SPAKC]}
  spakc=${2:-build-perf/bin/spakc}
  rm -rf "$P/$name" && mkdir -p "$P/data"
  "$spakc" compile examples/microgpt/microgpt.dsl -o "$P/$name" --target cuda -q --no-unused-warnings
  "$spakc" compile examples/microgpt/microgpt.dsl --emit=tile >"$P/$name/tile.mlir" 2>/dev/null
  awk '/func.func @train_step/{f=1} f&&/spak_tile.launch/{n++} f&&/^  }/{f=0} END{print n}' "$P/$name/tile.mlir" \
    >"$P/$name/launches.txt"
  echo "$name: $(cat "$P/$name/launches.txt") launches per @train_step"
  cp ../shared/data/names/names.txt "$P/data/"
  cp ../shared/anchors/torch_gpt_bench.py "$P/"
  du -sh "$P"
  exit 0
fi

[ "$mode" = run ] || { echo "usage: $0 prepare NAME [SPAKC] | run NAME [NAME...]" >&2; exit 2; }
OUT=${OUT:-/tmp/perf-out}
mkdir -p "$OUT"
J=$(nproc)
DATA="$P/data/names.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
date -u +%FT%TZ | tee -a "$OUT/gpu.txt"

median_us() {  # median of the per-step ms in a --log file, steps > 40
  python3 - "$1" <<'EOF'
import json, statistics, sys
ms = [json.loads(l)["ms"] for l in open(sys.argv[1]) if l.strip()]
print(f"{statistics.median(ms[40:]) * 1000:.1f}")
EOF
}

NSYS=$(command -v nsys || true)
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null || true)
summary=()
for name in "$@"; do
  echo "== $name: build"
  cmake -S "$P/$name" -B "/tmp/b-$name" -DCMAKE_BUILD_TYPE=Release -DSPAK_TARGET=cuda >"$OUT/cfg-$name.log" 2>&1 ||
    { cat "$OUT/cfg-$name.log"; exit 1; }
  cmake --build "/tmp/b-$name" -j "$J" >"$OUT/build-$name.log" 2>&1 || { tail -40 "$OUT/build-$name.log"; exit 1; }
  T=/tmp/b-$name/train
  echo "== $name: speed"
  g=()
  for i in $(seq 1 "${GRAPH_RUNS:-3}"); do
    $T --data "$DATA" --stop-after 300 --sample 0 --log "/tmp/$name-g$i.jsonl" | grep summary | tee -a "$OUT/speed-$name.txt"
    g+=("$(median_us "/tmp/$name-g$i.jsonl")")
  done
  e=-
  if [ "${GRAPH_RUNS:-3}" != 0 ]; then
    $T --data "$DATA" --stop-after 300 --sample 0 --no-cuda-graph --log "/tmp/$name-e.jsonl" | grep summary |
      tee -a "$OUT/speed-$name.txt"
    e=$(median_us "/tmp/$name-e.jsonl")
  fi
  echo "graph us/step: ${g[*]} | eager us/step: $e" | tee -a "$OUT/speed-$name.txt"
  echo "== $name: kernel profile"
  prof="$OUT/kernels-$name.txt"
  if [ -n "$NSYS" ]; then
    "$NSYS" profile -o "/tmp/nsys-$name" --force-overwrite true $T --data "$DATA" --stop-after 120 --sample 0 \
      --no-cuda-graph >/dev/null 2>&1
    "$NSYS" stats --report cuda_gpu_kern_sum --format csv "/tmp/nsys-$name.nsys-rep" >"/tmp/prof-$name.csv" 2>/dev/null
    kind=nsys
  else
    # eager steps 61..80 of the run (launch window = 20 steps' worth, counted after the fact by the adam launches)
    L=$(cat "$P/$name/launches.txt" 2>/dev/null || echo 45)
    "$NCU" --clock-control none --metrics gpu__time_duration.sum --csv --print-units base \
      --launch-skip $((L * 60)) --launch-count $((L * 20)) \
      $T --data "$DATA" --stop-after 100 --sample 0 --no-cuda-graph >"/tmp/prof-$name.csv" 2>"/tmp/ncu-$name.err"
    kind=ncu
  fi
  python3 - "/tmp/prof-$name.csv" "$kind" >"$prof" <<'EOF'
import csv, re, sys, collections
path, kind = sys.argv[1], sys.argv[2]
lines = [l for l in open(path) if l.startswith('"')]
rows = list(csv.DictReader(lines))
tot, cnt = collections.defaultdict(float), collections.Counter()
for r in rows:
    if kind == "nsys":
        name = r["Name"]; tot[name] += float(r["Total Time (ns)"].replace(",", "")) / 1e3; cnt[name] += int(r["Instances"])
    else:
        if r.get("Metric Name") != "gpu__time_duration.sum": continue
        name = r["Kernel Name"]; tot[name] += float(r["Metric Value"].replace(",", "")) / 1e3; cnt[name] += 1
def short(n): return re.sub(r"^void ", "", n.split("(")[0])
steps = max((c for n, c in cnt.items() if "multi_tensor_adam" in n), default=1)
print(f"profile: {kind}, {steps} steps, {sum(cnt.values())} kernels, {sum(cnt.values())/steps:.1f} kernels/step, "
      f"{sum(tot.values())/steps:.1f} us/step of kernel time")
print(f"| kernel | per step | us/step total | us each |")
print(f"|---|---|---|---|")
for n in sorted(tot, key=lambda n: -tot[n]):
    print(f"| {short(n)} | {cnt[n]/steps:.0f} | {tot[n]/steps:.2f} | {tot[n]/cnt[n]:.2f} |")
EOF
  cp "/tmp/prof-$name.csv" "$OUT/prof-$name.csv"
  cat "$prof"
  summary+=("| $name | $(cat "$P/$name/launches.txt" 2>/dev/null) | ${g[*]} | $e | $(head -1 "$prof" | sed 's/.*kernels, //') |")
done
echo "== torch anchor"
[ "${TORCH:-1}" = 0 ] || python3 "$P/torch_gpt_bench.py" microgpt 2>&1 | tee "$OUT/torch_microgpt.jsonl"
echo "== summary (median us/step over steps 41..300; graph x3, eager x1)"
echo "| project | launches/step | graph us/step | eager us/step | kernel time |"
echo "|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
