#!/usr/bin/env bash
# The main job, for a newcomer on a fresh Debian 12 machine:
#   install dependencies (idempotent) → build spakc → compile examples/microgpt/microgpt.dsl → build the generated
#   trainer → train MicroGPT on names.txt (1000 steps) → print losses and 20 sampled names.
# `spakc train` picks the cuda target when a GPU and nvcc are present, else the portable cpp target, and says which.
# Usage: scripts/main.sh [--target cpp|cuda] [-- TRAINER ARGS]   e.g. scripts/main.sh -- --steps 200 --sample 5
# Environment: SPAK_BUILD_DIR (default build), SPAK_JOBS (default nproc), SPAK_OUT (default out/microgpt).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SPAK_BUILD_DIR:-build}
JOBS=${SPAK_JOBS:-$(nproc)}
OUT=${SPAK_OUT:-out/microgpt}

scripts/install-deps.sh

# names.txt: ./data/ first, then ../shared/data/, else offer to download it from its public origin.
NAMES_URL=https://raw.githubusercontent.com/karpathy/makemore/master/names.txt
if [[ ! -f data/names/names.txt && ! -f ../shared/data/names/names.txt ]]; then
  echo "main: names.txt not found in data/names/ or ../shared/data/names/"
  answer=n
  if [[ -t 0 ]]; then
    read -r -p "main: download it from $NAMES_URL into data/names/? [y/N] " answer
  elif [[ "${SPAK_DOWNLOAD:-0}" == "1" ]]; then
    answer=y
  fi
  if [[ "$answer" =~ ^[yY] ]]; then
    mkdir -p data/names
    if command -v curl >/dev/null; then curl -fsSL "$NAMES_URL" -o data/names/names.txt.part
    elif command -v wget >/dev/null; then wget -q "$NAMES_URL" -O data/names/names.txt.part
    else echo "main: error: neither curl nor wget is installed (apt-get install curl)" >&2; exit 1; fi
    mv data/names/names.txt.part data/names/names.txt
  else
    echo "main: error: no training data. Put names.txt in data/names/ (from $NAMES_URL)," >&2
    echo "      or rerun with SPAK_DOWNLOAD=1 to download it." >&2
    exit 1
  fi
fi

echo "== configure + build spakc ($BUILD)"
if [[ ! -f "$BUILD/build.ninja" ]]; then
  cmake -G Ninja -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLLVM_USE_LINKER=mold >"$BUILD.configure.log" 2>&1 \
    || { cat "$BUILD.configure.log"; exit 1; }
fi
cmake --build "$BUILD" -j "$JOBS" --target spakc

echo "== spakc train examples/microgpt/microgpt.dsl"
spakc_args=()
trainer_args=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == "--" ]]; then shift; trainer_args=("$@"); break; fi
  spakc_args+=("$1"); shift
done
exec "$BUILD/bin/spakc" train examples/microgpt/microgpt.dsl -o "$OUT" --no-unused-warnings \
  ${spakc_args[@]+"${spakc_args[@]}"} -- ${trainer_args[@]+"${trainer_args[@]}"}
