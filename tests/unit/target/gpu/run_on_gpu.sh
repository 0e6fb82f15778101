#!/bin/sh
# Builds and runs cuda_kernels_check.cu for the three test modules on a GPU machine. Usage (from the repo root):
#   tests/unit/target/gpu/run_on_gpu.sh            # expects gen/*.cu, emitted beforehand by:
#   for m in matmul rows embed; do build-emit/bin/spak-translate --emit-cuda tests/lit/target/Inputs/$m.mlir \
#       > tests/unit/target/gpu/gen/$m.cu; done
# With the device tool, carry the ignored gen/ folder: carry = ["tests/unit/target/gpu/gen"].
set -e
cd "$(dirname "$0")"
NVCC=${NVCC:-nvcc}
ARCH=${ARCH:-"-gencode arch=compute_90a,code=sm_90a"}
status=0
for case in 1 2 3; do
  $NVCC -std=c++17 -O3 $ARCH -DSPAK_CASE=$case -o /tmp/spak_cuda_check_$case cuda_kernels_check.cu
  /tmp/spak_cuda_check_$case || status=1
done
exit $status
