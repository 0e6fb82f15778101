//===- DriverModel.h - what the trainer emitter reads from a tile module -*- C++ -*-===//
//
// Private to SpakTrainerDriver. readDriverModel() collects everything model-specific the generated trainer needs
// from the lowered (tile) module, and nothing else: the module attributes (spak.system, spak.train) and the
// signatures of the host functions @train_step, @infer and @forward (argument roles from spak.param / spak.init /
// spak.adam_m / spak.adam_v / spak.step / spak.input / spak.status, results from spak.loss / spak.grad_norm /
// spak.in_place_of). Anything the emitter cannot serve is a diagnostic naming the function, argument or attribute.
// docs/driver.md describes the fields.
//
//===--------------------------------------------------------------------------------===//
#ifndef SPAK_LIB_TARGET_DRIVER_DRIVERMODEL_H
#define SPAK_LIB_TARGET_DRIVER_DRIVERMODEL_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <string>
#include <vector>

namespace spak::target::driver {

/// One trainable tensor (a `spak.param` argument of @train_step), in argument order = declaration order.
struct ParamInfo {
  std::string name;            ///< checkpoint name ("wte", "layer0.attn_wq")
  std::vector<int64_t> shape;  ///< static
  std::string init = "zeros";  ///< normal | uniform | zeros | ones
  double a = 0, b = 0;         ///< normal: mean, std; uniform: lo, hi
  std::string loc;             ///< where the .dsl declares the init
  int64_t validRows = 0;       ///< spak.valid_rows: the real leading rows (the rest is padding); 0 = all
};

/// The role of one host-function argument.
struct ArgRole {
  enum Kind { Param, Moment, Step, Tokens, Targets, Status } kind;
  int param = -1;          ///< Param / Moment: index into DriverModel::params
  int section = 0;         ///< Param: 0; Moment: index into DriverModel::sections
  std::vector<int64_t> shape;  ///< the buffer's shape, ShapedType::kDynamic for `?`
  std::string cxxElement;  ///< "float" / "int32_t"
};

/// One host function the trainer calls.
struct HostFunc {
  bool present = false;
  std::string name;
  std::vector<ArgRole> args;
  unsigned numResults = 0;
  int lossResult = -1;      ///< spak.loss (train_step, forward)
  int gradNormResult = -1;  ///< spak.grad_norm (train_step)
  /// infer: rank of the logits result ([B, T, V] = 3 or [T, V] = 2).
  unsigned logitsRank = 0;
  /// backward: the result holding each parameter's gradient (spak.grad_of), indexed like DriverModel::params.
  std::vector<int> gradResults;
};

struct DriverModel {
  std::string system;  ///< spak.system (or spak.model)
  std::vector<ParamInfo> params;
  /// Arena sections: "param" first, then one per optimizer-state role ("adam_m", "adam_v"), in first-use order.
  std::vector<std::string> sections;
  HostFunc trainStep, infer, forward;
  /// @backward (spak.backward): loss + one gradient per parameter. The data-parallel step of the cuda trainer calls
  /// it, all-reduces the gradients and applies the optimizer below itself (docs/distributed.md). Absent (present =
  /// false) when the module has none or it does not fit; the trainer then refuses to run with more than one rank.
  HostFunc backward;
  std::string backwardMissing;  ///< why `backward` is not usable (for the trainer's error message)

  // Shapes of the data arguments.
  int64_t batch = 1;       ///< static rows of the tokens argument (1 when it is rank 1)
  bool tokensRank2 = true; ///< tokens are [B, T] (else [T])
  bool staticT = false;    ///< the T dimension is static (then maxT is it)
  int64_t maxT = 0;        ///< the largest T: spak.train.seq_len (or the static T)
  int64_t vocab = 0;       ///< @infer's spak.classes, else the last dim of its logits, else the first dim of a
                           ///< [V, *] param named in spak.config.vocab; 0 when unknown
  int64_t logitsCols = 0;  ///< the last dim of @infer's logits (> vocab when rule pad_vocab padded it); 0: no @infer

  // spak.train
  int64_t steps = 0, logEvery = 1, evalEvery = 0, evalBatches = 0;
  uint64_t seed = 0;
  std::string optimizer;
  double lr = 0, minLr = 0;
  std::string schedule = "constant";
  double warmup = 0;
  double gradClip = 0;
  // The optimizer as spak-optimizer-step builds it (mirrored by the data-parallel step): adam / adamw, decoupled
  // weight decay on matrices (rank >= 2) only, for adamw.
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0;
  // data
  std::string dataKind;       ///< documents | text | tokens
  std::string dataPath;       ///< first positional argument
  std::string valPath;        ///< tokens: val = "..."
  double valFraction = 0.1;   ///< text
  // sample
  int64_t sampleCount = 0, sampleMaxLen = 0;
  double temperature = 1.0;
};

/// Reads the module; on failure a diagnostic has been emitted.
mlir::FailureOr<DriverModel> readDriverModel(mlir::ModuleOp module);

} // namespace spak::target::driver

#endif // SPAK_LIB_TARGET_DRIVER_DRIVERMODEL_H
