// Reference-interpreter semantics: exact values of the ops whose definitions the emitters must match
// (rmsnorm eps inside the sqrt, GELU tanh constants, causal mask, cross-entropy mean over B*T, Adam with bias
// correction and schedules, global-norm clipping, dropout mask), and precise runtime errors.
#include "GraphTestUtil.h"

#include <catch2/catch.hpp>
#include <cmath>

using namespace spak::test;
using spak::interp::Tensor;

TEST_CASE("interp: rmsnorm puts eps inside the square root", "[graph][interp]") {
  Module m("func.func @f(%x: tensor<1x2xf64>) -> tensor<1x2xf64> {\n"
           "  %y = spak_graph.rmsnorm %x {eps = 0.5 : f64} : (tensor<1x2xf64>) -> tensor<1x2xf64>\n"
           "  return %y : tensor<1x2xf64>\n}\n");
  REQUIRE(m.ok());
  auto y = m.call("f", {Tensor({1, 2}, {3.0, 4.0})})[0];
  double r = 1.0 / std::sqrt((9.0 + 16.0) / 2.0 + 0.5);
  CHECK(y.data[0] == Approx(3.0 * r).epsilon(1e-15));
  CHECK(y.data[1] == Approx(4.0 * r).epsilon(1e-15));
}

TEST_CASE("interp: gelu uses the tanh approximation", "[graph][interp]") {
  Module m("func.func @f(%x: tensor<3xf64>) -> tensor<3xf64> {\n"
           "  %y = spak_graph.gelu %x : (tensor<3xf64>) -> tensor<3xf64>\n"
           "  return %y : tensor<3xf64>\n}\n");
  auto y = m.call("f", {Tensor({3}, {1.0, -2.0, 0.0})})[0];
  auto ref = [](double x) {
    return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  };
  CHECK(y.data[0] == Approx(0.8411919906082768).epsilon(1e-14));
  CHECK(y.data[1] == Approx(ref(-2.0)).epsilon(1e-15));
  CHECK(y.data[2] == 0.0);
}

TEST_CASE("interp: cross_entropy is the mean over all B*T positions", "[graph][interp]") {
  Module m("func.func @f(%l: tensor<2x3x4xf64>, %t: tensor<2x3xi32>) -> tensor<f64> {\n"
           "  %y = spak_graph.cross_entropy %l, %t : (tensor<2x3x4xf64>, tensor<2x3xi32>) -> tensor<f64>\n"
           "  return %y : tensor<f64>\n}\n");
  Tensor logits = Tensor::zeros({2, 3, 4});
  logits.data[0 * 4 + 1] = 2.0; // position (0,0), class 1
  auto t = Tensor::ints({2, 3}, {1, 0, 0, 0, 0, 3});
  double expected = (5.0 * std::log(4.0) + (std::log(3.0 + std::exp(2.0)) - 2.0)) / 6.0;
  CHECK(m.call("f", {logits, t})[0].item() == Approx(expected).epsilon(1e-14));

  std::vector<Tensor> out;
  std::string error;
  CHECK_FALSE(m.tryCall("f", {logits, Tensor::ints({2, 3}, {1, 0, 0, 0, 4, 3})}, out, error));
  CHECK(error.find("target 4 is outside [0, 4)") != std::string::npos);
}

TEST_CASE("interp: causal attention, first query sees only the first key", "[graph][interp]") {
  Module m("func.func @f(%q: tensor<1x3x4xf64>, %k: tensor<1x3x4xf64>, %v: tensor<1x3x4xf64>) -> tensor<1x3x4xf64> {\n"
           "  %y = spak_graph.attention %q, %k, %v {heads = 2 : i64} : (tensor<1x3x4xf64>, tensor<1x3x4xf64>, tensor<1x3x4xf64>) -> tensor<1x3x4xf64>\n"
           "  return %y : tensor<1x3x4xf64>\n}\n");
  std::mt19937_64 rng(1);
  Tensor q = randn(rng, {1, 3, 4}), k = randn(rng, {1, 3, 4}), v = randn(rng, {1, 3, 4});
  auto y = m.call("f", {q, k, v})[0];
  for (int d = 0; d < 4; ++d)
    CHECK(y.data[d] == Approx(v.data[d]).epsilon(1e-15));
  // Second query, head 0 (dims 0..1): softmax over keys 0 and 1 with scale 1/sqrt(2).
  double s0 = (q.data[4] * k.data[0] + q.data[5] * k.data[1]) / std::sqrt(2.0);
  double s1 = (q.data[4] * k.data[4] + q.data[5] * k.data[5]) / std::sqrt(2.0);
  double p0 = std::exp(s0) / (std::exp(s0) + std::exp(s1)), p1 = 1.0 - p0;
  CHECK(y.data[4] == Approx(p0 * v.data[0] + p1 * v.data[4]).epsilon(1e-13));
}

