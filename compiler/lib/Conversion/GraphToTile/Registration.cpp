//===- Registration.cpp - register the tile passes and pipeline -----------===//
#include "spak/Conversion/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

void spak::tile::buildGraphToTilePipeline(mlir::OpPassManager &pm) {
  pm.addPass(createApplyLaws());
  pm.addPass(createStabilityFloor());
  pm.addPass(createPow2Masking());
  pm.addPass(spak::createLowerGraphToTile());
}

void spak::tile::registerTilePasses() {
  static bool registered = false; // tools may call this more than once
  if (registered)
    return;
  registered = true;
  registerTilePlanningPasses();
  spak::registerSpakConversionPasses();
  mlir::PassPipelineRegistration<>(
      "spak-graph-to-tile",
      "spak-apply-laws, spak-stability-floor, spak-pow2-masking, spak-lower-graph-to-tile",
      [](mlir::OpPassManager &pm) { buildGraphToTilePipeline(pm); });
}
