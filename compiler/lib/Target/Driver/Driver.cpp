//===- Driver.cpp - the trainer `main` emitter (docs/trainer-cli.md) ------===//
//
// trainerDriver() returns the DriverEmitter spakc plugs into writeProject. It reads the model's facts from the tile
// module (DriverModel.cpp) and writes `main.cpp` (target cpp) or `main.cu` (target cuda): a readable, self-contained
// trainer over the emitted host functions, using the header-only runtime (spak/runtime/*.h). The generated file is
// assembled from fixed text (MainText.cpp) and a few model-specific pieces printed here: the constants, the
// parameter table, the LR schedule mirror, the data class and the calls of @train_step / @infer / @forward with their
// exact argument lists. docs/driver.md walks through the result.
//
//===----------------------------------------------------------------------===//
#include "spak/Target/Driver.h"

#include "DriverModel.h"
#include "MainText.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace mlir;

namespace spak::target {
namespace {

using driver::ArgRole;
using driver::DriverModel;
using driver::HostFunc;

/// A C++ string literal.
std::string quote(llvm::StringRef s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\t': out += "\\t"; break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\%03o", static_cast<unsigned>(static_cast<unsigned char>(c)));
        out += buf;
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

/// A C++ double literal that round-trips.
std::string dbl(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos)
    s += ".0";
  return s;
}

std::string i64(int64_t v) { return std::to_string(v); }

std::string dimsText(const std::vector<int64_t> &shape) {
  std::string s = "{";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "}";
}

/// Replaces every `$KEY` of `subs` in `text` (keys are matched longest first, so $A does not eat $AB).
std::string substitute(std::string text, std::vector<std::pair<std::string, std::string>> subs) {
  std::sort(subs.begin(), subs.end(), [](auto &a, auto &b) { return a.first.size() > b.first.size(); });
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$') {
      bool hit = false;
      for (auto &[k, v] : subs)
        if (text.compare(i, k.size(), k) == 0) {
          out += v;
          i += k.size();
          hit = true;
          break;
        }
      if (hit)
        continue;
    }
    out += text[i++];
  }
  return out;
}

/// How to get a data file that is not there, by its file name (the data sets the examples use).
std::string dataHint(llvm::StringRef rel) {
  llvm::StringRef base = llvm::sys::path::filename(rel);
  std::string dir = llvm::sys::path::parent_path(rel).str();
  std::string mk = dir.empty() ? std::string() : "mkdir -p data/" + dir + " && ";
  if (base == "names.txt")
    return "download it: " + mk + "curl -L -o data/" + rel.str() +
           " https://raw.githubusercontent.com/karpathy/makemore/master/names.txt";
  if (base == "input.txt" && rel.contains("shakespeare"))
    return "download it: " + mk + "curl -L -o data/" + rel.str() +
           " https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt";
  if (base.starts_with("gpt2_") && base.ends_with(".bin"))
    return "create it with nanoGPT's data/shakespeare/prepare.py (GPT-2 BPE ids as raw little-endian uint16) "
           "and put it at data/" + rel.str();
  return "put it at data/" + rel.str() + " or pass --data PATH";
}

//===----------------------------------------------------------------------===//
// Model-specific pieces
//===----------------------------------------------------------------------===//