TEST_CASE("interp: adam matches microgpt.py's update and the schedules", "[graph][interp][optimizer]") {
  Module m("func.func @f(%p: tensor<2xf64>, %g: tensor<2xf64>, %m: tensor<2xf64>, %v: tensor<2xf64>, %s: tensor<i32>)\n"
           "    -> (tensor<2xf64>, tensor<2xf64>, tensor<2xf64>) {\n"
           "  %r:3 = spak_graph.adam %p, %g, %m, %v, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = \"linear_decay\", total_steps = 1000 : i64} : (tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<i32>) -> (tensor<2xf64>, tensor<2xf64>, tensor<2xf64>)\n"
           "  return %r#0, %r#1, %r#2 : tensor<2xf64>, tensor<2xf64>, tensor<2xf64>\n}\n");
  Tensor p({2}, {1.0, -0.5}), g({2}, {0.5, 0.25}), mm({2}, {0.01, 0.0}), vv({2}, {0.001, 0.0});
  int step = 7;
  auto out = m.call("f", {p, g, mm, vv, Tensor::scalar(step, true)});
  // microgpt.py: lr_t = lr * (1 - step / num_steps); m_hat = m / (1 - b1^(step+1)); v_hat likewise.
  double lr = 0.01 * (1.0 - 7.0 / 1000.0);
  for (int i = 0; i < 2; ++i) {
    double mi = 0.85 * mm.data[i] + 0.15 * g.data[i], vi = 0.99 * vv.data[i] + 0.01 * g.data[i] * g.data[i];
    double mhat = mi / (1 - std::pow(0.85, 8)), vhat = vi / (1 - std::pow(0.99, 8));
    CHECK(out[1].data[i] == Approx(mi).epsilon(1e-15));
    CHECK(out[2].data[i] == Approx(vi).epsilon(1e-15));
    CHECK(out[0].data[i] == Approx(p.data[i] - lr * mhat / (std::sqrt(vhat) + 1e-8)).epsilon(1e-14));
  }

  using spak::interp::scheduledLr;
  CHECK(scheduledLr("constant", 1e-3, 0, 0, 0, 123) == 1e-3);
  CHECK(scheduledLr("cosine", 1e-3, 1e-4, 100, 5000, 0) == Approx(1e-3 * 1 / 101.0));
  CHECK(scheduledLr("cosine", 1e-3, 1e-4, 100, 5000, 100) == Approx(1e-3));
  CHECK(scheduledLr("cosine", 1e-3, 1e-4, 100, 5000, 2550) == Approx(1e-4 + 0.5 * (1e-3 - 1e-4)));
  CHECK(scheduledLr("cosine", 1e-3, 1e-4, 100, 5000, 5000) == Approx(1e-4));
  CHECK(scheduledLr("cosine", 1e-3, 1e-4, 100, 5000, 6000) == Approx(1e-4));
  CHECK(scheduledLr("linear_decay", 0.01, 0, 0, 1000, 999) == Approx(0.01 * 0.001));
}

