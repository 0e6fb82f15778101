#!/usr/bin/env bash
# spakc tune on the H100 (issue 6), split so the GPU machine needs no spakc (docs/rules.md, "spakc tune"):
#   here:    bash bench/gpu/tune_h100.sh prepare
#            → gpu-carry/tune: plan.json, run-sweep.sh, reference-cpp/, variant-<n>/ (cuda projects), data/
#   device:  carry ["gpu-carry"], command "bash bench/gpu/tune_h100.sh run"
#            → builds + runs the sweep (budget BUDGET s, default 240), copies results.jsonl, the build/run logs and
#              nvidia-smi's view to $OUT
#   here:    bash bench/gpu/tune_h100.sh ingest FILES_AT/results.jsonl
#            → spakc tune --ingest: the sweep table (markdown), tune-results.csv/json, the winner written into
#              rules/targets/sm90_h100.dsl (law lines + a fact); review with `git diff rules/targets/sm90_h100.dsl`
# Env: SPAKC (default build/bin/spakc), MODEL (default examples/microgpt/microgpt.dsl), STEPS (per run, 100),
#      BUDGET (seconds, 240), REPEATS (3).
set -uo pipefail
cd "$(dirname "$0")/../.."
SPAKC=${SPAKC:-build/bin/spakc}
MODEL=${MODEL:-examples/microgpt/microgpt.dsl}
DIR=gpu-carry/tune
OUT=${OUT:-/tmp/out}
case ${1:-} in
  prepare)
    [ -x "$SPAKC" ] || { echo "tune_h100: $SPAKC not built (set SPAKC=...)" >&2; exit 1; }
    rm -rf "$DIR"
    SPAK_TUNE_STEPS=${STEPS:-100} "$SPAKC" tune "$MODEL" --target sm_90 --prepare -o "$DIR" --no-unused-warnings || exit 1
    du -sh "$DIR"
    echo "device: carry [\"gpu-carry\"], command \"bash bench/gpu/tune_h100.sh run\""
    ;;
  run)
    [ -x "$DIR/run-sweep.sh" ] || { echo "tune_h100: no $DIR/run-sweep.sh: run 'bash bench/gpu/tune_h100.sh prepare' here and carry gpu-carry" >&2; exit 1; }
    mkdir -p "$OUT"
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
    SPAK_TUNE_BUDGET_S=${BUDGET:-240} SPAK_TUNE_REPEATS=${REPEATS:-3} SPAK_TUNE_RESULTS="$OUT/results.jsonl" \
      bash "$DIR/run-sweep.sh" 2>&1 | tee "$OUT/run-sweep.txt"
    rc=${PIPESTATUS[0]}
    cp "$DIR/plan.json" "$OUT/"
    for p in "$DIR"/reference-cpp "$DIR"/variant-*; do
      n=$(basename "$p")
      mkdir -p "$OUT/logs/$n"
      cp "$p"/build.log "$p"/run-*.out "$OUT/logs/$n/" 2>/dev/null
      cp "$p"/run-1.jsonl "$OUT/logs/$n/" 2>/dev/null
    done
    exit "$rc"
    ;;
  ingest)
    RES=${2:-$DIR/results.jsonl}
    "$SPAKC" tune "$MODEL" --target sm_90 --ingest "$DIR" --results "$RES" --no-unused-warnings
    ;;
  *)
    echo "usage: bash bench/gpu/tune_h100.sh prepare | run | ingest [RESULTS]" >&2
    exit 2
    ;;
esac
