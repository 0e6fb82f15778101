//===- Interpreter.h - float64 reference interpreter for spak_graph --*- C++ -*-===//
//
// Executes a func.func made of spak_graph ops (forward, backward and optimizer
// ops) plus func.return / func.call / arith.constant / tensor.cast on host
// tensors in float64. It is the reference semantics of the dialect: the cpp
// and cuda emitters are checked against it, and the autodiff is checked by
// finite differences through it. Every float type computes in double; i32
// values are held exactly as doubles.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_INTERP_INTERPRETER_H
#define SPAK_INTERP_INTERPRETER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace spak::interp {

/// A dense row-major host tensor. `isInt` marks i32/i64 values (token ids,
/// targets, step counters); their values are exact integers held as doubles.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> data;
  bool isInt = false;

  Tensor() = default;
  Tensor(std::vector<int64_t> shape, std::vector<double> data, bool isInt = false)
      : shape(std::move(shape)), data(std::move(data)), isInt(isInt) {}

  static Tensor zeros(std::vector<int64_t> shape, bool isInt = false);
  static Tensor scalar(double v, bool isInt = false) { return Tensor({}, {v}, isInt); }
  static Tensor ints(std::vector<int64_t> shape, const std::vector<int64_t> &values);

  int64_t numel() const;
  int64_t rank() const { return (int64_t)shape.size(); }
  double item() const { return data.at(0); }
  std::string shapeString() const;
};

/// Number of elements of a shape (1 for rank 0).
int64_t numElements(llvm::ArrayRef<int64_t> shape);

/// Runs `func` on `args` (one tensor per argument, checked against the
/// argument types). On failure returns an empty vector and sets `error` to a
/// message naming the op, its location and the problem.
bool run(mlir::func::FuncOp func, llvm::ArrayRef<Tensor> args, std::vector<Tensor> &results,
         std::string &error);

/// Convenience: look up `name` in `module` and run it.
bool runFunction(mlir::ModuleOp module, llvm::StringRef name, llvm::ArrayRef<Tensor> args,
                 std::vector<Tensor> &results, std::string &error);

/// The dropout keep-mask draw: uniform in [0, 1) from (seed, offset, flat index).
/// u = (splitmix64(seed * 0x9E3779B97F4A7C15 + offset * 0xD1B54A32D192ED03 + index) >> 11) * 2^-53.
double dropoutUniform(int64_t seed, int64_t offset, int64_t index);

/// The learning rate an adam op uses at 0-based step `step` (see the op docs).
double scheduledLr(llvm::StringRef schedule, double lr, double minLr, int64_t warmup,
                   int64_t totalSteps, int64_t step);

} // namespace spak::interp

#endif // SPAK_INTERP_INTERPRETER_H