TEST_CASE("interp: adam's step pair [s, N] sets the schedule length at run time", "[graph][interp][optimizer]") {
  // linear_decay with the attribute 1000 as the default; cosine with warmup 2, attribute 1000.
  Module m("func.func @f(%p: tensor<1xf64>, %g: tensor<1xf64>, %z: tensor<1xf64>, %s: tensor<2xi32>)\n"
           "    -> (tensor<1xf64>, tensor<1xf64>) {\n"
           "  %a:3 = spak_graph.adam %p, %g, %z, %z, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = \"linear_decay\", total_steps = 1000 : i64} : (tensor<1xf64>, tensor<1xf64>, tensor<1xf64>, tensor<1xf64>, tensor<2xi32>) -> (tensor<1xf64>, tensor<1xf64>, tensor<1xf64>)\n"
           "  %c:3 = spak_graph.adam %p, %g, %z, %z, %s {lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, schedule = \"cosine\", warmup = 2 : i64, min_lr = 1.0e-4 : f64, total_steps = 1000 : i64} : (tensor<1xf64>, tensor<1xf64>, tensor<1xf64>, tensor<1xf64>, tensor<2xi32>) -> (tensor<1xf64>, tensor<1xf64>, tensor<1xf64>)\n"
           "  return %a#0, %c#0 : tensor<1xf64>, tensor<1xf64>\n}\n");
  // m = v = 0, g = 1: the step moves p by lr_s (1-b1)/(1-b1^t) / (sqrt((1-b2)/(1-b2^t)) + eps), so the applied rate
  // is recovered from the update.
  auto rate = [&](int s, int n, double b1, double b2, int which) {
    auto out = m.call("f", {Tensor({1}, {0.0}), Tensor({1}, {1.0}), Tensor({1}, {0.0}),
                            Tensor::ints({2}, {s, n})});
    double t = s + 1, mhat = (1 - b1) / (1 - std::pow(b1, t)), vhat = (1 - b2) / (1 - std::pow(b2, t));
    return -out[which].data[0] / (mhat / (std::sqrt(vhat) + 1e-8));
  };
  using spak::interp::scheduledLr;
  // N = 100 (run time), not the attribute's 1000.
  CHECK(rate(7, 100, 0.85, 0.99, 0) == Approx(0.01 * (1 - 7.0 / 100)).epsilon(1e-12));
  CHECK(rate(7, 100, 0.9, 0.95, 1) == Approx(scheduledLr("cosine", 1e-3, 1e-4, 2, 100, 7)).epsilon(1e-12));
  CHECK(rate(7, 100, 0.9, 0.95, 1) != Approx(scheduledLr("cosine", 1e-3, 1e-4, 2, 1000, 7)).epsilon(1e-6));
  // N <= 0: the attribute.
  CHECK(rate(7, 0, 0.85, 0.99, 0) == Approx(0.01 * (1 - 7.0 / 1000)).epsilon(1e-12));
  CHECK(rate(7, -3, 0.9, 0.95, 1) == Approx(scheduledLr("cosine", 1e-3, 1e-4, 2, 1000, 7)).epsilon(1e-12));
  // Past N: cosine holds min_lr; linear_decay is clamped at 0.
  CHECK(rate(150, 100, 0.9, 0.95, 1) == Approx(1e-4).epsilon(1e-12));
  CHECK(rate(150, 100, 0.85, 0.99, 0) == 0.0);
  // A run-time N <= warmup (the verifier cannot see it): span 1, r clamped, as the kernels do; no division by 0.
  CHECK(scheduledLr("cosine", 1e-3, 1e-4, 2, 2, 2) == Approx(1e-3));
  CHECK(scheduledLr("cosine", 1e-3, 1e-4, 2, 2, 3) == Approx(1e-4));
}

TEST_CASE("interp: adamw decays decoupled from the gradient", "[graph][interp][optimizer]") {
  Module m("func.func @f(%p: tensor<1xf64>, %z: tensor<1xf64>, %s: tensor<i64>) -> tensor<1xf64> {\n"
           "  %r:3 = spak_graph.adam %p, %z, %z, %z, %s {lr = 0.1 : f64, beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-8 : f64, weight_decay = 0.5 : f64} : (tensor<1xf64>, tensor<1xf64>, tensor<1xf64>, tensor<1xf64>, tensor<i64>) -> (tensor<1xf64>, tensor<1xf64>, tensor<1xf64>)\n"
           "  return %r#0 : tensor<1xf64>\n}\n");
  // Zero gradient: only the decay acts, p' = p (1 - lr wd).
  CHECK(m.call("f", {Tensor({1}, {2.0}), Tensor({1}, {0.0}), Tensor::scalar(0, true)})[0].item() ==
        Approx(2.0 * (1 - 0.05)).epsilon(1e-15));
}