std::string constantsText(const DriverModel &m, TargetKind kind) {
  std::string s;
  s += "constexpr const char* kModelName = " + quote(m.system) + ";\n";
  s += "constexpr const char* kTargetName = " + quote(kind == TargetKind::Cuda ? "cuda" : "cpp") + ";\n";
  s += "constexpr const char* kDefaultDevice = " + quote(kind == TargetKind::Cuda ? "cuda" : "cpu") + ";\n";
  s += "constexpr int64_t kBatch = " + i64(m.batch) + ";       // rows per step (dim 0 of the tokens argument)\n";
  s += "constexpr int64_t kMaxT = " + i64(m.maxT) + ";       // positions per row, at most (" +
       (m.staticT ? "the static T of the tokens argument" : "spak.train.seq_len") + ")\n";
  s += std::string("constexpr bool kStaticT = ") + (m.staticT ? "true" : "false") +
       ";  // every call has T = kMaxT (else T varies up to kMaxT)\n";
  s += "constexpr int64_t kVocab = " + i64(m.vocab) + ";       // " +
       (m.infer.present ? (m.logitsCols != m.vocab ? "@infer's spak.classes" : "the last dim of @infer's logits")
                        : "spak.config.vocab") + "\n";
  s += "constexpr int64_t kLogitsCols = " + i64(m.logitsCols ? m.logitsCols : m.vocab) + ";  // " +
       (m.logitsCols != m.vocab ? "@infer's logits row: the vocabulary padded by rule pad_vocab (sampling reads "
                                  "the first kVocab)"
                                : "@infer's logits row (= kVocab)") + "\n";
  s += "constexpr int64_t kDefaultSteps = " + i64(m.steps) + ";  // spak.train.steps\n";
  s += "constexpr uint64_t kDefaultSeed = " + std::to_string(m.seed) + "u;  // spak.train.seed\n";
  s += "constexpr int64_t kLogEvery = " + i64(m.logEvery) + ";  // spak.train.log_every\n";
  s += "constexpr int64_t kEvalEvery = " + i64(m.forward.present ? m.evalEvery : 0) +
       ";  // spak.train.eval_every (0: no evaluation)\n";
  s += "constexpr int64_t kEvalBatches = " + i64(m.evalBatches) + ";\n";
  s += "constexpr int64_t kSampleCount = " + i64(m.infer.present ? m.sampleCount : 0) + ";  // spak.train.sample\n";
  s += "constexpr int64_t kSampleMaxLen = " + i64(m.sampleMaxLen) + ";\n";
  s += "constexpr double kSampleTemperature = " + dbl(m.temperature) + ";\n";
  s += std::string("constexpr bool kHasInfer = ") + (m.infer.present ? "true" : "false") + ";\n";
  s += "constexpr const char* kDataPath = " + quote(m.dataPath) + ";  // spak.train.data (" + m.dataKind + ")\n";
  s += "constexpr const char* kDataHint = " + quote(dataHint(m.dataPath)) + ";\n";
  if (m.dataKind == "tokens") {
    s += "constexpr const char* kValPath = " + quote(m.valPath) + ";  // spak.train.data.val (\"\": none)\n";
    s += "constexpr const char* kValHint = " + quote(m.valPath.empty() ? "" : dataHint(m.valPath)) + ";\n";
  }
  if (m.dataKind == "text")
    s += "constexpr double kValFraction = " + dbl(m.valFraction) + ";  // spak.train.data.val_fraction\n";
  // Arena sections.
  s += "const std::vector<std::string> kSections = {";
  for (size_t i = 0; i < m.sections.size(); ++i)
    s += (i ? ", " : "") + quote(m.sections[i]);
  s += "};  // \"param\" + the optimizer state, one arena section each\n";
  return s;
}

std::string paramTableText(const DriverModel &m) {
  std::string s;
  for (const auto &p : m.params) {
    std::string kind = p.init == "normal" ? "Init::Normal" : p.init == "uniform" ? "Init::Uniform"
                                           : p.init == "ones"                    ? "Init::Ones"
                                                                                 : "Init::Zeros";
    s += "    {" + quote(p.name) + ", " + dimsText(p.shape) + ", " + kind + ", " + dbl(p.a) + ", " + dbl(p.b) + ", " +
         i64(p.validRows) + "},";
    if (!p.loc.empty())
      s += "  // " + p.loc;
    if (p.validRows > 0)
      s += std::string(p.loc.empty() ? "  //" : ";") + " rows " + i64(p.validRows) + ".." + i64(p.shape[0] - 1) +
           " are padding (spak.valid_rows, rule pad_vocab)";
    s += "\n";
  }
  return s;
}

