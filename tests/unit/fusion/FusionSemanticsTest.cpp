// Fused regions mean exactly what the unfused graph means: for each fusion pass, the same module is
// interpreted (float64 reference, spak/Interp) before and after the pass, and the results must be
// identical — the fused function is run through its regions' bodies, so any difference is a rewiring
// bug in the pass (wrong operand order, wrong yielded value, a dropped or duplicated op).
#include "GraphTestUtil.h"

#include <catch2/catch.hpp>

using namespace spak::test;

namespace {

const char *kRules = R"mlir(spak.rules = [
  #spak_graph.rule<name = "Fuse RMSNorm", apply = "fuse_norm_into_linear", enabled = true, priority = 10, loc = "rules/fusion.dsl:4:3">,
  #spak_graph.rule<name = "Bias GELU Epilogue", apply = "epilogue(bias, gelu)", enabled = true, priority = 20, loc = "rules/fusion.dsl:10:3">,
  #spak_graph.rule<name = "Residual Epilogue", apply = "epilogue(residual)", enabled = true, priority = 20, loc = "rules/fusion.dsl:15:3">,
  #spak_graph.rule<name = "Softmax CrossEntropy", apply = "fuse_softmax_xent", enabled = true, priority = 30, loc = "rules/fusion.dsl:20:3">,
  #spak_graph.rule<name = "Flash Attention", apply = "online_softmax", enabled = true, priority = 40, loc = "rules/fusion.dsl:25:3">,
  #spak_graph.rule<name = "MultiTensor Adam", apply = "multi_tensor_update", enabled = true, priority = 50, loc = "rules/fusion.dsl:30:3">,
  #spak_graph.rule<name = "GELU Grad Epilogue", apply = "epilogue(gelu_grad)", enabled = true, priority = 20, loc = "rules/fusion.dsl:46:3">])mlir";

std::string withRules(const std::string &body) {
  return std::string("module attributes {") + kRules + "} {\n" + body + "\n}\n";
}

size_t countFused(Module &m) {
  std::string text = m.print();
  size_t n = 0;
  for (size_t pos = text.find("spak_graph.fused"); pos != std::string::npos;
       pos = text.find("spak_graph.fused", pos + 1))
    ++n;
  return n;
}

/// Runs @fn before and after `pipeline`; the results must be bitwise equal and the pass must have
/// made `regions` regions.
void checkSame(const std::string &src, const std::string &pipeline, const std::vector<Tensor> &args,
               size_t regions) {
  Module unfused(withRules(src)), fused(withRules(src));
  REQUIRE(unfused.ok());
  REQUIRE(fused.ok());
  REQUIRE(fused.runPasses(pipeline));
  CHECK(countFused(fused) == regions);
  std::vector<Tensor> a = unfused.call("fn", args), b = fused.call("fn", args);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("result #" << i);
    CHECK(a[i].shape == b[i].shape);
    CHECK(a[i].data == b[i].data);
  }
}

} // namespace