TEST_CASE("interp: clip_grad_norm scales by max_norm / (norm + 1e-6)", "[graph][interp][optimizer]") {
  Module m("func.func @f(%a: tensor<1xf64>, %b: tensor<1x1xf64>) -> (tensor<1xf64>, tensor<1x1xf64>, tensor<f64>) {\n"
           "  %r:3 = spak_graph.clip_grad_norm %a, %b {max_norm = 1.0 : f64} : (tensor<1xf64>, tensor<1x1xf64>) -> (tensor<1xf64>, tensor<1x1xf64>, tensor<f64>)\n"
           "  return %r#0, %r#1, %r#2 : tensor<1xf64>, tensor<1x1xf64>, tensor<f64>\n}\n");
  auto out = m.call("f", {Tensor({1}, {3.0}), Tensor({1, 1}, {4.0})});
  CHECK(out[2].item() == 5.0);
  CHECK(out[0].item() == Approx(3.0 / (5.0 + 1e-6)).epsilon(1e-15));
  CHECK(out[1].item() == Approx(4.0 / (5.0 + 1e-6)).epsilon(1e-15));
  auto small = m.call("f", {Tensor({1}, {0.3}), Tensor({1, 1}, {0.4})}); // norm 0.5 < 1: unchanged
  CHECK(small[0].item() == 0.3);
}

TEST_CASE("interp: dropout keeps ~1-p of the values, scaled by 1/(1-p), deterministically", "[graph][interp]") {
  Module m("func.func @f(%x: tensor<4000xf64>, %s: tensor<i32>) -> tensor<4000xf64> {\n"
           "  %y = spak_graph.dropout %x, %s {p = 0.25 : f64, seed = 3 : i64} : (tensor<4000xf64>, tensor<i32>) -> tensor<4000xf64>\n"
           "  return %y : tensor<4000xf64>\n}\n");
  Tensor x({4000}, std::vector<double>(4000, 1.0));
  auto a = m.call("f", {x, Tensor::scalar(1, true)})[0], b = m.call("f", {x, Tensor::scalar(1, true)})[0],
       c = m.call("f", {x, Tensor::scalar(2, true)})[0];
  int kept = 0;
  for (double v : a.data) {
    CHECK((v == 0.0 || v == Approx(1.0 / 0.75)));
    kept += v != 0.0;
  }
  CHECK(kept > 2850);
  CHECK(kept < 3150);
  CHECK(a.data == b.data); // same seed and offset: same mask
  CHECK(a.data != c.data); // another offset (step): another mask
}

TEST_CASE("interp: runtime errors name the op and the problem", "[graph][interp]") {
  Module m("func.func @f(%t: tensor<5x2xf64>, %i: tensor<3xi32>) -> tensor<3x2xf64> {\n"
           "  %y = spak_graph.embed %t, %i : (tensor<5x2xf64>, tensor<3xi32>) -> tensor<3x2xf64>\n"
           "  return %y : tensor<3x2xf64>\n}\n");
  std::vector<Tensor> out;
  std::string error;
  CHECK_FALSE(m.tryCall("f", {Tensor::zeros({5, 2}), Tensor::ints({3}, {0, 5, 1})}, out, error));
  CHECK(error.find("'spak_graph.embed'") != std::string::npos);
  CHECK(error.find("id 5 is outside [0, 5)") != std::string::npos);
  CHECK_FALSE(m.tryCall("f", {Tensor::zeros({4, 2}), Tensor::ints({3}, {0, 1, 1})}, out, error));
  CHECK(error.find("argument #0") != std::string::npos);
}

TEST_CASE("interp: a dynamic size-1 dimension must not broadcast at run time", "[graph][interp][broadcast]") {
  Module m("func.func @f(%a: tensor<?x2xf64>, %b: tensor<?x2xf64>) -> tensor<?x2xf64> {\n"
           "  %y = spak_graph.add %a, %b : (tensor<?x2xf64>, tensor<?x2xf64>) -> tensor<?x2xf64>\n"
           "  return %y : tensor<?x2xf64>\n}\n");
  std::vector<Tensor> out;
  std::string error;
  CHECK(m.tryCall("f", {Tensor::zeros({3, 2}), Tensor::zeros({3, 2})}, out, error));
  CHECK_FALSE(m.tryCall("f", {Tensor::zeros({3, 2}), Tensor::zeros({1, 2})}, out, error));
  CHECK(error.find("broadcast dimensions must be a static 1") != std::string::npos);
}
