#!/usr/bin/env bash
# Installs everything spakc needs on a fresh Debian 12 (bookworm) machine. Idempotent: when every package is
# already installed it only checks (about a second) and installs nothing.
set -euo pipefail
PKGS=(libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools antlr4 libantlr4-runtime-dev libfmt-dev catch2
      mold ninja-build cmake g++ make python3 python3-numpy
      python3-torch gnuplot-nox)   # the NanoGPT parity tests' PyTorch reference; loss-curve plots
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PKGS[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