TEST_CASE("norm_linear region = rmsnorm then the linears (q, k, v share the prologue)", "[fusion]") {
  std::mt19937_64 rng(1);
  const char *src = R"mlir(
func.func @fn(%x: tensor<1x5x16xf32>, %wq: tensor<16x16xf32>, %wk: tensor<16x16xf32>, %wv: tensor<16x16xf32>, %w1: tensor<64x16xf32>, %b1: tensor<64xf32>)
    -> (tensor<1x5x16xf32>, tensor<1x5x16xf32>, tensor<1x5x16xf32>, tensor<1x5x64xf32>, tensor<1x5x16xf32>) {
  %h = spak_graph.rmsnorm %x {eps = 1.0e-5 : f64} : (tensor<1x5x16xf32>) -> tensor<1x5x16xf32>
  %q = spak_graph.linear %h, %wq : (tensor<1x5x16xf32>, tensor<16x16xf32>) -> tensor<1x5x16xf32>
  %k = spak_graph.linear %h, %wk : (tensor<1x5x16xf32>, tensor<16x16xf32>) -> tensor<1x5x16xf32>
  %f = spak_graph.linear %h, %w1, %b1 : (tensor<1x5x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<1x5x64xf32>
  %v = spak_graph.linear %h, %wv : (tensor<1x5x16xf32>, tensor<16x16xf32>) -> tensor<1x5x16xf32>
  %r = spak_graph.relu %h : (tensor<1x5x16xf32>) -> tensor<1x5x16xf32>
  return %q, %k, %v, %f, %r : tensor<1x5x16xf32>, tensor<1x5x16xf32>, tensor<1x5x16xf32>, tensor<1x5x64xf32>, tensor<1x5x16xf32>
})mlir";
  std::vector<Tensor> args = {randn(rng, {1, 5, 16}), randn(rng, {16, 16}), randn(rng, {16, 16}),
                              randn(rng, {16, 16}),   randn(rng, {64, 16}), randn(rng, {64})};
  checkSame(src, "spak-fuse-norm-linear", args, 2);
  checkSame(src, "spak-fuse-norm-linear{share-prologue=false}", args, 4);
}

TEST_CASE("epilogue regions = linear then gelu / residual add", "[fusion]") {
  std::mt19937_64 rng(2);
  const char *src = R"mlir(
func.func @fn(%x: tensor<4x16xf32>, %w1: tensor<64x16xf32>, %b1: tensor<64xf32>, %w2: tensor<16x64xf32>, %dy: tensor<4x64xf32>)
    -> (tensor<4x16xf32>, tensor<4x64xf32>) {
  %a = spak_graph.linear %x, %w1, %b1 : (tensor<4x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  %g = spak_graph.gelu %a : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %y = spak_graph.linear %g, %w2 : (tensor<4x64xf32>, tensor<16x64xf32>) -> tensor<4x16xf32>
  %o = spak_graph.add %y, %x : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %d = spak_graph.gelu_grad %dy, %a : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  return %o, %d : tensor<4x16xf32>, tensor<4x64xf32>
})mlir";
  checkSame(src, "spak-fuse-epilogues",
            {randn(rng, {4, 16}), randn(rng, {64, 16}), randn(rng, {64}), randn(rng, {16, 64}),
             randn(rng, {4, 64})},
            2);
}

TEST_CASE("matmul_gelu_grad region = the data-gradient matmul then gelu_grad", "[fusion]") {
  std::mt19937_64 rng(7);
  // The MLP's backward: dh = dy · w2 (w2 [16, 64] read as [K, N]), dpre = gelu_grad(dh, pre); a rank-3 dy is
  // flattened into rows by the kernel, the region keeps the graph's shapes.
  const char *src = R"mlir(
func.func @fn(%dy: tensor<2x3x16xf32>, %w2: tensor<16x64xf32>, %pre: tensor<2x3x64xf32>) -> tensor<2x3x64xf32> {
  %h = spak_graph.matmul %dy, %w2 : (tensor<2x3x16xf32>, tensor<16x64xf32>) -> tensor<2x3x64xf32>
  %d = spak_graph.gelu_grad %h, %pre : (tensor<2x3x64xf32>, tensor<2x3x64xf32>) -> tensor<2x3x64xf32>
  return %d : tensor<2x3x64xf32>
})mlir";
  checkSame(src, "spak-fuse-epilogues", {randn(rng, {2, 3, 16}), randn(rng, {16, 64}), randn(rng, {2, 3, 64})}, 1);
  checkSame(src, "spak-fuse-epilogues{gelu-grad=false}",
            {randn(rng, {2, 3, 16}), randn(rng, {16, 64}), randn(rng, {2, 3, 64})}, 0);
}

