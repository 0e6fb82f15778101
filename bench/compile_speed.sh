#!/usr/bin/env bash
# bench/compile_speed.sh — how fast spakc is (goals: a full GPT-2 124M project ≤ 2 s, regeneration after one law
# edit ≤ 1 s, on the 2-core dev machine).
#
#   bench/compile_speed.sh [SPAKC] [--write]        extra spakc flags: SPAKC_ARGS="--no-dedup" bench/...
#
# Measures (best of 3 each, wall clock):
#   1. spakc compile examples/nanogpt/gpt2_124m.dsl -o DIR          (fresh project, both targets)
#   2. the same after editing `law tile_m` in a copy of rules/      (regeneration: only tile_m's kernel families
#                                                                    are rewritten)
#   3. the same with nothing changed                                 (idempotent: nothing written)
# Prints the numbers; with --write, appends a "Compiler speed" section (date, machine) to docs/benchmarks.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPAKC="${ROOT}/build/bin/spakc"
WRITE=0
for a in "$@"; do
  case "$a" in
    --write) WRITE=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) SPAKC="$a" ;;
  esac
done
[[ -x "$SPAKC" ]] || { echo "error: spakc not found at '$SPAKC' (pass its path)" >&2; exit 1; }
MODEL="examples/nanogpt/gpt2_124m.dsl"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "${ROOT}/rules" "$WORK/rules"
cd "$ROOT"

now() { date +%s.%N; }
# best of 3 of a command; prints seconds with 3 decimals
best() {
  local b="" d s e
  for _ in 1 2 3; do
    s=$(now)
    "$@" >/dev/null 2>&1 || { echo "error: failed: $*" >&2; exit 1; }
    e=$(now)
    d=$(echo "$e - $s" | bc -l)
    if [[ -z "$b" ]] || (( $(echo "$d < $b" | bc -l) )); then b=$d; fi
  done
  printf '%.3f' "$b"
}

read -r -a EXTRA <<< "${SPAKC_ARGS:-}"
compile() { "$SPAKC" compile "$MODEL" -o "$1" -q --no-unused-warnings --rules-dir "$WORK/rules" "${EXTRA[@]}"; }
fresh() { rm -rf "$WORK/fresh"; compile "$WORK/fresh"; }

T_FRESH=$(best fresh)

# Regeneration: alternate tile_m between two values so every timed run is a real one-law edit.
compile "$WORK/p"
TARGET="$WORK/rules/targets/sm90_h100.dsl"
toggle() {
  if grep -q 'law tile_m = 64 ' "$TARGET"; then sed -i 's/law tile_m = 64 /law tile_m = 32 /' "$TARGET"
  else sed -i 's/law tile_m = 32 /law tile_m = 64 /' "$TARGET"; fi
  compile "$WORK/p"
}
T_REGEN=$(best toggle)
REPORT=$("$SPAKC" compile "$MODEL" -o "$WORK/p" --no-unused-warnings --rules-dir "$WORK/rules" "${EXTRA[@]}" 2>&1 | sed -n 1p)  # sed reads to the end: head would SIGPIPE spakc under pipefail
sed -i 's/law tile_m = 64 /law tile_m = 32 /; t; s/law tile_m = 32 /law tile_m = 64 /' "$TARGET"
REGEN_REPORT=$("$SPAKC" compile "$MODEL" -o "$WORK/p" --no-unused-warnings --rules-dir "$WORK/rules" "${EXTRA[@]}" 2>&1 | sed -n 1p)  # sed reads to the end: head would SIGPIPE spakc under pipefail
T_NOOP=$(best compile "$WORK/p")

KERNELS=$(grep -vc '^#' "$WORK/p/cpp/kernels.manifest" || true)
FILES=$(find "$WORK/p" -type f | wc -l)
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
DATE=$(date -u +%Y-%m-%d)
verdict() { (( $(echo "$1 <= $2" | bc -l) )) && echo "ok (goal ≤ $2 s)" || echo "OVER the goal of $2 s"; }

LABEL=""
[[ -n "${SPAKC_ARGS:-}" ]] && LABEL=" (spakc ${SPAKC_ARGS})"
echo "spakc compile speed${LABEL} — $MODEL ($KERNELS kernels, $FILES files, targets cpp+cuda)"
echo "  machine: $MACHINE; $DATE"
echo "  fresh project:               ${T_FRESH} s  $(verdict "$T_FRESH" 2)"
echo "  regenerate after a law edit: ${T_REGEN} s  $(verdict "$T_REGEN" 1)"
echo "      (${REGEN_REPORT#spakc: })"
echo "  recompile, nothing changed:  ${T_NOOP} s  (${REPORT#spakc: })"

if [[ $WRITE == 1 ]]; then
  DOC="${ROOT}/docs/benchmarks.md"
  [[ -f "$DOC" ]] || printf '# Benchmarks\n' > "$DOC"
  {
    printf '\n## Compiler speed%s\n\n' "$LABEL"
    printf 'Measured by `bench/compile_speed.sh --write` on %s (%s), best of 3, wall clock, `%s` (%s kernels,\n' \
      "$DATE" "$MACHINE" "$MODEL" "$KERNELS"
    printf '%s generated files, targets cpp+cuda).\n\n' "$FILES"
    printf '| step | seconds | goal |\n|---|---|---|\n'
    printf '| `spakc compile %s -o DIR%s` (fresh) | %s | ≤ 2 |\n' "$MODEL" "${SPAKC_ARGS:+ $SPAKC_ARGS}" "$T_FRESH"
    printf '| same after editing `law tile_m` (regeneration) | %s | ≤ 1 |\n' "$T_REGEN"
    printf '| same with nothing changed | %s | — |\n\n' "$T_NOOP"
    printf 'Regeneration report: `%s`.\n' "${REGEN_REPORT#spakc: }"
  } >> "$DOC"
  echo "appended to $DOC"
fi
