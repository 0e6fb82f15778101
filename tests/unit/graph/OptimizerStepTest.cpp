// spak-optimizer-step: @train_step computed in the interpreter equals @backward + a hand-written AdamW/Adam
// update (cosine/linear schedules, grad clipping, no decay on 1-D parameters); and a few Adam steps of a tiny
// model lower the loss.
#include "GraphTestUtil.h"

#include "spak/Dialect/Graph/Graph.h"

#include <catch2/catch.hpp>
#include <cmath>

using namespace spak::test;

namespace {
const char *kTiny = R"mlir(
module attributes {spak.train = {optimizer = "adamw", lr = 0.05 : f64, beta1 = 0.9 : f64, beta2 = 0.95 : f64,
                                 eps = 1.0e-8 : f64, weight_decay = 0.1 : f64, schedule = "cosine", warmup = 2 : i64,
                                 min_lr = 0.005 : f64, steps = 10 : i64, grad_clip = 0.5 : f64}} {
func.func @forward(%w: tensor<5x3xf64> {spak.param = "w"}, %b: tensor<5xf64> {spak.param = "b"},
                   %x: tensor<4x3xf64> {spak.input = "x"}, %t: tensor<4xi32> {spak.input = "targets"})
    -> tensor<f64> attributes {spak.forward} {
  %l = spak_graph.linear %x, %w, %b : (tensor<4x3xf64>, tensor<5x3xf64>, tensor<5xf64>) -> tensor<4x5xf64>
  %loss = spak_graph.cross_entropy %l, %t : (tensor<4x5xf64>, tensor<4xi32>) -> tensor<f64>
  return %loss : tensor<f64>
}
}
)mlir";
} // namespace

TEST_CASE("optimizer-step: train_step = backward + clip + AdamW (cosine, warmup)", "[graph][optimizer]") {
  Module m(kTiny);
  REQUIRE(m.ok());
  bool ok = m.runPasses("spak-autodiff,spak-optimizer-step");
  INFO(m.diagnostics);
  REQUIRE(ok);
  auto ts = m.module->lookupSymbol<mlir::func::FuncOp>("train_step");
  REQUIRE(ts);
  // (w, b, m_w, m_b, v_w, v_b, step, x, targets) -> (loss, w', b', m_w', m_b', v_w', v_b', grad_norm)
  REQUIRE(ts.getNumArguments() == 9);
  REQUIRE(ts.getNumResults() == 8);
  CHECK(ts.getArgAttrOfType<mlir::StringAttr>(2, "spak.adam_m").getValue() == "w");
  CHECK(ts.getArgAttr(6, "spak.step"));
  // The step argument is [step, total_steps]: the schedule's length comes in at run time.
  CHECK(ts.getArgumentTypes()[6] == mlir::RankedTensorType::get({2}, mlir::IntegerType::get(ts.getContext(), 32)));
  CHECK(ts.getArgAttrOfType<mlir::StringAttr>(8, "spak.input").getValue() == "targets");
  CHECK(ts.getResultAttr(7, "spak.grad_norm"));

  std::mt19937_64 rng(21);
  Tensor w = randn(rng, {5, 3}), b = randn(rng, {5}), x = randn(rng, {4, 3}, 2.0);
  Tensor mw = randn(rng, {5, 3}, 0.01), mb = randn(rng, {5}, 0.01);
  Tensor vw = Tensor::zeros({5, 3}), vb = Tensor::zeros({5});
  for (double &v : vw.data) v = 0.001;
  for (double &v : vb.data) v = 0.002;
  Tensor t = Tensor::ints({4}, {0, 4, 2, 2});
  int64_t step = 5;

  auto bwd = m.call("backward", {w, b, x, t});
  auto out = m.call("train_step", {w, b, mw, mb, vw, vb, Tensor::ints({2}, {step, 10}), x, t});
  CHECK(out[0].item() == Approx(bwd[0].item()).epsilon(1e-15));

  double sq = 0;
  for (int k = 1; k <= 2; ++k)
    for (double g : bwd[k].data) sq += g * g;
  double norm = std::sqrt(sq), coef = std::min(1.0, 0.5 / (norm + 1e-6));
  CHECK(out[7].item() == Approx(norm).epsilon(1e-14));
  REQUIRE(norm > 0.5); // the clip is active in this test

  double ratio = (double)(step - 2) / (10 - 2);
  double lr = 0.005 + 0.5 * (1 + std::cos(M_PI * ratio)) * (0.05 - 0.005);
  double c1 = 1 - std::pow(0.9, step + 1), c2 = 1 - std::pow(0.95, step + 1);
  const Tensor *params[] = {&w, &b}, *ms[] = {&mw, &mb}, *vs[] = {&vw, &vb};
  for (int k = 0; k < 2; ++k) {
    double wd = k == 0 ? 0.1 : 0.0; // the 1-D bias is not decayed
    for (int64_t i = 0; i < params[k]->numel(); ++i) {
      double g = bwd[1 + k].data[i] * coef, p = params[k]->data[i];
      double mi = 0.9 * ms[k]->data[i] + 0.1 * g, vi = 0.95 * vs[k]->data[i] + 0.05 * g * g;
      double pn = p - lr * wd * p - lr * (mi / c1) / (std::sqrt(vi / c2) + 1e-8);
      CHECK(out[1 + k].data[i] == Approx(pn).epsilon(1e-13));
      CHECK(out[3 + k].data[i] == Approx(mi).epsilon(1e-14));
      CHECK(out[5 + k].data[i] == Approx(vi).epsilon(1e-14));
    }
  }
}