TEST_CASE("softmax_xent region = cross_entropy and its gradient", "[fusion]") {
  std::mt19937_64 rng(3);
  const char *src = R"mlir(
func.func @fn(%logits: tensor<1x6x27xf32>, %t: tensor<1x6xi32>, %g: tensor<f32>) -> (tensor<f32>, tensor<1x6x27xf32>) {
  %l = spak_graph.cross_entropy %logits, %t : (tensor<1x6x27xf32>, tensor<1x6xi32>) -> tensor<f32>
  %d = spak_graph.cross_entropy_grad %g, %logits, %t : (tensor<f32>, tensor<1x6x27xf32>, tensor<1x6xi32>) -> tensor<1x6x27xf32>
  return %l, %d : tensor<f32>, tensor<1x6x27xf32>
})mlir";
  checkSame(src, "spak-fuse-softmax-xent",
            {randn(rng, {1, 6, 27}), randint(rng, {1, 6}, 27), Tensor::scalar(1.0)}, 1);
}

TEST_CASE("multi_tensor_adam region = the per-tensor adam ops", "[fusion]") {
  std::mt19937_64 rng(4);
  const char *src = R"mlir(
func.func @fn(%p0: tensor<4x4xf32>, %g0: tensor<4x4xf32>, %m0: tensor<4x4xf32>, %v0: tensor<4x4xf32>,
              %p1: tensor<8xf32>, %g1: tensor<8xf32>, %m1: tensor<8xf32>, %v1: tensor<8xf32>, %s: tensor<i32>)
    -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %a:3 = spak_graph.adam %p0, %g0, %m0, %v0, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "linear_decay", total_steps = 100 : i64} : (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<i32>) -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>)
  %b:3 = spak_graph.adam %p1, %g1, %m1, %v1, %s {lr = 0.01 : f64, beta1 = 0.85 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, schedule = "linear_decay", total_steps = 100 : i64} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %a#0, %a#1, %a#2, %b#0, %b#1, %b#2 : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
})mlir";
  Tensor v0 = randn(rng, {4, 4}), v1 = randn(rng, {8});
  for (double &x : v0.data)
    x = x * x;
  for (double &x : v1.data)
    x = x * x;
  checkSame(src, "spak-fuse-adam",
            {randn(rng, {4, 4}), randn(rng, {4, 4}), randn(rng, {4, 4}), v0, randn(rng, {8}),
             randn(rng, {8}), randn(rng, {8}), v1, Tensor::ints({}, {7})},
            1);
}

TEST_CASE("the whole spak-fusion pipeline preserves a transformer block", "[fusion]") {
  std::mt19937_64 rng(5);
  const char *src = R"mlir(
func.func @fn(%x: tensor<1x8x16xf32>, %wq: tensor<16x16xf32>, %wk: tensor<16x16xf32>, %wv: tensor<16x16xf32>, %wo: tensor<16x16xf32>)
    -> tensor<1x8x16xf32> {
  %h = spak_graph.rmsnorm %x : (tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  %q = spak_graph.linear %h, %wq : (tensor<1x8x16xf32>, tensor<16x16xf32>) -> tensor<1x8x16xf32>
  %k = spak_graph.linear %h, %wk : (tensor<1x8x16xf32>, tensor<16x16xf32>) -> tensor<1x8x16xf32>
  %v = spak_graph.linear %h, %wv : (tensor<1x8x16xf32>, tensor<16x16xf32>) -> tensor<1x8x16xf32>
  %a = spak_graph.attention %q, %k, %v {heads = 4 : i64, causal = true} : (tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  %o = spak_graph.linear %a, %wo : (tensor<1x8x16xf32>, tensor<16x16xf32>) -> tensor<1x8x16xf32>
  %y = spak_graph.add %x, %o : (tensor<1x8x16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  return %y : tensor<1x8x16xf32>
})mlir";
  checkSame(src, "spak-fusion",
            {randn(rng, {1, 8, 16}), randn(rng, {16, 16}), randn(rng, {16, 16}), randn(rng, {16, 16}),
             randn(rng, {16, 16})},
            2);
}
