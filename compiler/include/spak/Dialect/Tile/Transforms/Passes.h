//===- Passes.h - tile planning passes and the tile registration -*- C++ -*-===//
//
// Tools: call spak::tile::registerTileDialect(registry) (Tile.h) and
// spak::tile::registerTilePasses() (spak/Conversion/Passes.h, library
// SpakGraphToTile), which registers these planning passes, the graph-to-tile
// conversion and the spak-graph-to-tile pipeline.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_DIALECT_TILE_TRANSFORMS_PASSES_H
#define SPAK_DIALECT_TILE_TRANSFORMS_PASSES_H

#include "spak/Dialect/Tile/IR/Tile.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace spak::tile {

#define GEN_PASS_DECL
#include "spak/Dialect/Tile/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "spak/Dialect/Tile/Transforms/Passes.h.inc"

} // namespace spak::tile

#endif // SPAK_DIALECT_TILE_TRANSFORMS_PASSES_H