/// The data-parallel step's facts (cuda target): whether @backward can be used, the optimizer spak-optimizer-step
/// built (mirrored by the trainer's own kernels after the gradient all-reduce), and which parameters decay.
std::string distConstantsText(const DriverModel &m) {
  std::string s;
  s += std::string("constexpr bool kHasBackward = ") + (m.backward.present ? "true" : "false") +
       ";  // @backward usable by the data-parallel step\n";
  s += "constexpr const char* kNoBackwardReason = " + quote(m.backwardMissing) + ";\n";
  s += "constexpr int kNumParams = " + std::to_string(m.params.size()) + ";\n";
  s += "constexpr double kBeta1 = " + dbl(m.beta1) + ", kBeta2 = " + dbl(m.beta2) + ", kAdamEps = " + dbl(m.eps) +
       ";  // spak.train (" + m.optimizer + ")\n";
  s += "constexpr double kGradClip = " + dbl(m.gradClip) + ";  // spak.train.grad_clip (0: none)\n";
  s += "// Decoupled weight decay per parameter: spak.train.weight_decay for matrices (rank >= 2) with adamw, else 0\n";
  s += "// (spak-optimizer-step's rule, as nanoGPT's configure_optimizers).\n";
  s += "constexpr double kWeightDecay[kNumParams] = {";
  for (size_t i = 0; i < m.params.size(); ++i) {
    double wd = m.optimizer == "adamw" && m.params[i].shape.size() >= 2 ? m.weightDecay : 0.0;
    s += (i ? ", " : "") + dbl(wd);
  }
  s += "};\n";
  return s;
}

std::string scheduleText(const DriverModel &m) {
  std::string s;
  s += "constexpr const char* kSchedule = " + quote(m.schedule) + ";\n";
  s += "constexpr double kScheduleWarmup = " + dbl(m.warmup) + ";  // spak.train.warmup\n\n";
  s += "// The rate the optimizer kernel applies at 0-based step s of a total_steps-step schedule (it computes it on\n";
  s += "// the device, in float, from the step buffer [s, total_steps]); mirrored here in double for the progress\n";
  s += "// line and the log.\n";
  s += "double learning_rate(int64_t step, int64_t total_steps) {\n";
  s += "  const double s = double(step);\n";
  s += "  const double lr = " + dbl(m.lr) + ", total = double(total_steps);\n";
  s += "  (void)total;\n";
  if (m.schedule == "constant") {
    s += "  double rate = lr;\n";
  } else if (m.schedule == "linear_decay") {
    s += "  double rate = lr * (1.0 - s / total);\n";
  } else {
    s += "  const double min_lr = " + dbl(m.minLr) + ", warmup = " + dbl(m.warmup) + ";\n";
    s += "  const double span = total - warmup > 0 ? total - warmup : 1.0;\n";
    s += "  const double r = std::min(1.0, std::max(0.0, (s - warmup) / span));\n";
    s += "  double rate = min_lr + 0.5 * (1.0 + std::cos(3.14159265358979323846 * r)) * (lr - min_lr);\n";
    s += "  if (s > total) rate = min_lr;\n";
  }
  if (m.warmup > 0) {
    s += "  const double warm = " + dbl(m.warmup) + ";\n";
    s += "  if (s < warm) rate = lr * (s + 1.0) / (warm + 1.0);\n";
  }
  s += "  return rate;\n}\n";
  return s;
}

std::string dataClassText(const DriverModel &m) {
  if (m.dataKind == "documents")
    return driver::kDocumentsData;
  if (m.dataKind == "text")
    return driver::kTextData;
  return driver::kTokensData;
}

