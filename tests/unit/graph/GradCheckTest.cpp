// spak-autodiff gradient checks: for every differentiable spak_graph op, a tiny @forward (float64) whose loss is
// sum(op(...) * R) for a fixed random R, differentiated by the pass and compared element by element with central
// finite differences through the interpreter (relative error < 1e-6). Plus tied weights, broadcasting, an unused
// parameter, and a MicroGPT-shaped model.
#include "GraphTestUtil.h"

#include <catch2/catch.hpp>

using namespace spak::test;

namespace {

constexpr double kTol = 1e-6;

/// A module whose @forward takes `args` (MLIR signature text), computes `body` ending in a value %y of type
/// `ytype`, and returns sum(%y * %r) where %r is the last argument (`rtype` = ytype).
std::string lossOf(const std::string &args, const std::string &body, const std::string &ytype) {
  return "func.func @forward(" + args + ", %r: " + ytype + " {spak.input = \"r\"}) -> tensor<f64> attributes {spak.forward} {\n" +
         body + "\n  %yr = spak_graph.mul %y, %r : (" + ytype + ", " + ytype + ") -> " + ytype +
         "\n  %l = spak_graph.reduce_sum %yr {axes = array<i64>} : (" + ytype + ") -> tensor<f64>\n" +
         "  return %l : tensor<f64>\n}\n";
}

void expectClose(const GradCheck &g) {
  INFO("worst parameter: " << g.worstParam << ", relative error " << g.worstRelError);
  CHECK(g.worstRelError < kTol);
}

} // namespace

TEST_CASE("grad: embed and positions", "[graph][autodiff]") {
  std::mt19937_64 rng(1);
  auto src = lossOf("%wte: tensor<7x4xf64> {spak.param = \"wte\"}, %wpe: tensor<6x4xf64> {spak.param = \"wpe\"}, "
                    "%ids: tensor<2x?xi32> {spak.input = \"tokens\"}",
                    "  %e = spak_graph.embed %wte, %ids : (tensor<7x4xf64>, tensor<2x?xi32>) -> tensor<2x?x4xf64>\n"
                    "  %p = spak_graph.positions %ids : (tensor<2x?xi32>) -> tensor<?xi32>\n"
                    "  %pe = spak_graph.embed %wpe, %p : (tensor<6x4xf64>, tensor<?xi32>) -> tensor<?x4xf64>\n"
                    "  %y = spak_graph.add %e, %pe : (tensor<2x?x4xf64>, tensor<?x4xf64>) -> tensor<2x?x4xf64>",
                    "tensor<2x?x4xf64>");
  // Repeated ids make the scatter-add accumulate.
  auto ids = Tensor::ints({2, 5}, {1, 3, 3, 0, 6, 2, 2, 2, 5, 1});
  expectClose(gradCheck(src, {randn(rng, {7, 4}), randn(rng, {6, 4}), ids, randn(rng, {2, 5, 4})}));
}

TEST_CASE("grad: add/sub/mul with numpy broadcasting", "[graph][autodiff][broadcast]") {
  std::mt19937_64 rng(2);
  auto src = lossOf("%x: tensor<2x3x4xf64> {spak.param = \"x\"}, %b: tensor<4xf64> {spak.param = \"b\"}, "
                    "%c: tensor<3x1xf64> {spak.param = \"c\"}, %d: tensor<1x3x4xf64> {spak.param = \"d\"}",
                    "  %0 = spak_graph.add %x, %b : (tensor<2x3x4xf64>, tensor<4xf64>) -> tensor<2x3x4xf64>\n"
                    "  %1 = spak_graph.mul %0, %c : (tensor<2x3x4xf64>, tensor<3x1xf64>) -> tensor<2x3x4xf64>\n"
                    "  %2 = spak_graph.sub %d, %1 : (tensor<1x3x4xf64>, tensor<2x3x4xf64>) -> tensor<2x3x4xf64>\n"
                    "  %y = spak_graph.mul %2, %x : (tensor<2x3x4xf64>, tensor<2x3x4xf64>) -> tensor<2x3x4xf64>",
                    "tensor<2x3x4xf64>");
  expectClose(gradCheck(src, {randn(rng, {2, 3, 4}), randn(rng, {4}), randn(rng, {3, 1}), randn(rng, {1, 3, 4}),
                              randn(rng, {2, 3, 4})}));
}

