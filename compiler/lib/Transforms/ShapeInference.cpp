//===- ShapeInference.cpp - the spak-shape-inference pass -----------------===//
//
// Refines result types of graph ops in program order through the
// ShapeInference interface, then the function's result types.
//
//===----------------------------------------------------------------------===//
#include "spak/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace spak {
#define GEN_PASS_DEF_SPAKSHAPEINFERENCE
#include "spak/Transforms/Passes.h.inc"
} // namespace spak

using namespace mlir;

namespace {
struct ShapeInferencePass : spak::impl::SpakShapeInferenceBase<ShapeInferencePass> {
  using Base::Base;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (!func.isExternal() && failed(refineFunction(func)))
        return signalPassFailure();
  }

  LogicalResult refineFunction(func::FuncOp func) {
    // Blocks are visited in order and ops in program order, so operands are
    // refined before their users.
    WalkResult walk = func.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (auto si = dyn_cast<spak::graph::ShapeInference>(op))
        if (failed(si.inferShapes()))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();

    SmallVector<func::ReturnOp> returns;
    func.walk([&](func::ReturnOp r) { returns.push_back(r); });
    if (returns.empty())
      return success();
    auto declared = func.getFunctionType().getResults();
    SmallVector<Type> refined(declared);
    for (func::ReturnOp ret : returns) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        if (i >= refined.size())
          break;
        if (!spak::graph::areCompatibleTypes(refined[i], v.getType())) {
          ret.emitOpError() << "operand #" << i << " of type " << v.getType()
                            << " does not match the function result type " << refined[i];
          return failure();
        }
        refined[i] = spak::graph::meetTypes(refined[i], v.getType());
      }
    }
    if (updateSignature) {
      // Every return must produce exactly the refined types; cast where one is less precise.
      for (func::ReturnOp ret : returns)
        castOperands(ret, refined);
      func.setFunctionType(FunctionType::get(func.getContext(), func.getArgumentTypes(), refined));
    } else {
      for (func::ReturnOp ret : returns)
        castOperands(ret, declared);
    }
    return success();
  }

  static void castOperands(func::ReturnOp ret, ArrayRef<Type> types) {
    OpBuilder b(ret);
    for (auto [i, v] : llvm::enumerate(ret.getOperands()))
      if (i < types.size() && v.getType() != types[i])
        ret.setOperand(i, tensor::CastOp::create(b, ret.getLoc(), types[i], v));
  }
};
} // namespace
