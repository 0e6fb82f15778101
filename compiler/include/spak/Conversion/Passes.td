//===- Passes.td - conversion passes (graph → tile) ------------------------===//
#ifndef SPAK_CONVERSION_PASSES
#define SPAK_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def LowerGraphToTile : Pass<"spak-lower-graph-to-tile", "::mlir::ModuleOp"> {
  let summary = "Lower spak_graph ops to spak_tile kernels and host launches";
  let description = [{
    Every graph op becomes one `spak_tile.kernel` (a tile program shaped by
    the op's `spak.tile_config`, `spak.extents` and `spak.floor`) plus, in the
    host function, `spak_tile.alloc` of its result buffer and one
    `spak_tile.launch`. Function arguments and results of tensor type become
    `!spak_tile.buffer`s, so the step function is a straight sequence of
    launches over buffers. Run spak-apply-laws, spak-stability-floor and
    spak-pow2-masking first (the spak-graph-to-tile pipeline does). An op with
    no tile lowering is an error naming it.
  }];
  let dependentDialects = ["::spak::tile::TileDialect", "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect", "::mlir::func::FuncDialect"];
}

#endif // SPAK_CONVERSION_PASSES
