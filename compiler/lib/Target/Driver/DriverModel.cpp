//===- DriverModel.cpp - read the trainer's facts from a tile module ------===//
//
// See DriverModel.h. Every check here guards an assumption the generated trainer makes (argument roles, static
// parameter shapes, i32 data buffers, one loss result); a violation is an error on the op or module that names what
// is wrong, so an unexpected module never produces a trainer that silently does something else.
//
//===----------------------------------------------------------------------===//
#include "DriverModel.h"

#include "spak/Dialect/Tile/IR/Tile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"

#include <cmath>

using namespace mlir;

namespace spak::target::driver {
namespace {

std::optional<double> numberOf(Attribute a) {
  if (auto i = dyn_cast_or_null<IntegerAttr>(a))
    return static_cast<double>(i.getInt());
  if (auto f = dyn_cast_or_null<FloatAttr>(a))
    return f.getValueAsDouble();
  return std::nullopt;
}

/// An integer-valued setting (an i64, or an f64 holding an integer).
LogicalResult intSetting(ModuleOp m, DictionaryAttr d, StringRef key, int64_t &out, bool required,
                         StringRef where = "spak.train") {
  Attribute a = d ? d.get(key) : Attribute();
  if (!a) {
    if (required)
      return m.emitError("trainer driver: ") << where << " has no '" << key << "'";
    return success();
  }
  std::optional<double> v = numberOf(a);
  if (!v || *v != std::floor(*v) || std::fabs(*v) > 9.0e15)
    return m.emitError("trainer driver: ") << where << "." << key << " must be an integer, got " << a;
  out = static_cast<int64_t>(*v);
  return success();
}

LogicalResult floatSetting(ModuleOp m, DictionaryAttr d, StringRef key, double &out, StringRef where = "spak.train") {
  Attribute a = d ? d.get(key) : Attribute();
  if (!a)
    return success();
  std::optional<double> v = numberOf(a);
  if (!v)
    return m.emitError("trainer driver: ") << where << "." << key << " must be a number, got " << a;
  out = *v;
  return success();
}

LogicalResult stringSetting(ModuleOp m, DictionaryAttr d, StringRef key, std::string &out,
                            StringRef where = "spak.train") {
  Attribute a = d ? d.get(key) : Attribute();
  if (!a)
    return success();
  auto s = dyn_cast<StringAttr>(a);
  if (!s)
    return m.emitError("trainer driver: ") << where << "." << key << " must be a string, got " << a;
  out = s.getValue().str();
  return success();
}

func::FuncOp findHostFunc(ModuleOp m, StringRef marker, StringRef name) {
  func::FuncOp found;
  m.walk([&](func::FuncOp f) {
    if (!found && (f->hasAttr(marker) || f.getSymName() == name))
      found = f;
  });
  return found;
}

/// Fills `role.shape` / `role.cxxElement` from the argument type.
LogicalResult bufferOf(func::FuncOp f, unsigned i, ArgRole &role) {
  auto buf = dyn_cast<tile::BufferType>(f.getArgumentTypes()[i]);
  if (!buf)
    return f.emitError("trainer driver: @") << f.getSymName() << " argument #" << i
                                            << " is not a !spak_tile.buffer (got " << f.getArgumentTypes()[i] << ")";
  role.shape.assign(buf.getShape().begin(), buf.getShape().end());
  Type e = buf.getElementType();
  if (e.isF32())
    role.cxxElement = "float";
  else if (e.isInteger(32))
    role.cxxElement = "int32_t";
  else
    return f.emitError("trainer driver: @") << f.getSymName() << " argument #" << i << " has element type " << e
                                            << "; the trainer passes f32 tensors and i32 ids/counters";
  return success();
}

/// Reads the argument roles of a host function. Parameters are matched to `model.params` by name; in @train_step
/// (`defineParams`) they are defined in argument order.
LogicalResult readArgs(func::FuncOp f, DriverModel &model, HostFunc &hf, bool defineParams) {
  hf.present = true;
  hf.name = f.getSymName().str();
  auto paramIndex = [&](StringRef name) -> int {
    for (size_t i = 0; i < model.params.size(); ++i)
      if (model.params[i].name == name)
        return static_cast<int>(i);
    return -1;
  };
  for (unsigned i = 0; i < f.getNumArguments(); ++i) {
    ArgRole role{ArgRole::Param};
    if (failed(bufferOf(f, i, role)))
      return failure();
    auto where = [&]() {
      return f.emitError("trainer driver: @") << f.getSymName() << " argument #" << i << ": ";
    };
    if (auto p = f.getArgAttrOfType<StringAttr>(i, "spak.param")) {
      if (role.cxxElement != "float")
        return where() << "parameter '" << p.getValue() << "' must be f32";
      for (int64_t d : role.shape)
        if (ShapedType::isDynamic(d))
          return where() << "parameter '" << p.getValue() << "' has a dynamic dimension";
      int idx = paramIndex(p.getValue());
      if (defineParams) {
        if (idx >= 0)
          return where() << "parameter '" << p.getValue() << "' appears twice";
        ParamInfo pi;
        pi.name = p.getValue().str();
        pi.shape = role.shape;
        if (auto init = f.getArgAttrOfType<DictionaryAttr>(i, "spak.init")) {
          auto kind = init.getAs<StringAttr>("kind");
          if (!kind)
            return where() << "spak.init of '" << pi.name << "' has no kind";
          pi.init = kind.getValue().str();
          if (pi.init != "normal" && pi.init != "uniform" && pi.init != "zeros" && pi.init != "ones")
            return where() << "spak.init of '" << pi.name << "' has kind '" << pi.init
                           << "'; the trainer knows normal, uniform, zeros, ones";
          pi.a = numberOf(init.get("a")).value_or(0.0);
          pi.b = numberOf(init.get("b")).value_or(0.0);
          if (auto loc = init.getAs<StringAttr>("loc"))
            pi.loc = loc.getValue().str();
        }
        if (auto valid = f.getArgAttrOfType<IntegerAttr>(i, "spak.valid_rows")) {
          pi.validRows = valid.getInt();
          if (pi.shape.empty() || pi.validRows < 1 || pi.validRows > pi.shape[0])
            return where() << "spak.valid_rows = " << pi.validRows << " of '" << pi.name
                           << "' must be in [1, its first dim]";
          if (pi.validRows == pi.shape[0])
            pi.validRows = 0;
        }
        model.params.push_back(pi);
        idx = static_cast<int>(model.params.size()) - 1;
      } else if (idx < 0) {
        return where() << "parameter '" << p.getValue() << "' is not a parameter of @train_step";
      } else if (model.params[idx].shape != role.shape) {
        return where() << "parameter '" << p.getValue() << "' has another shape than in @train_step";
      }
      role.kind = ArgRole::Param;
      role.param = idx;
      role.section = 0;
    } else if (f.getArgAttr(i, "spak.adam_m") || f.getArgAttr(i, "spak.adam_v")) {
      StringRef sec = f.getArgAttr(i, "spak.adam_m") ? "adam_m" : "adam_v";
      auto p = f.getArgAttrOfType<StringAttr>(i, ("spak." + sec).str());
      if (!p)
        return where() << "spak." << sec << " must name a parameter";
      int idx = paramIndex(p.getValue());
      if (idx < 0)
        return where() << "spak." << sec << " = '" << p.getValue() << "' names no parameter declared before it";
      if (model.params[idx].shape != role.shape)
        return where() << "spak." << sec << " of '" << p.getValue() << "' has another shape than the parameter";
      auto it = llvm::find(model.sections, sec.str());
      if (it == model.sections.end()) {
        model.sections.push_back(sec.str());
        it = model.sections.end() - 1;
      }
      role.kind = ArgRole::Moment;
      role.param = idx;
      role.section = static_cast<int>(it - model.sections.begin());
    } else if (f.getArgAttr(i, "spak.step")) {
      if (role.cxxElement != "int32_t" || role.shape != std::vector<int64_t>{2})
        return where() << "the step argument must be buffer<2xi32> = [step, total_steps] (spak-optimizer-step "
                          "builds it so)";
      role.kind = ArgRole::Step;
    } else if (f.getArgAttr(i, "spak.status")) {
      if (role.cxxElement != "int32_t" || role.shape != std::vector<int64_t>{1})
        return where() << "the status flag must be buffer<1xi32>";
      role.kind = ArgRole::Status;
    } else if (auto in = f.getArgAttrOfType<StringAttr>(i, "spak.input")) {
      if (in.getValue() != "tokens" && in.getValue() != "targets")
        return where() << "spak.input = '" << in.getValue() << "'; the trainer feeds 'tokens' and 'targets'";
      if (role.cxxElement != "int32_t")
        return where() << "data input '" << in.getValue() << "' must be i32";
      role.kind = in.getValue() == "tokens" ? ArgRole::Tokens : ArgRole::Targets;
    } else {
      return where() << "has no role attribute (spak.param, spak.adam_m, spak.adam_v, spak.step, spak.input, "
                        "spak.status); the trainer does not know what to pass";
    }
    hf.args.push_back(std::move(role));
  }
  hf.numResults = f.getNumResults();
  return success();
}

/// The [B, T] / [T] shape of the data inputs, identical in every function.
LogicalResult readDataShape(func::FuncOp f, const HostFunc &hf, DriverModel &model, bool first) {
  for (const ArgRole &r : hf.args) {
    if (r.kind != ArgRole::Tokens && r.kind != ArgRole::Targets)
      continue;
    bool rank2 = r.shape.size() == 2;
    if (!(r.shape.size() == 1 || rank2) || (rank2 && ShapedType::isDynamic(r.shape[0])))
      return f.emitError("trainer driver: @") << f.getSymName()
                                              << ": data inputs must be buffer<Bx?xi32> or buffer<?xi32> (static B)";
    int64_t b = rank2 ? r.shape[0] : 1;
    int64_t t = r.shape.back();
    if (first) {
      model.batch = b;
      model.tokensRank2 = rank2;
      model.staticT = !ShapedType::isDynamic(t);
      if (model.staticT)
        model.maxT = t;
      first = false;
    } else if (b != model.batch || rank2 != model.tokensRank2 ||
               ShapedType::isDynamic(t) == model.staticT || (model.staticT && t != model.maxT)) {
      return f.emitError("trainer driver: @") << f.getSymName()
                                              << ": its data inputs have another shape than @train_step's";
    }
  }
  return success();
}

} // namespace

FailureOr<DriverModel> readDriverModel(ModuleOp m) {
  DriverModel model;
  if (auto s = m->getAttrOfType<StringAttr>("spak.system"))
    model.system = s.getValue().str();
  else if (auto s2 = m->getAttrOfType<StringAttr>("spak.model"))
    model.system = s2.getValue().str();
  else
    model.system = "model";

  func::FuncOp ts = findHostFunc(m, "spak.train_step", "train_step");
  if (!ts)
    return m.emitError("trainer driver: the module has no @train_step host function (compile a .dsl with a "
                       "train block to the tile stage)");
  model.sections.push_back("param");
  if (failed(readArgs(ts, model, model.trainStep, /*defineParams=*/true)))
    return failure();
  if (model.params.empty())
    return ts.emitError("trainer driver: @train_step has no spak.param arguments");
  auto count = [&](const HostFunc &hf, ArgRole::Kind k) {
    return llvm::count_if(hf.args, [&](const ArgRole &r) { return r.kind == k; });
  };
  if (count(model.trainStep, ArgRole::Tokens) != 1 || count(model.trainStep, ArgRole::Targets) != 1)
    return ts.emitError("trainer driver: @train_step needs exactly one 'tokens' and one 'targets' input");
  if (count(model.trainStep, ArgRole::Step) > 1 || count(model.trainStep, ArgRole::Status) > 1)
    return ts.emitError("trainer driver: @train_step has more than one step counter or status flag");
  for (size_t s = 1; s < model.sections.size(); ++s)
    for (size_t p = 0; p < model.params.size(); ++p) {
      bool have = llvm::any_of(model.trainStep.args, [&](const ArgRole &r) {
        return r.kind == ArgRole::Moment && r.section == static_cast<int>(s) && r.param == static_cast<int>(p);
      });
      if (!have)
        return ts.emitError("trainer driver: @train_step has no ") << model.sections[s] << " argument for '"
                                                                   << model.params[p].name << "'";
    }
  for (unsigned r = 0; r < ts.getNumResults(); ++r) {
    bool loss = static_cast<bool>(ts.getResultAttr(r, "spak.loss"));
    bool gn = static_cast<bool>(ts.getResultAttr(r, "spak.grad_norm"));
    bool inPlace = static_cast<bool>(ts.getResultAttr(r, "spak.in_place_of"));
    if (loss || gn) {
      auto buf = dyn_cast<tile::BufferType>(ts.getResultTypes()[r]);
      if (!buf || !buf.getElementType().isF32() || buf.getShape() != ArrayRef<int64_t>{1})
        return ts.emitError("trainer driver: @train_step result #") << r << " (" << (loss ? "loss" : "grad norm")
                                                                    << ") must be buffer<1xf32>";
      (loss ? model.trainStep.lossResult : model.trainStep.gradNormResult) = static_cast<int>(r);
    } else if (!inPlace) {
      return ts.emitError("trainer driver: @train_step result #")
             << r << " is neither the loss, the grad norm nor an in-place update (spak.in_place_of)";
    }
  }
  if (model.trainStep.lossResult < 0)
    return ts.emitError("trainer driver: @train_step has no spak.loss result");
  if (failed(readDataShape(ts, model.trainStep, model, /*first=*/true)))
    return failure();

  if (func::FuncOp inf = findHostFunc(m, "spak.infer", "infer")) {
    if (failed(readArgs(inf, model, model.infer, false)) || failed(readDataShape(inf, model.infer, model, false)))
      return failure();
    if (count(model.infer, ArgRole::Tokens) != 1 || count(model.infer, ArgRole::Targets) != 0 ||
        count(model.infer, ArgRole::Moment) != 0 || count(model.infer, ArgRole::Step) != 0)
      return inf.emitError("trainer driver: @infer must take the tokens, parameters and the status flag");
    auto logits = inf.getNumResults() == 1 ? dyn_cast<tile::BufferType>(inf.getResultTypes()[0]) : nullptr;
    if (!logits || !logits.getElementType().isF32() || logits.getRank() != (model.tokensRank2 ? 3 : 2) ||
        ShapedType::isDynamic(logits.getShape().back()))
      return inf.emitError("trainer driver: @infer must return one f32 logits buffer [B, T, V] (or [T, V]) with a "
                           "static V");
    model.infer.logitsRank = static_cast<unsigned>(logits.getRank());
    model.logitsCols = logits.getShape().back();
    model.vocab = model.logitsCols;
    if (auto classes = inf->getAttrOfType<IntegerAttr>("spak.classes")) {
      if (classes.getInt() < 1 || classes.getInt() > model.logitsCols)
        return inf.emitError("trainer driver: spak.classes = ")
               << classes.getInt() << " must be in [1, " << model.logitsCols << "] (@infer's logits columns)";
      model.vocab = classes.getInt();
    }
  }
  if (func::FuncOp fw = findHostFunc(m, "spak.forward", "forward")) {
    if (failed(readArgs(fw, model, model.forward, false)) || failed(readDataShape(fw, model.forward, model, false)))
      return failure();
    for (unsigned r = 0; r < fw.getNumResults(); ++r)
      if (fw.getResultAttr(r, "spak.loss"))
        model.forward.lossResult = static_cast<int>(r);
    if (model.forward.lossResult < 0 && fw.getNumResults() == 1)
      model.forward.lossResult = 0;
    if (count(model.forward, ArgRole::Moment) != 0 || count(model.forward, ArgRole::Step) != 0 ||
        model.forward.lossResult < 0)
      model.forward.present = false; // not the evaluation function the trainer expects; evaluation is then off
  }

  // @backward: optional (only the data-parallel step needs it). A function that does not fit the trainer's
  // expectations disables data parallelism with a reason instead of failing the compile.
  if (func::FuncOp bw = findHostFunc(m, "spak.backward", "backward")) {
    HostFunc hf;
    std::string why;
    // readArgs / readDataShape report through diagnostics; collect the first into `why` instead of failing.
    ScopedDiagnosticHandler quiet(m.getContext(), [&](Diagnostic &d) {
      if (why.empty())
        why = d.str();
      return success();
    });
    if (failed(readArgs(bw, model, hf, false)))
      hf.present = false;
    if (hf.present) {
      if (count(hf, ArgRole::Tokens) != 1 || count(hf, ArgRole::Targets) != 1 || count(hf, ArgRole::Moment) != 0 ||
          count(hf, ArgRole::Step) != 0)
        why = "@" + hf.name + " does not take exactly the tokens, targets, parameters and status flag";
      hf.gradResults.assign(model.params.size(), -1);
      for (unsigned r = 0; r < bw.getNumResults() && why.empty(); ++r) {
        auto buf = dyn_cast<tile::BufferType>(bw.getResultTypes()[r]);
        if (bw.getResultAttr(r, "spak.loss")) {
          hf.lossResult = static_cast<int>(r);
        } else if (auto g = bw.getResultAttrOfType<StringAttr>(r, "spak.grad_of")) {
          auto it = llvm::find_if(model.params, [&](const ParamInfo &p) { return p.name == g.getValue(); });
          if (it == model.params.end() || !buf || !buf.getElementType().isF32() ||
              std::vector<int64_t>(buf.getShape().begin(), buf.getShape().end()) != it->shape)
            why = "@" + hf.name + " result #" + std::to_string(r) + " (gradient of '" + g.getValue().str() +
                  "') does not match a parameter's f32 shape";
          else
            hf.gradResults[it - model.params.begin()] = static_cast<int>(r);
        }
      }
      if (why.empty() && hf.lossResult < 0 && bw.getNumResults() > 0 && !bw.getResultAttr(0, "spak.grad_of"))
        hf.lossResult = 0;
      if (why.empty() && hf.lossResult < 0)
        why = "@" + hf.name + " has no loss result";
      for (size_t p = 0; p < model.params.size() && why.empty(); ++p)
        if (hf.gradResults[p] < 0)
          why = "@" + hf.name + " returns no gradient of '" + model.params[p].name + "'";
      hf.numResults = bw.getNumResults();
    }
    if (hf.present && why.empty() && succeeded(readDataShape(bw, hf, model, false)))
      model.backward = std::move(hf);
    else
      model.backwardMissing = why.empty() ? "its data inputs have another shape than @train_step's" : why;
  } else {
    model.backwardMissing = "the module has no @backward host function";
  }

  // spak.train
  auto train = m->getAttrOfType<DictionaryAttr>("spak.train");
  if (!train)
    return m.emitError("trainer driver: the module has no spak.train attribute (the .dsl's train block)");
  int64_t seed = 0;
  if (failed(intSetting(m, train, "steps", model.steps, true)) || failed(intSetting(m, train, "seed", seed, false)) ||
      failed(intSetting(m, train, "log_every", model.logEvery, false)) ||
      failed(intSetting(m, train, "eval_every", model.evalEvery, false)) ||
      failed(intSetting(m, train, "eval_batches", model.evalBatches, false)) ||
      failed(stringSetting(m, train, "optimizer", model.optimizer)) ||
      failed(floatSetting(m, train, "lr", model.lr)) || failed(floatSetting(m, train, "min_lr", model.minLr)) ||
      failed(stringSetting(m, train, "schedule", model.schedule)) ||
      failed(floatSetting(m, train, "warmup", model.warmup)) ||
      failed(floatSetting(m, train, "grad_clip", model.gradClip)) ||
      failed(floatSetting(m, train, "beta1", model.beta1)) || failed(floatSetting(m, train, "beta2", model.beta2)) ||
      failed(floatSetting(m, train, "eps", model.eps)) ||
      failed(floatSetting(m, train, "weight_decay", model.weightDecay)))
    return failure();
  if (model.optimizer.empty())
    model.optimizer = "adam";  // spak-optimizer-step's default
  if (model.steps < 0 || seed < 0 || model.logEvery < 1 || model.evalEvery < 0 || model.evalBatches < 0)
    return m.emitError("trainer driver: spak.train has a negative steps/seed/eval setting or log_every < 1");
  model.seed = static_cast<uint64_t>(seed);
  if (model.schedule != "constant" && model.schedule != "linear_decay" && model.schedule != "cosine")
    return m.emitError("trainer driver: unknown schedule '") << model.schedule << "'";
  if (!model.staticT) {
    if (failed(intSetting(m, train, "seq_len", model.maxT, true)))
      return failure();
    if (model.maxT < 1)
      return m.emitError("trainer driver: spak.train.seq_len must be positive");
  }
  // data = {kind, args = [path], ...}
  auto data = train.getAs<DictionaryAttr>("data");
  if (!data)
    return m.emitError("trainer driver: spak.train has no data = {kind, args} entry");
  if (failed(stringSetting(m, data, "kind", model.dataKind, "spak.train.data")))
    return failure();
  auto args = data.getAs<ArrayAttr>("args");
  if (!args || args.empty() || !isa<StringAttr>(args[0]))
    return m.emitError("trainer driver: spak.train.data needs a path as its first argument");
  model.dataPath = cast<StringAttr>(args[0]).getValue().str();
  if (model.dataKind == "documents") {
    if (model.batch != 1)
      return m.emitError("trainer driver: documents data trains one document per step (batch 1); this step has "
                         "batch ")
             << model.batch << " (use text(...) or tokens(...) data for batches)";
    if (model.staticT)
      return m.emitError("trainer driver: documents data has one length per document, but the step's T is static (")
             << model.maxT << "); compile with a dynamic sequence length";
    if (auto bos = data.getAs<BoolAttr>("bos"); bos && !bos.getValue())
      return m.emitError("trainer driver: documents data without a BOS token (bos: false) is not supported: a "
                         "document is [BOS] + characters + [BOS]");
    int64_t shuffleSeed = seed;
    if (failed(intSetting(m, data, "shuffle_seed", shuffleSeed, false, "spak.train.data")))
      return failure();
    if (shuffleSeed != seed)
      return m.emitError("trainer driver: documents shuffle_seed (")
             << shuffleSeed << ") differs from the train seed (" << seed
             << "): the trainer draws the shuffle and the init from one PyRandom(seed) stream, as microgpt.py does";
  } else if (model.dataKind == "text") {
    if (failed(floatSetting(m, data, "val_fraction", model.valFraction, "spak.train.data")))
      return failure();
    if (!(model.valFraction >= 0 && model.valFraction < 1))
      return m.emitError("trainer driver: text data val_fraction must be in [0, 1)");
  } else if (model.dataKind == "tokens") {
    if (failed(stringSetting(m, data, "val", model.valPath, "spak.train.data")))
      return failure();
    if (model.vocab <= 0) {
      // No @infer: the vocabulary is the first dimension of the embedding the config calls vocab.
      int64_t v = 0;
      if (failed(intSetting(m, m->getAttrOfType<DictionaryAttr>("spak.config"), "vocab", v, true, "spak.config")))
        return failure();
      model.vocab = v;
    }
    if (model.vocab > 65536)
      return m.emitError("trainer driver: tokens data holds uint16 ids, but the vocabulary has ")
             << model.vocab << " entries";
  } else {
    return m.emitError("trainer driver: unknown data kind '")
           << model.dataKind << "' (known: documents, text, tokens; docs/driver.md says how to add one)";
  }
  if (model.vocab <= 0) {
    int64_t v = 0;
    if (failed(intSetting(m, m->getAttrOfType<DictionaryAttr>("spak.config"), "vocab", v, true, "spak.config")))
      return failure();
    model.vocab = v;
  }
  if (auto sample = train.getAs<DictionaryAttr>("sample")) {
    if (failed(intSetting(m, sample, "count", model.sampleCount, false, "spak.train.sample")) ||
        failed(intSetting(m, sample, "max_len", model.sampleMaxLen, false, "spak.train.sample")) ||
        failed(floatSetting(m, sample, "temperature", model.temperature, "spak.train.sample")))
      return failure();
    if (model.sampleCount < 0 || model.sampleMaxLen < 0 || !(model.temperature > 0))
      return m.emitError("trainer driver: spak.train.sample needs count >= 0, max_len >= 0, temperature > 0");
  }
  if (model.sampleMaxLen == 0)
    model.sampleMaxLen = model.maxT;
  return model;
}

} // namespace spak::target::driver