TEST_CASE("grad: scale, relu, gelu, dropout", "[graph][autodiff]") {
  std::mt19937_64 rng(3);
  auto src = lossOf("%x: tensor<3x5xf64> {spak.param = \"x\"}, %s: tensor<i32> {spak.input = \"step\"}",
                    "  %0 = spak_graph.scale %x {factor = -1.5 : f64} : (tensor<3x5xf64>) -> tensor<3x5xf64>\n"
                    "  %1 = spak_graph.gelu %0 : (tensor<3x5xf64>) -> tensor<3x5xf64>\n"
                    "  %2 = spak_graph.relu %x : (tensor<3x5xf64>) -> tensor<3x5xf64>\n"
                    "  %3 = spak_graph.add %1, %2 : (tensor<3x5xf64>, tensor<3x5xf64>) -> tensor<3x5xf64>\n"
                    "  %y = spak_graph.dropout %3, %s {p = 0.3 : f64, seed = 11 : i64} : (tensor<3x5xf64>, tensor<i32>) -> tensor<3x5xf64>",
                    "tensor<3x5xf64>");
  expectClose(gradCheck(src, {randn(rng, {3, 5}), Tensor::scalar(4, true), randn(rng, {3, 5})}));
}

TEST_CASE("grad: linear with and without bias, rank 1 and rank 3 inputs", "[graph][autodiff]") {
  std::mt19937_64 rng(4);
  auto src = lossOf("%x: tensor<2x3x4xf64> {spak.param = \"x\"}, %w: tensor<5x4xf64> {spak.param = \"w\"}, "
                    "%b: tensor<5xf64> {spak.param = \"b\"}, %v: tensor<4xf64> {spak.param = \"v\"}",
                    "  %0 = spak_graph.linear %x, %w, %b : (tensor<2x3x4xf64>, tensor<5x4xf64>, tensor<5xf64>) -> tensor<2x3x5xf64>\n"
                    "  %1 = spak_graph.linear %v, %w : (tensor<4xf64>, tensor<5x4xf64>) -> tensor<5xf64>\n"
                    "  %y = spak_graph.mul %0, %1 : (tensor<2x3x5xf64>, tensor<5xf64>) -> tensor<2x3x5xf64>",
                    "tensor<2x3x5xf64>");
  expectClose(gradCheck(src, {randn(rng, {2, 3, 4}), randn(rng, {5, 4}), randn(rng, {5}), randn(rng, {4}),
                              randn(rng, {2, 3, 5})}));
}

TEST_CASE("grad: matmul, all transpose combinations", "[graph][autodiff]") {
  std::mt19937_64 rng(5);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      std::string at = ta ? "tensor<4x3xf64>" : "tensor<3x4xf64>";
      std::string bt = tb ? "tensor<5x4xf64>" : "tensor<4x5xf64>";
      std::string attrs = std::string("{transpose_a = ") + (ta ? "true" : "false") + ", transpose_b = " +
                          (tb ? "true" : "false") + "}";
      auto src = lossOf("%a: " + at + " {spak.param = \"a\"}, %b: " + bt + " {spak.param = \"b\"}",
                        "  %y = spak_graph.matmul %a, %b " + attrs + " : (" + at + ", " + bt + ") -> tensor<3x5xf64>",
                        "tensor<3x5xf64>");
      DYNAMIC_SECTION("transpose_a=" << ta << " transpose_b=" << tb) {
        expectClose(gradCheck(src, {randn(rng, ta ? std::vector<int64_t>{4, 3} : std::vector<int64_t>{3, 4}),
                                    randn(rng, tb ? std::vector<int64_t>{5, 4} : std::vector<int64_t>{4, 5}),
                                    randn(rng, {3, 5})}));
      }
    }
}

