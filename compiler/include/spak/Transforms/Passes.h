//===- Passes.h - the spakc pass library ------------------------*- C++ -*-===//
//
// Pass declarations generated from Passes.td: create<Pass>(), <Pass>Options,
// and registerSpakPasses() for tools (spak-opt, spakc).
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_TRANSFORMS_PASSES_H
#define SPAK_TRANSFORMS_PASSES_H

#include "spak/Dialect/Graph/Graph.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace spak {

#define GEN_PASS_DECL
#include "spak/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "spak/Transforms/Passes.h.inc"

} // namespace spak

#endif // SPAK_TRANSFORMS_PASSES_H