/// The argument list of one call of `hf` ("io" is a StepIO, "T" the sequence length).
std::string argList(const DriverModel &m, const HostFunc &hf) {
  std::string s = "ctx";
  for (const ArgRole &r : hf.args) {
    s += ",\n      ";
    std::string rank = std::to_string(r.shape.size());
    switch (r.kind) {
    case ArgRole::Param:
    case ArgRole::Moment:
      s += "spak_gen::Buf<float, " + rank + ">{io.tensor(" + std::to_string(r.section) + ", " +
           std::to_string(r.param) + "), " + dimsText(r.shape) + "}";
      s += "  /* " + m.sections[r.section] + " " + m.params[r.param].name + " */";
      break;
    case ArgRole::Step: s += "spak_gen::Buf<int32_t, 1>{io.step, {2}}"; break;
    case ArgRole::Status: s += "spak_gen::Buf<int32_t, 1>{io.status, {1}}"; break;
    case ArgRole::Tokens:
    case ArgRole::Targets: {
      std::string ptr = r.kind == ArgRole::Tokens ? "io.tokens" : "io.targets";
      s += "spak_gen::Buf<int32_t, " + rank + ">{" + ptr + ", " + (m.tokensRank2 ? "{kBatch, T}" : "{T}") + "}";
      break;
    }
    }
  }
  return s;
}

std::string resultOf(const HostFunc &hf, int index) {
  if (hf.numResults == 1)
    return "r";
  return "r.r" + std::to_string(index);
}

/// call_backward (cuda target): @backward's loss and gradients, for the data-parallel step.
std::string backwardCallText(const DriverModel &m) {
  std::string s;
  s += "// The loss and every parameter's gradient (in parameter order; workspace memory, valid until the next\n";
  s += "// ctx.reset()) of the batch in io: the data-parallel step all-reduces these, then applies the optimizer.\n";
  s += "struct BackwardOutputs {\n  const float* loss = nullptr;\n  float* grads[kNumParams] = {};\n};\n";
  if (!m.backward.present) {
    s += "BackwardOutputs call_backward(spak_gen::StepContext&, const StepIO&, int64_t) {\n";
    s += "  spak::rt::fail(cat(\"data-parallel training needs @backward: \", kNoBackwardReason));\n}\n\n";
    return s;
  }
  s += "// @" + m.backward.name + "\n";
  s += "BackwardOutputs call_backward(spak_gen::StepContext& ctx, const StepIO& io, int64_t T) {\n";
  s += "  auto r = spak_gen::" + m.backward.name + "(" + argList(m, m.backward) + ");\n";
  s += "  BackwardOutputs out;\n";
  s += "  out.loss = " + resultOf(m.backward, m.backward.lossResult) + ".data;\n";
  for (size_t p = 0; p < m.params.size(); ++p)
    s += "  out.grads[" + std::to_string(p) + "] = " + resultOf(m.backward, m.backward.gradResults[p]) +
         ".data;  // " + m.params[p].name + "\n";
  s += "  return out;\n}\n\n";
  return s;
}