TEST_CASE("grad: batched matmul with a broadcast rank-2 operand", "[graph][autodiff][broadcast]") {
  std::mt19937_64 rng(6);
  auto src = lossOf("%a: tensor<2x3x4xf64> {spak.param = \"a\"}, %b: tensor<5x4xf64> {spak.param = \"b\"}, "
                    "%c: tensor<2x1x5x3xf64> {spak.param = \"c\"}",
                    "  %0 = spak_graph.matmul %a, %b {transpose_b = true} : (tensor<2x3x4xf64>, tensor<5x4xf64>) -> tensor<2x3x5xf64>\n"
                    "  %y = spak_graph.matmul %c, %0 : (tensor<2x1x5x3xf64>, tensor<2x3x5xf64>) -> tensor<2x2x5x5xf64>",
                    "tensor<2x2x5x5xf64>");
  expectClose(gradCheck(src, {randn(rng, {2, 3, 4}), randn(rng, {5, 4}), randn(rng, {2, 1, 5, 3}),
                              randn(rng, {2, 2, 5, 5})}));
}

TEST_CASE("grad: rmsnorm and layernorm", "[graph][autodiff]") {
  std::mt19937_64 rng(7);
  auto src = lossOf("%x: tensor<2x3x6xf64> {spak.param = \"x\"}, %w: tensor<6xf64> {spak.param = \"w\"}, "
                    "%b: tensor<6xf64> {spak.param = \"b\"}",
                    "  %0 = spak_graph.rmsnorm %x {eps = 1.0e-5 : f64} : (tensor<2x3x6xf64>) -> tensor<2x3x6xf64>\n"
                    "  %y = spak_graph.layernorm %0, %w, %b {eps = 1.0e-5 : f64} : (tensor<2x3x6xf64>, tensor<6xf64>, tensor<6xf64>) -> tensor<2x3x6xf64>",
                    "tensor<2x3x6xf64>");
  expectClose(gradCheck(src, {randn(rng, {2, 3, 6}), randn(rng, {6}), randn(rng, {6}), randn(rng, {2, 3, 6})}));
}

TEST_CASE("grad: softmax along an inner axis", "[graph][autodiff]") {
  std::mt19937_64 rng(8);
  auto src = lossOf("%x: tensor<2x4x3xf64> {spak.param = \"x\"}",
                    "  %y = spak_graph.softmax %x {axis = 1 : i64} : (tensor<2x4x3xf64>) -> tensor<2x4x3xf64>",
                    "tensor<2x4x3xf64>");
  expectClose(gradCheck(src, {randn(rng, {2, 4, 3}), randn(rng, {2, 4, 3})}));
}

TEST_CASE("grad: attention (causal, non-causal, q = k = v tied)", "[graph][autodiff]") {
  std::mt19937_64 rng(9);
  const std::string t = "tensor<2x?x8xf64>";
  SECTION("causal, separate q k v, default scale") {
    auto src = lossOf("%q: " + t + " {spak.param = \"q\"}, %k: " + t + " {spak.param = \"k\"}, %v: " + t +
                          " {spak.param = \"v\"}",
                      "  %y = spak_graph.attention %q, %k, %v {heads = 2 : i64} : (" + t + ", " + t + ", " + t + ") -> " + t,
                      t);
    expectClose(gradCheck(src, {randn(rng, {2, 5, 8}), randn(rng, {2, 5, 8}), randn(rng, {2, 5, 8}),
                                randn(rng, {2, 5, 8})}));
  }
  SECTION("non-causal, explicit scale, one tensor used as q, k and v") {
    auto src = lossOf("%x: " + t + " {spak.param = \"x\"}",
                      "  %y = spak_graph.attention %x, %x, %x {heads = 4 : i64, causal = false, scale = 0.7 : f64} : (" +
                          t + ", " + t + ", " + t + ") -> " + t,
                      t);
    expectClose(gradCheck(src, {randn(rng, {2, 4, 8}), randn(rng, {2, 4, 8})}));
  }
}

TEST_CASE("grad: cross_entropy", "[graph][autodiff]") {
  std::mt19937_64 rng(10);
  auto src = "func.func @forward(%logits: tensor<2x?x7xf64> {spak.param = \"logits\"}, %t: tensor<2x?xi32> "
             "{spak.input = \"targets\"}) -> tensor<f64> attributes {spak.forward} {\n"
             "  %l = spak_graph.cross_entropy %logits, %t : (tensor<2x?x7xf64>, tensor<2x?xi32>) -> tensor<f64>\n"
             "  return %l : tensor<f64>\n}\n";
  auto g = gradCheck(src, {randn(rng, {2, 3, 7}, 2.0), randint(rng, {2, 3}, 7)});
  expectClose(g);
}

