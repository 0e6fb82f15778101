//===- spak-opt.cpp - the spakc optimizer driver --------------------------===//
//
// mlir-opt for spakc: parses .mlir with the spak_graph (and, when built, the
// spak_tile) dialect plus func/arith/tensor/scf, runs any registered pass
// (spak-shape-inference, spak-autodiff, spak-optimizer-step, the tile
// passes, and MLIR's core passes such as canonicalize/cse), and prints the
// result. --mlir-print-ir-after-all, --mlir-timing, --split-input-file and
// --verify-diagnostics come from MlirOptMain.
//
//===----------------------------------------------------------------------===//
#include "spak/Dialect/Graph/Graph.h"
#include "spak/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

#ifdef SPAK_HAVE_TILE_DIALECT
#include "spak/Dialect/Tile/IR/Tile.h"
#endif
#ifdef SPAK_HAVE_TILE_PASSES
#include "spak/Conversion/Passes.h"
#endif

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::func::FuncDialect, mlir::arith::ArithDialect, mlir::tensor::TensorDialect,
                  mlir::scf::SCFDialect>();
  spak::graph::registerGraphDialect(registry);
#ifdef SPAK_HAVE_TILE_DIALECT
  spak::tile::registerTileDialect(registry);
#endif

  mlir::registerTransformsPasses(); // canonicalize, cse, inline, symbol-dce, ...
  spak::registerSpakPasses();
#ifdef SPAK_HAVE_TILE_PASSES
  spak::tile::registerTilePasses();
#endif

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "spakc optimizer driver (spak_graph / spak_tile)\n", registry));
}
