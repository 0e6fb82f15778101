#!/usr/bin/env bash
# A/B of generated trainers built HERE (spakc + the local nvcc), so the GPU machine only runs them: device time goes
# to measurements, not to builds (a gpt2-124M cuda project takes ~3 min to build there, ~2 min here with -j2).
#
#   here:    bash bench/gpu/ab_prebuilt.sh prepare NAME=MODEL.dsl[@law=v,law=v] ...
#              e.g. sc-s2=examples/nanogpt/shakespeare_char.dsl sc-s3=examples/nanogpt/shakespeare_char.dsl@mma_schedule=3
#            → gpu-carry/ab/bin/NAME.gz (the trainer, gzipped: the carry is limited to 64 MiB), gpu-carry/ab/data/ (tiny shakespeare text + GPT-2 tokens),
#              gpu-carry/ab/plan.txt (name, model, laws, data file, spakc commit). TARGET=cpp builds cpp trainers
#              instead (to try the script without a GPU).
#   device:  carry ["gpu-carry/ab"], command "OUT=$OUT bash bench/gpu/ab_prebuilt.sh run"
#            → ROUNDS (2) rounds over all trainers in turn (A B A B: drift of the card shows as a round-to-round
#              difference), STEPS (60) steps each with CUDA graphs; prints each run's summary line and a table of
#              median ms/step per trainer (steps 11.. of every run); logs under $OUT. Then the PyTorch anchor
#              (../shared/anchors/torch_gpt_bench.py, copied by prepare) on ANCHOR_CONFIGS (shakespeare-char gpt2-124M)
#              in the same call, so the table has its reference beside it (ANCHOR=0 skips it).
# The data file follows the model: token models (gpt2_*) read data/gpt2_train.bin (+ gpt2_val.bin beside it),
# MicroGPT data/names.txt, other char models data/input.txt. Env: SPAKC (build/bin/spakc), JOBS (2), STEPS, ROUNDS, TIMEOUT (120 s a run), ONLY (run just these trainers);
# APPEND=1 with prepare adds trainers to an existing gpu-carry/ab (its plan records the spakc commit of each batch);
# RULES=DIR compiles the batch with --rules-dir DIR (e.g. a copy of rules/ with a rule disabled; the plan records it).
set -uo pipefail
cd "$(dirname "$0")/../.."
AB=gpu-carry/ab
case ${1:-} in
  prepare)
    shift
    [ $# -ge 1 ] || { echo "usage: $0 prepare NAME=MODEL.dsl[@law=v,...] ..." >&2; exit 2; }
    set -e
    SPAKC=${SPAKC:-build/bin/spakc}
    [ -x "$SPAKC" ] || { echo "ab_prebuilt: $SPAKC not built (set SPAKC=...)" >&2; exit 1; }
    TARGET=${TARGET:-cuda}
    if [ "$TARGET" = cuda ] && ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
      echo "ab_prebuilt: no nvcc here (TARGET=cpp builds cpp trainers instead)" >&2; exit 1
    fi
    export PATH=$PATH:/usr/local/cuda/bin
    for spec in "$@"; do  # every spec checked before anything is removed or built
      name=${spec%%=*}; rest=${spec#*=}; model=${rest%%@*}
      case $name in ''|*/*|*' '*|"$spec") echo "ab_prebuilt: bad spec '$spec' (NAME=MODEL.dsl[@law=v,...])" >&2; exit 2;; esac
      [ -f "$model" ] || { echo "ab_prebuilt: no model file '$model' (in '$spec')" >&2; exit 2; }
    done
    if [ "${APPEND:-0}" = 1 ] && [ -f "$AB/plan.txt" ]; then  # more trainers for the same call
      for spec in "$@"; do
        grep -q "^${spec%%=*} " "$AB/plan.txt" && { echo "ab_prebuilt: '${spec%%=*}' is already in $AB/plan.txt" >&2; exit 2; }
      done
      mkdir -p "$AB/src"
      echo "# appended (spakc $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty'), $TARGET)" >> "$AB/plan.txt"
    else
      rm -rf "$AB" && mkdir -p "$AB/bin" "$AB/data" "$AB/src"
      cp ../shared/data/tinyshakespeare/{input.txt,gpt2_train.bin,gpt2_val.bin} ../shared/data/names/names.txt "$AB/data/"
      cp ../shared/anchors/torch_gpt_bench.py "$AB/"
      echo "# name model laws data (spakc $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty'), $TARGET)" > "$AB/plan.txt"
    fi
    for spec in "$@"; do
      name=${spec%%=*}; rest=${spec#*=}; model=${rest%%@*}; laws=""
      [ "$rest" != "$model" ] && laws=${rest#*@}
      args=()
      IFS=, read -ra kv <<< "$laws"
      for l in "${kv[@]}"; do [ -n "$l" ] && args+=(--law "$l"); done
      [ -n "${RULES:-}" ] && args+=(--rules-dir "$RULES") && laws="${laws:+$laws,}rules-dir=$RULES"
      data=data/input.txt
      case $(basename "$model") in gpt2*) data=data/gpt2_train.bin;; microgpt*) data=data/names.txt;; esac
      echo "== $name: $model ${laws:-(the rules as committed)}"
      "$SPAKC" compile "$model" -o "$AB/src/$name" --target "$TARGET" -q --no-unused-warnings "${args[@]}"
      nccl=(); [ "$TARGET" = cuda ] && nccl=(-DSPAK_NCCL=OFF)
      cmake -S "$AB/src/$name" -B "/tmp/ab-build-$name" -DCMAKE_BUILD_TYPE=Release "${nccl[@]}" \
        > "/tmp/ab-cfg-$name.log" 2>&1 || { tail -30 "/tmp/ab-cfg-$name.log"; exit 1; }
      cmake --build "/tmp/ab-build-$name" -j "${JOBS:-2}" > "/tmp/ab-build-$name.log" 2>&1 ||
        { tail -30 "/tmp/ab-build-$name.log"; exit 1; }
      gzip -9 -c "/tmp/ab-build-$name/train" > "$AB/bin/$name.gz"  # mostly device code: 13 MB -> 2 MB of the carry
      echo "$name $model ${laws:--} $data" >> "$AB/plan.txt"
    done
    rm -rf "$AB/src"
    du -sh "$AB"
    echo "device: carry [\"gpu-carry/ab\"], command \"OUT=\$OUT bash bench/gpu/ab_prebuilt.sh run\""
    ;;
  run)
    [ -f "$AB/plan.txt" ] || { echo "ab_prebuilt: no $AB/plan.txt: run 'prepare' here and carry gpu-carry/ab" >&2; exit 1; }
    OUT=${OUT:-/tmp/ab-out}
    mkdir -p "$OUT"
    export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}
    BIN=${AB_BIN:-/tmp/ab-bin}
    mkdir -p "$BIN"
    for z in "$AB"/bin/*.gz; do
      [ -e "$z" ] || continue
      n=$(basename "$z" .gz); gzip -dc "$z" > "$BIN/$n" && chmod +x "$BIN/$n"
    done
    for b in "$AB"/bin/*; do case $b in *.gz) ;; *) [ -f "$b" ] && cp "$b" "$BIN/";; esac; done  # uncompressed (older prepares)
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null || echo "(no nvidia-smi)"
    date -u +%FT%TZ
    head -1 "$AB/plan.txt"
    for r in $(seq 1 "${ROUNDS:-2}"); do
      grep -v '^#' "$AB/plan.txt" | while read -r name model laws data; do
        [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $name "* ]] || continue  # ONLY="a b": just those trainers
        timeout "${TIMEOUT:-120}" "$BIN/$name" --data "$AB/$data" --steps 5000 --stop-after "${STEPS:-60}" --sample 0 \
          --log "$OUT/$name-$r.jsonl" > "$OUT/$name-$r.txt" 2>&1
        echo "$name round $r (exit $?): $(grep -h summary "$OUT/$name-$r.txt")"
      done
    done
    python3 - "$OUT" "$AB/plan.txt" <<'PY'
import glob, json, os, re, statistics, sys
out, plan = sys.argv[1], sys.argv[2]
print("\n| trainer | model | laws | median ms/step (steps 11..) per round | loss at the last step |")
print("|---|---|---|---|---|")
for line in open(plan):
    if line.startswith("#") or not line.strip():
        continue
    name, model, laws, _ = line.split()
    meds, last = [], ""
    runs = [p for p in glob.glob(os.path.join(out, f"{name}-*.jsonl"))
            if re.fullmatch(re.escape(name) + r"-[0-9]+\.jsonl", os.path.basename(p))]  # not sc-st2-1 for sc
    for p in sorted(runs, key=lambda p: int(re.search(r"-([0-9]+)\.jsonl$", p).group(1))):
        rows = [json.loads(l) for l in open(p) if l.strip()]
        ms = [r["ms"] for r in rows if "ms" in r and "loss" in r]
        steps = [r for r in rows if "loss" in r]
        if ms:
            meds.append(f"{statistics.median(ms[10:] or ms):.2f}")
        if steps:
            last = f"{steps[-1]['loss']:.4f} (step {steps[-1]['step']})"
    print(f"| {name} | {os.path.basename(model)} | {laws} | {' / '.join(meds) or 'no log'} | {last} |")
PY
    rc=0
    # PROFILE="NAME ...": per-kernel GPU time of those trainers (ncu, clocks untouched, PROFILE_STEPS (2) eager steps)
    NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null || true)
    for name in ${PROFILE:-}; do
      [ -n "$NCU" ] || { echo "ab_prebuilt: PROFILE=$PROFILE but no ncu on this machine" >&2; rc=1; break; }
      data=$(grep "^$name " "$AB/plan.txt" | awk '{print $4}')
      [ -n "$data" ] || { echo "ab_prebuilt: PROFILE: no trainer '$name'" >&2; rc=1; continue; }
      echo; echo "== ncu: $name, ${PROFILE_STEPS:-2} eager steps"
      timeout 300 "$NCU" --clock-control none --metrics gpu__time_duration.sum --csv --print-units base "$BIN/$name" \
        --data "$AB/$data" --steps 5000 --stop-after "${PROFILE_STEPS:-2}" --sample 0 --no-cuda-graph \
        > "/tmp/prof-$name.csv" 2> "$OUT/ncu-$name.err"
      python3 bench/gpu/ncu_table.py "/tmp/prof-$name.csv" "${PROFILE_STEPS:-2}" 30 > "$OUT/kernels-$name.txt"
      head -34 "$OUT/kernels-$name.txt"
    done
    if [ "${ANCHOR:-1}" != 0 ]; then
      echo; echo "== PyTorch anchor (same call): ${ANCHOR_CONFIGS:-shakespeare-char gpt2-124M}"
      # shellcheck disable=SC2086
      timeout "${ANCHOR_TIMEOUT:-240}" python3 "$AB/torch_gpt_bench.py" ${ANCHOR_CONFIGS:-shakespeare-char gpt2-124M} 2>&1 |
        tee "$OUT/torch.jsonl" | tail -12
    fi
    # one archive: the device tool brings back a limited number of files
    (cd "$OUT" && tar czf logs.tgz --remove-files -- *.jsonl *.txt *.err 2>/dev/null; ls -la "$OUT")
    exit "$rc"
    ;;
  *)
    echo "usage: bash bench/gpu/ab_prebuilt.sh prepare NAME=MODEL.dsl[@law=v,...] ... | run" >&2
    exit 2
    ;;
esac
