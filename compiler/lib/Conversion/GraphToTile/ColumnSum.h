//===- ColumnSum.h - deterministic two-stage column reductions -*- C++ -*-===//
//
// Shared by reduce_sum over leading axes (bias gradients, GraphToTileData.cpp)
// and layernorm_grad's dw / db (GraphToTileBackward.cpp). The definitions live
// in GraphToTileData.cpp.
//
// Geometry (docs/dialects/tile.md, "Column reductions"), all from laws:
//   cols  = 32 * warps          columns per program: one column per thread, so
//                               a warp reads 32 contiguous floats per row;
//   step  = row_tile * vec_width rows per loop step: each thread keeps `step`
//                               independent loads in flight, accumulated
//                               element-wise into a [step x cols] register
//                               tile (no cross-thread work inside the loop);
//   chunk = step * colsum_steps rows per stage-1 program (colsum_steps loop
//                               steps);
//   sumCols = 32, sumStep = step * warps
//                               the final stage's tile: one warp wide, its
//                               rows spread over the warps.
// Stage 1: grid (ceildiv(K2, cols), ceildiv(R, chunk), K1); each program sums
// its chunk into the [step x cols] accumulator, reduces it over axis 0 once and
// stores partials[k1, j, c]. Stage 2: grid (ceildiv(K2, sumCols), 1, K1) over
// the partials (one chunk: all of them) in [sumStep x sumCols] tiles: few rows
// and few programs, so the rows, not the columns, fill the CTA. A static
// R <= chunk needs one stage only (the stage-2 shape over the rows). Fixed
// order everywhere, no atomics: bit-identical between runs.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_CONVERSION_GRAPHTOTILE_COLUMNSUM_H
#define SPAK_CONVERSION_GRAPHTOTILE_COLUMNSUM_H

#include "spak/Conversion/GraphToTile/Lowering.h"

namespace spak::tile {

struct ColumnSumPlan {
  int64_t cols = 0;  // columns per program (32 * warps, at most pow2 of the column count)
  int64_t step = 0;  // rows per loop step (row_tile * vec_width)
  int64_t chunk = 0; // rows per stage-1 program (step * colsum_steps)
  int64_t sumCols = 0; // columns per final-stage program (one warp, at most pow2 of the column count)
  int64_t sumStep = 0; // rows per final-stage loop step (step * warps)
  ConfigAttr config; // row_tile, vec_width, warps, colsum_steps with their provenance
};

/// The plan for summing the rows of a [*, K2] operand: laws from `rowConfig`
/// (row_tile, warps) and the module's vec_width and colsum_steps.
ColumnSumPlan planColumnSum(Lowering &L, ConfigAttr rowConfig, int64_t K2);

/// Rows per loop step when summing `rows` rows (the plan's step, at most the
/// next power of two of a static count).
int64_t columnSumStep(const ColumnSumPlan &plan, int64_t rows);

/// Rows per loop step of the final stage (or a one-stage sum) over `rows` rows (the plan's
/// sumStep, at most the next power of two of a static count).
int64_t columnSumFinalStep(const ColumnSumPlan &plan, int64_t rows);

/// True when a sum over `rows` rows needs the second stage (dynamic, or more
/// than one chunk).
bool columnSumTwoStage(const ColumnSumPlan &plan, int64_t rows);

/// Inside a kernel: sums terms over rows [lo, hi) in steps of `step` rows.
/// `terms(r0, mask)` returns `n` tiles [step x plan.cols] for rows r0.. (mask:
/// rows < hi and columns < the bound, null when `masked` is false; masked-off
/// lanes must contribute 0). Accumulated element-wise, then reduced over axis
/// 0 once: returns `n` tiles [1 x plan.cols].
llvm::SmallVector<mlir::Value>
emitColumnAccumulate(KernelBuilder &k, const ColumnSumPlan &plan, int64_t step, unsigned n,
                     mlir::Value lo, mlir::Value hi, mlir::Value c0, mlir::Value colBound,
                     bool masked,
                     llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value r0,
                                                                       mlir::Value mask)>
                         terms);

/// Sums Xs[i] [K1, R, K2] over R into Ys[i] [K1, P, K2] (all of one shape):
/// when `chunked`, program (c, j, k1) sums chunk j of plan.chunk rows into
/// Ys[i][k1, j, c] (P = ceildiv(R, chunk)); otherwise all rows into P = 1.
/// One kernel `base` for all pairs; returns nothing, launches it.
void emitColumnSumKernel(Lowering &L, llvm::StringRef base, llvm::StringRef math,
                         const ColumnSumPlan &plan, llvm::ArrayRef<mlir::Value> Xs,
                         llvm::ArrayRef<mlir::Value> Ys, bool chunked);

} // namespace spak::tile

#endif // SPAK_CONVERSION_GRAPHTOTILE_COLUMNSUM_H
