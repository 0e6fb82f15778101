//===- MLIRGen.h - the DSL's AST (after Sema) → the spak_graph dialect ----------------------------------*- C++ -*-===//
//
// MLIRGen turns a checked spak::dsl::Program into an MLIR module:
//
//   module attributes {spak.system = "MicroGPT", spak.model = "GPT", spak.config = {vocab = 27, ...},
//                      spak.target = {name = "sm_90", device = "...", arch = "sm_90a"},
//                      spak.laws = {tile_m = #spak_tile.law<"tile_m", 64, "rules/targets/sm90_h100.dsl:9:3">, ...},
//                      spak.stability_floor = #spak_tile.law<"stability_floor", -1.0e20, "...">,
//                      spak.rules = [#spak_graph.rule<...>, ...], spak.train = {optimizer = "adam", lr = 0.01, ...}} {
//     func.func @forward(%tokens: tensor<1x?xi32> {spak.input = "tokens"}, %targets: ... {spak.input = "targets"},
//                        %wte: tensor<27x16xf32> {spak.param = "wte", spak.init = {kind = "normal", a = 0.0, b = 0.08}},
//                        ...) -> (tensor<f32> {spak.loss}) attributes {spak.forward}
//     func.func @infer(%tokens: ..., params...) -> tensor<1x?x27xf32> attributes {spak.infer}
//   }
//
// Every op carries a FileLineColLoc of the DSL expression it came from. `repeat` loops are unrolled (one copy of the
// body per layer, with the layer's parameters). Symbolic dims of forward arguments (T) become dynamic sizes; the batch
// dimension comes from the train block's `batch` (default 1). Errors are reported through the DSL's diagnostics
// engine with the DSL location and make mlirGen return null.
//
//===----------------------------------------------------------------------------------------------------------------===//
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

namespace spak::dsl {
struct Program;
class DiagnosticEngine;
} // namespace spak::dsl

namespace spak {

/// Attribute names MLIRGen adds beyond the graph dialect's (spak/Dialect/Graph/Graph.h).
inline constexpr const char *kSystemAttr = "spak.system";
inline constexpr const char *kModelAttr = "spak.model";
inline constexpr const char *kConfigAttr = "spak.config";
inline constexpr const char *kTargetAttr = "spak.target";
inline constexpr const char *kInitAttr = "spak.init";
inline constexpr const char *kInferAttr = "spak.infer";

struct MLIRGenOptions {
  /// Batch size of the data arguments; 0 = the train block's `batch` (default 1).
  int64_t batch = 0;
};

/// Loads the dialects MLIRGen produces (func, graph, tile attributes) into `ctx`.
void registerMLIRGenDialects(mlir::MLIRContext &ctx);

/// Builds the module. Returns null after reporting errors to `diags`.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &ctx, const dsl::Program &program,
                                          dsl::DiagnosticEngine &diags, const MLIRGenOptions &options = {});

} // namespace spak