TEST_CASE("grad: reshape, transpose, split (one part unused), concat", "[graph][autodiff]") {
  std::mt19937_64 rng(11);
  auto src = lossOf("%x: tensor<2x3x6xf64> {spak.param = \"x\"}, %z: tensor<3x2xf64> {spak.param = \"z\"}",
                    "  %0:3 = spak_graph.split %x {parts = 3 : i64, axis = 2 : i64} : (tensor<2x3x6xf64>) -> (tensor<2x3x2xf64>, tensor<2x3x2xf64>, tensor<2x3x2xf64>)\n"
                    "  %1 = spak_graph.reshape %0#0 {shape = array<i64: -1, 2>} : (tensor<2x3x2xf64>) -> tensor<6x2xf64>\n"
                    "  %2 = spak_graph.transpose %0#2 {perm = array<i64: 2, 0, 1>} : (tensor<2x3x2xf64>) -> tensor<2x2x3xf64>\n"
                    "  %3 = spak_graph.reshape %2 {shape = array<i64: 6, 2>} : (tensor<2x2x3xf64>) -> tensor<6x2xf64>\n"
                    "  %4 = spak_graph.concat %1, %3 {axis = 0 : i64} : (tensor<6x2xf64>, tensor<6x2xf64>) -> tensor<12x2xf64>\n"
                    "  %5 = spak_graph.concat %z, %z, %z, %z {axis = 0 : i64} : (tensor<3x2xf64>, tensor<3x2xf64>, tensor<3x2xf64>, tensor<3x2xf64>) -> tensor<12x2xf64>\n"
                    "  %y = spak_graph.mul %4, %5 : (tensor<12x2xf64>, tensor<12x2xf64>) -> tensor<12x2xf64>",
                    "tensor<12x2xf64>");
  auto g = gradCheck(src, {randn(rng, {2, 3, 6}), randn(rng, {3, 2}), randn(rng, {12, 2})});
  expectClose(g);
  // The middle split part does not reach the loss: its slice of dx is exactly zero.
  for (int64_t i = 0; i < 6; ++i)
    CHECK(g.grads[0].data[i * 6 + 2] == 0.0);
}

TEST_CASE("grad: reduce_sum and broadcast_like", "[graph][autodiff]") {
  std::mt19937_64 rng(12);
  auto src = lossOf("%x: tensor<2x3x4xf64> {spak.param = \"x\"}, %u: tensor<2x4xf64> {spak.param = \"u\"}",
                    "  %0 = spak_graph.reduce_sum %x {axes = array<i64: 1>, keepdims = true} : (tensor<2x3x4xf64>) -> tensor<2x1x4xf64>\n"
                    "  %1 = spak_graph.broadcast_like %0, %x {axes = array<i64: 1>} : (tensor<2x1x4xf64>, tensor<2x3x4xf64>) -> tensor<2x3x4xf64>\n"
                    "  %2 = spak_graph.broadcast_like %u, %x {axes = array<i64: -2>} : (tensor<2x4xf64>, tensor<2x3x4xf64>) -> tensor<2x3x4xf64>\n"
                    "  %3 = spak_graph.mul %1, %x : (tensor<2x3x4xf64>, tensor<2x3x4xf64>) -> tensor<2x3x4xf64>\n"
                    "  %4 = spak_graph.add %3, %2 : (tensor<2x3x4xf64>, tensor<2x3x4xf64>) -> tensor<2x3x4xf64>\n"
                    "  %y = spak_graph.reduce_sum %4 {axes = array<i64: 0, 2>} : (tensor<2x3x4xf64>) -> tensor<3xf64>",
                    "tensor<3xf64>");
  expectClose(gradCheck(src, {randn(rng, {2, 3, 4}), randn(rng, {2, 4}), randn(rng, {3})}));
}