std::string callsText(const DriverModel &m) {
  std::string s;
  s += "// @" + m.trainStep.name + ": one optimizer step on the batch in io (loss computed before the update).\n";
  s += "StepOutputs call_train_step(spak_gen::StepContext& ctx, const StepIO& io, int64_t T) {\n";
  s += "  auto r = spak_gen::" + m.trainStep.name + "(" + argList(m, m.trainStep) + ");\n";
  s += "  StepOutputs out;\n";
  s += "  out.loss = " + resultOf(m.trainStep, m.trainStep.lossResult) + ".data;\n";
  if (m.trainStep.gradNormResult >= 0)
    s += "  out.grad_norm = " + resultOf(m.trainStep, m.trainStep.gradNormResult) + ".data;\n";
  s += "  // The other results are the parameters and optimizer state, updated in place (spak.in_place_of).\n";
  s += "  return out;\n}\n";
  s += "constexpr bool kHasGradNorm = " + std::string(m.trainStep.gradNormResult >= 0 ? "true" : "false") + ";\n\n";
  if (m.infer.present) {
    s += "// @" + m.infer.name + ": logits for every position of the tokens in io; returns those of row 0, "
         "position pos.\n";
    s += "const float* call_infer(spak_gen::StepContext& ctx, const StepIO& io, int64_t T, int64_t pos) {\n";
    s += "  auto r = spak_gen::" + m.infer.name + "(" + argList(m, m.infer) + ");\n";
    s += "  return r.data + pos * kLogitsCols;\n}\n\n";
  } else {
    s += "const float* call_infer(spak_gen::StepContext&, const StepIO&, int64_t, int64_t) {\n";
    s += "  spak::rt::fail(\"this model has no @infer host function, so it cannot sample\");\n}\n\n";
  }
  if (m.forward.present) {
    s += "// @" + m.forward.name + ": the loss of the batch in io, no update (evaluation).\n";
    s += "const float* call_forward(spak_gen::StepContext& ctx, const StepIO& io, int64_t T) {\n";
    s += "  auto r = spak_gen::" + m.forward.name + "(" + argList(m, m.forward) + ");\n";
    s += "  return " + resultOf(m.forward, m.forward.lossResult) + ".data;\n}\n";
    s += "constexpr bool kHasForward = true;\n";
  } else {
    s += "const float* call_forward(spak_gen::StepContext&, const StepIO&, int64_t) {\n";
    s += "  spak::rt::fail(\"this model has no @forward host function, so it cannot evaluate\");\n}\n";
    s += "constexpr bool kHasForward = false;\n";
  }
  return s;
}

LogicalResult emitMain(ModuleOp module, const DriverContext &dc, llvm::raw_ostream &os) {
  FailureOr<DriverModel> model = driver::readDriverModel(module);
  if (failed(model))
    return failure();
  const DriverModel &m = *model;
  for (const HostFunc *hf : {&m.trainStep, &m.infer, &m.forward})
    if (hf->present && !llvm::is_contained(dc.hostFunctions, hf->name))
      return module.emitError("trainer driver: host function @")
             << hf->name << " was not emitted (emitted: " << llvm::join(dc.hostFunctions, ", ") << ")";
  bool cuda = dc.kind == TargetKind::Cuda;
  std::string text = substitute(
      driver::kMainTemplate,
      {{"$FILE_COMMENT", cuda ? driver::kCudaFileComment : driver::kCppFileComment},
       {"$HEADER", quote(dc.headerName)},
       {"$INCLUDES", cuda ? driver::kCudaIncludes : driver::kCppIncludes},
       {"$CONSTANTS", constantsText(m, dc.kind)},
       {"$PARAMS", paramTableText(m)},
       {"$SCHEDULE", scheduleText(m)},
       {"$DATA", substitute(dataClassText(m), {{"$DATA_KIND", m.dataKind}})},
       {"$CALLS", callsText(m) + (cuda ? "\n" + distConstantsText(m) + "\n" + backwardCallText(m) : "")},
       {"$DIST_DEVICE", cuda ? driver::kCudaDistDevice : ""},
       {"$WORLD_CHECK", cuda ? driver::kCudaWorldCheck : driver::kCppWorldCheck},
       {"$DEVICE", cuda ? driver::kCudaDevice : driver::kCppDevice},
       {"$EXTRA_FLAGS", cuda ? driver::kCudaFlags : driver::kCppFlags},
       {"$DEVICE_CHECK", cuda ? driver::kCudaDeviceCheck : driver::kCppDeviceCheck},
       {"$DEVICE_CTOR", cuda ? "Device device(arena, !no_cuda_graph, world);" : "Device device(arena);"}});
  os << text;
  return success();
}

} // namespace

DriverEmitter trainerDriver() { return emitMain; }

} // namespace spak::target
