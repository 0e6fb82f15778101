//===- HostViews.h - host-function buffer helpers of the bf16 passes -*- C++ -*-===//
//
// Shared by spak-bf16-operands (which makes the cast launches) and
// spak-bf16-producers (which folds them into their producers).
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_LIB_DIALECT_TILE_TRANSFORMS_HOSTVIEWS_H
#define SPAK_LIB_DIALECT_TILE_TRANSFORMS_HOSTVIEWS_H

#include "spak/Dialect/Tile/IR/Tile.h"

#include <algorithm>

namespace spak::tile {

/// The flat cast kernel spak-bf16-operands makes: `@cast_bf16(src: 1x?xf32, dst: 1x?xbf16)`.
inline constexpr llvm::StringLiteral kCastKernel = "cast_bf16";

/// The buffer a (chain of) `spak_tile.view`(s) starts from; with `chain`, also the views on the way, the one
/// nearest the root first.
inline mlir::Value rootOf(mlir::Value v, llvm::SmallVectorImpl<ViewOp> *chain = nullptr) {
  size_t first = chain ? chain->size() : 0;
  while (auto view = v.getDefiningOp<ViewOp>()) {
    if (chain)
      chain->push_back(view);
    v = view.getSource();
  }
  if (chain)
    std::reverse(chain->begin() + first, chain->end());
  return v;
}

} // namespace spak::tile

#endif // SPAK_LIB_DIALECT_TILE_TRANSFORMS_HOSTVIEWS_H
