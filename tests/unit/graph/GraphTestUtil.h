// Helpers for the graph unit tests: parse MLIR text with the graph dialect, run spak passes, run functions in
// the float64 interpreter, random tensors, and the finite-difference gradient check.
#pragma once

#include "spak/Interp/Interpreter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <random>
#include <string>
#include <vector>

namespace spak::test {

using interp::Tensor;

struct Module {
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string diagnostics; // everything the context reported

  explicit Module(const std::string &source);
  bool ok() const { return (bool)module; }
  /// Runs a textual pass pipeline on the module (e.g. "spak-autodiff"); false on failure.
  bool runPasses(const std::string &pipeline);
  /// Runs @name in the interpreter; FAILs the test on interpreter errors.
  std::vector<Tensor> call(const std::string &name, const std::vector<Tensor> &args);
  /// Like call() but returns false and the message instead of failing.
  bool tryCall(const std::string &name, const std::vector<Tensor> &args, std::vector<Tensor> &out,
               std::string &error);
  std::string print();
};

Tensor randn(std::mt19937_64 &rng, std::vector<int64_t> shape, double std = 1.0);
Tensor randint(std::mt19937_64 &rng, std::vector<int64_t> shape, int64_t bound);

/// Result of comparing @backward's gradients with central differences of @forward.
struct GradCheck {
  double worstRelError = 0.0; // max over parameters of ||analytic - numeric|| / max(||numeric||, 1e-12)
  std::string worstParam;
  std::vector<Tensor> grads;  // analytic gradients (in parameter order)
};

/// Parses `source` (a module with @forward whose parameters carry spak.param), runs spak-autodiff, evaluates
/// @backward on `args`, and compares every gradient element with (L(p+h) - L(p-h)) / 2h through @forward.
GradCheck gradCheck(const std::string &source, const std::vector<Tensor> &args, double h = 1e-5);

} // namespace spak::test
