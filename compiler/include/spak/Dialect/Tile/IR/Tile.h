//===- Tile.h - the spak_tile dialect: types, attributes, ops ---*- C++ -*-===//
//
// Include this header to use the tile dialect. Registration for tools:
//   spak::tile::registerTileDialect(registry)   (spak-opt, spakc)
// and spak::tile::registerTilePasses() from spak/Dialect/Tile/Transforms/Passes.h.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_DIALECT_TILE_IR_TILE_H
#define SPAK_DIALECT_TILE_IR_TILE_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "spak/Dialect/Tile/IR/TileEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "spak/Dialect/Tile/IR/TileAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "spak/Dialect/Tile/IR/TileTypes.h.inc"

#include "spak/Dialect/Tile/IR/TileDialect.h.inc"

#define GET_OP_CLASSES
#include "spak/Dialect/Tile/IR/TileOps.h.inc"

namespace mlir {
class DialectRegistry;
}

namespace spak::tile {
/// Registers the tile dialect (and the arith/scf dialects its kernels use).
/// spak-opt and spakc call this; a new tool needs it too.
void registerTileDialect(mlir::DialectRegistry &registry);
} // namespace spak::tile

#endif // SPAK_DIALECT_TILE_IR_TILE_H
