// Implementation of the graph unit-test helpers (see GraphTestUtil.h).
#include "GraphTestUtil.h"

#include "spak/Dialect/Graph/Graph.h"
#include "spak/Transforms/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace spak::test {

static mlir::DialectRegistry &registry() {
  static mlir::DialectRegistry r = [] {
    mlir::DialectRegistry reg;
    graph::registerGraphDialect(reg);
    registerSpakPasses();
    return reg;
  }();
  return r;
}

Module::Module(const std::string &source) {
  ctx.appendDialectRegistry(registry());
  ctx.loadAllAvailableDialects();
  ctx.getDiagEngine().registerHandler([this](mlir::Diagnostic &d) {
    llvm::raw_string_ostream os(diagnostics);
    os << d.getLocation() << ": " << d << "\n";
    return mlir::success();
  });
  module = mlir::parseSourceString<mlir::ModuleOp>(source, &ctx);
}

bool Module::runPasses(const std::string &pipeline) {
  mlir::PassManager pm(&ctx);
  std::string err;
  llvm::raw_string_ostream es(err);
  if (mlir::failed(mlir::parsePassPipeline(pipeline, pm, es))) {
    diagnostics += err;
    return false;
  }
  return mlir::succeeded(pm.run(*module));
}

bool Module::tryCall(const std::string &name, const std::vector<Tensor> &args, std::vector<Tensor> &out,
                     std::string &error) {
  return interp::runFunction(*module, name, args, out, error);
}

std::vector<Tensor> Module::call(const std::string &name, const std::vector<Tensor> &args) {
  std::vector<Tensor> out;
  std::string error;
  bool ok = tryCall(name, args, out, error);
  INFO(error);
  REQUIRE(ok);
  return out;
}

std::string Module::print() {
  std::string s;
  llvm::raw_string_ostream os(s);
  module->print(os);
  return s;
}

Tensor randn(std::mt19937_64 &rng, std::vector<int64_t> shape, double std) {
  std::normal_distribution<double> dist(0.0, std);
  Tensor t = Tensor::zeros(std::move(shape));
  for (double &x : t.data)
    x = dist(rng);
  return t;
}

Tensor randint(std::mt19937_64 &rng, std::vector<int64_t> shape, int64_t bound) {
  std::uniform_int_distribution<int64_t> dist(0, bound - 1);
  Tensor t = Tensor::zeros(std::move(shape), true);
  for (double &x : t.data)
    x = (double)dist(rng);
  return t;
}

GradCheck gradCheck(const std::string &source, const std::vector<Tensor> &args, double h) {
  Module m(source);
  INFO(m.diagnostics);
  REQUIRE(m.ok());
  auto fwd = m.module->lookupSymbol<mlir::func::FuncOp>("forward");
  REQUIRE(fwd);
  std::vector<unsigned> params;
  std::vector<std::string> names;
  for (unsigned i = 0; i < fwd.getNumArguments(); ++i)
    if (auto n = fwd.getArgAttrOfType<mlir::StringAttr>(i, graph::kParamAttr)) {
      params.push_back(i);
      names.push_back(n.getValue().str());
    }
  REQUIRE(!params.empty());
  bool ran = m.runPasses("spak-autodiff");
  INFO(m.diagnostics);
  REQUIRE(ran);

  std::vector<Tensor> bwd = m.call("backward", args);
  REQUIRE(bwd.size() == 1 + params.size());
  double loss = m.call("forward", args)[0].item();
  REQUIRE(bwd[0].item() == Approx(loss).epsilon(1e-12));

  GradCheck result;
  for (size_t k = 0; k < params.size(); ++k) {
    const Tensor &analytic = bwd[1 + k];
    REQUIRE(analytic.shape == args[params[k]].shape);
    double diff2 = 0.0, num2 = 0.0;
    for (int64_t i = 0; i < analytic.numel(); ++i) {
      std::vector<Tensor> plus = args, minus = args;
      plus[params[k]].data[i] += h;
      minus[params[k]].data[i] -= h;
      double numeric = (m.call("forward", plus)[0].item() - m.call("forward", minus)[0].item()) / (2 * h);
      diff2 += (analytic.data[i] - numeric) * (analytic.data[i] - numeric);
      num2 += numeric * numeric;
    }
    double rel = std::sqrt(diff2) / std::max(std::sqrt(num2), 1e-12);
    if (num2 == 0.0 && diff2 == 0.0)
      rel = 0.0;
    if (rel >= result.worstRelError) {
      result.worstRelError = rel;
      result.worstParam = names[k];
    }
    result.grads.push_back(analytic);
  }
  return result;
}

} // namespace spak::test