TEST_CASE("grad: tied weights are summed (embedding + lm_head)", "[graph][autodiff][tied]") {
  std::mt19937_64 rng(13);
  auto src = "func.func @forward(%wte: tensor<9x4xf64> {spak.param = \"wte\"}, %tok: tensor<1x?xi32> "
             "{spak.input = \"tokens\"}, %tgt: tensor<1x?xi32> {spak.input = \"targets\"}) -> tensor<f64> attributes {spak.forward} {\n"
             "  %e = spak_graph.embed %wte, %tok : (tensor<9x4xf64>, tensor<1x?xi32>) -> tensor<1x?x4xf64>\n"
             "  %h = spak_graph.rmsnorm %e : (tensor<1x?x4xf64>) -> tensor<1x?x4xf64>\n"
             "  %logits = spak_graph.linear %h, %wte : (tensor<1x?x4xf64>, tensor<9x4xf64>) -> tensor<1x?x9xf64>\n"
             "  %l = spak_graph.cross_entropy %logits, %tgt : (tensor<1x?x9xf64>, tensor<1x?xi32>) -> tensor<f64>\n"
             "  return %l : tensor<f64>\n}\n";
  std::vector<Tensor> args{randn(rng, {9, 4}), randint(rng, {1, 6}, 9), randint(rng, {1, 6}, 9)};
  expectClose(gradCheck(src, args));

  // The backward sums the embed_grad and the lm_head weight gradient into one result.
  Module m(src);
  REQUIRE(m.runPasses("spak-autodiff"));
  std::string ir = m.print();
  CHECK(ir.find("spak_graph.embed_grad") != std::string::npos);
  CHECK(ir.find("spak.grad_of = \"wte\"") != std::string::npos);
}

TEST_CASE("grad: a parameter that does not reach the loss gets zeros", "[graph][autodiff]") {
  std::mt19937_64 rng(14);
  auto src = lossOf("%x: tensor<3xf64> {spak.param = \"x\"}, %unused: tensor<2x2xf64> {spak.param = \"unused\"}",
                    "  %y = spak_graph.relu %x : (tensor<3xf64>) -> tensor<3xf64>", "tensor<3xf64>");
  auto g = gradCheck(src, {randn(rng, {3}), randn(rng, {2, 2}), randn(rng, {3})});
  expectClose(g);
  for (double v : g.grads[1].data)
    CHECK(v == 0.0);
}

