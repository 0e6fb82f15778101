//===- Passes.h - graph → tile conversion and tile registration -*- C++ -*-===//
//
// For tools (spak-opt, spakc):
//   spak::tile::registerTileDialect(registry);   // spak/Dialect/Tile/IR/Tile.h
//   spak::tile::registerTilePasses();            // this header, lib SpakGraphToTile
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_CONVERSION_PASSES_H
#define SPAK_CONVERSION_PASSES_H

#include "spak/Dialect/Tile/IR/Tile.h"
#include "spak/Dialect/Tile/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace spak {

#define GEN_PASS_DECL
#include "spak/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "spak/Conversion/Passes.h.inc"

namespace tile {
/// Registers every tile pass: spak-apply-laws, spak-stability-floor,
/// spak-pow2-masking, spak-lower-graph-to-tile, and the pipeline
/// spak-graph-to-tile (the four in order).
void registerTilePasses();
/// Adds the four passes, in order, to `pm` (what spakc runs).
void buildGraphToTilePipeline(mlir::OpPassManager &pm);
} // namespace tile

} // namespace spak

#endif // SPAK_CONVERSION_PASSES_H