TEST_CASE("optimizer-step: Adam steps lower the loss (linear decay, no clip)", "[graph][optimizer]") {
  std::string src = kTiny;
  src.replace(src.find("optimizer = \"adamw\""), 19, "optimizer = \"adam\" ");
  src.replace(src.find("weight_decay = 0.1 : f64"), 24, "weight_decay = 0.0 : f64");
  src.replace(src.find("schedule = \"cosine\""), 19, "schedule = \"linear_decay\"");
  src.replace(src.find("grad_clip = 0.5 : f64"), 21, "grad_clip = 0.0 : f64");
  Module m(src);
  REQUIRE(m.ok());
  bool ok = m.runPasses("spak-autodiff,spak-optimizer-step{steps=40}");
  INFO(m.diagnostics);
  REQUIRE(ok);
  auto ts = m.module->lookupSymbol<mlir::func::FuncOp>("train_step");
  REQUIRE(ts.getNumResults() == 7); // no grad_norm without clipping
  std::mt19937_64 rng(22);
  std::vector<Tensor> state{randn(rng, {5, 3}), randn(rng, {5}), Tensor::zeros({5, 3}), Tensor::zeros({5}),
                            Tensor::zeros({5, 3}), Tensor::zeros({5})};
  Tensor x = randn(rng, {4, 3}), t = Tensor::ints({4}, {1, 3, 0, 3});
  double first = 0, last = 0;
  for (int s = 0; s < 40; ++s) {
    std::vector<Tensor> args(state.begin(), state.end());
    args.insert(args.begin() + 6, Tensor::ints({2}, {s, 40}));  // [step, total_steps]
    args.push_back(x);
    args.push_back(t);
    auto out = m.call("train_step", args);
    (s == 0 ? first : last) = out[0].item();
    for (int k = 0; k < 6; ++k)
      state[k] = out[1 + k];
  }
  CHECK(last < 0.5 * first);
}

TEST_CASE("optimizer-step: configuration errors are precise", "[graph][optimizer]") {
  std::string src = kTiny;
  src.replace(src.find("optimizer = \"adamw\""), 19, "optimizer = \"sgd\"  ");
  Module m(src);
  REQUIRE(m.ok());
  CHECK_FALSE(m.runPasses("spak-autodiff,spak-optimizer-step"));
  CHECK(m.diagnostics.find("optimizer must be \"adam\" or \"adamw\", got \"sgd\"") != std::string::npos);
}
