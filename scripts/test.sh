#!/usr/bin/env bash
# Runs every test: installs dependencies (idempotent), configures and builds spakc, then ctest runs the Catch2 units,
# the lit/FileCheck suite, the fuzz smoke run and the generated-trainer end-to-end tests.
# Usage: scripts/test.sh            (build dir: build/, override with SPAK_BUILD_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SPAK_BUILD_DIR:-build}
JOBS=${SPAK_JOBS:-$(nproc)}
scripts/install-deps.sh
if [[ ! -d ../shared ]]; then
  echo "error: ../shared (data sets and SPAK examples) must sit beside this checkout" >&2
  exit 1
fi
echo "== configure ($BUILD)"
cmake -G Ninja -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLLVM_USE_LINKER=mold >"$BUILD.configure.log" 2>&1 \
  || { cat "$BUILD.configure.log"; exit 1; }
echo "== build (-j$JOBS)"
cmake --build "$BUILD" -j "$JOBS"
echo "== test"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" "$@"