// The MicroGPT forward of examples/microgpt (1 layer, no biases), at reduced width: embed + positions, rmsnorm,
// causal attention, relu MLP, separate lm_head, cross_entropy, with a dynamic sequence length.
static const char *kMicroGpt = R"mlir(
func.func @forward(%wte: tensor<11x8xf64> {spak.param = "wte"}, %wpe: tensor<6x8xf64> {spak.param = "wpe"},
                   %lm_head: tensor<11x8xf64> {spak.param = "lm_head"},
                   %wq: tensor<8x8xf64> {spak.param = "layer0.attn_wq"}, %wk: tensor<8x8xf64> {spak.param = "layer0.attn_wk"},
                   %wv: tensor<8x8xf64> {spak.param = "layer0.attn_wv"}, %wo: tensor<8x8xf64> {spak.param = "layer0.attn_wo"},
                   %fc1: tensor<32x8xf64> {spak.param = "layer0.mlp_fc1"}, %fc2: tensor<8x32xf64> {spak.param = "layer0.mlp_fc2"},
                   %tok: tensor<1x?xi32> {spak.input = "tokens"}, %tgt: tensor<1x?xi32> {spak.input = "targets"})
    -> (tensor<f64>, tensor<1x?x11xf64>) attributes {spak.forward} {
  %te = spak_graph.embed %wte, %tok : (tensor<11x8xf64>, tensor<1x?xi32>) -> tensor<1x?x8xf64>
  %pos = spak_graph.positions %tok : (tensor<1x?xi32>) -> tensor<?xi32>
  %pe = spak_graph.embed %wpe, %pos : (tensor<6x8xf64>, tensor<?xi32>) -> tensor<?x8xf64>
  %x0s = spak_graph.add %te, %pe : (tensor<1x?x8xf64>, tensor<?x8xf64>) -> tensor<1x?x8xf64>
  %x0 = spak_graph.rmsnorm %x0s {eps = 1.0e-5 : f64} : (tensor<1x?x8xf64>) -> tensor<1x?x8xf64>
  %h1 = spak_graph.rmsnorm %x0 {eps = 1.0e-5 : f64} : (tensor<1x?x8xf64>) -> tensor<1x?x8xf64>
  %q = spak_graph.linear %h1, %wq : (tensor<1x?x8xf64>, tensor<8x8xf64>) -> tensor<1x?x8xf64>
  %k = spak_graph.linear %h1, %wk : (tensor<1x?x8xf64>, tensor<8x8xf64>) -> tensor<1x?x8xf64>
  %v = spak_graph.linear %h1, %wv : (tensor<1x?x8xf64>, tensor<8x8xf64>) -> tensor<1x?x8xf64>
  %a = spak_graph.attention %q, %k, %v {heads = 2 : i64, causal = true} : (tensor<1x?x8xf64>, tensor<1x?x8xf64>, tensor<1x?x8xf64>) -> tensor<1x?x8xf64>
  %ao = spak_graph.linear %a, %wo : (tensor<1x?x8xf64>, tensor<8x8xf64>) -> tensor<1x?x8xf64>
  %x1 = spak_graph.add %x0, %ao : (tensor<1x?x8xf64>, tensor<1x?x8xf64>) -> tensor<1x?x8xf64>
  %h2 = spak_graph.rmsnorm %x1 {eps = 1.0e-5 : f64} : (tensor<1x?x8xf64>) -> tensor<1x?x8xf64>
  %f1 = spak_graph.linear %h2, %fc1 : (tensor<1x?x8xf64>, tensor<32x8xf64>) -> tensor<1x?x32xf64>
  %r = spak_graph.relu %f1 : (tensor<1x?x32xf64>) -> tensor<1x?x32xf64>
  %f2 = spak_graph.linear %r, %fc2 : (tensor<1x?x32xf64>, tensor<8x32xf64>) -> tensor<1x?x8xf64>
  %x2 = spak_graph.add %x1, %f2 : (tensor<1x?x8xf64>, tensor<1x?x8xf64>) -> tensor<1x?x8xf64>
  %logits = spak_graph.linear %x2, %lm_head : (tensor<1x?x8xf64>, tensor<11x8xf64>) -> tensor<1x?x11xf64>
  %loss = spak_graph.cross_entropy %logits, %tgt : (tensor<1x?x11xf64>, tensor<1x?xi32>) -> tensor<f64>
  return %loss, %logits : tensor<f64>, tensor<1x?x11xf64>
}
)mlir";

TEST_CASE("grad: MicroGPT-shaped forward end to end", "[graph][autodiff][microgpt]") {
  std::mt19937_64 rng(15);
  std::vector<Tensor> args{randn(rng, {11, 8}, 0.3), randn(rng, {6, 8}, 0.3), randn(rng, {11, 8}, 0.3),
                           randn(rng, {8, 8}, 0.3),  randn(rng, {8, 8}, 0.3), randn(rng, {8, 8}, 0.3),
                           randn(rng, {8, 8}, 0.3),  randn(rng, {32, 8}, 0.3), randn(rng, {8, 32}, 0.3),
                           Tensor::ints({1, 5}, {10, 0, 4, 4, 7}), Tensor::ints({1, 5}, {0, 4, 4, 7, 10})};
  auto g = gradCheck(kMicroGpt, args);
  expectClose(g);
  REQUIRE(g.grads.size() == 9);

  // @backward's signature: same arguments, (loss, 9 gradients) with spak.grad_of in argument order.
  Module m(kMicroGpt);
  REQUIRE(m.runPasses("spak-autodiff"));
  auto bwd = m.module->lookupSymbol<mlir::func::FuncOp>("backward");
  REQUIRE(bwd);
  REQUIRE(bwd.getNumResults() == 10);
  CHECK(bwd.getResultAttr(0, "spak.loss"));
  const char *names[] = {"wte", "wpe", "lm_head", "layer0.attn_wq", "layer0.attn_wk", "layer0.attn_wv",
                         "layer0.attn_wo", "layer0.mlp_fc1", "layer0.mlp_fc2"};
  for (int i = 0; i < 9; ++i)
    CHECK(bwd.getResultAttrOfType<mlir::StringAttr>(i + 1, "spak.grad_of").getValue() == names[i]);
}
