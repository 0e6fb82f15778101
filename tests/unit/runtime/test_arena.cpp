// Unit tests for spak/runtime/arena.h: aligned offsets, sections, lookups and errors.
#include "test_util.h"

#include <cstdint>

#include "spak/runtime/arena.h"

using namespace spak::rt;

TEST_CASE("arena: MicroGPT's parameters laid out in sections", "[arena]") {
  Layout lay;
  lay.add("wte", {27, 16});
  lay.add("wpe", {16, 16});
  lay.add("lm_head", {27, 16});
  for (const char* n : {"attn_wq", "attn_wk", "attn_wv", "attn_wo"}) lay.add(std::string("layer0.") + n, {16, 16});
  lay.add("layer0.mlp_fc1", {64, 16});
  lay.add("layer0.mlp_fc2", {16, 64});
  CHECK(lay.numel() == 4192);  // MODELS.md: 4,192 parameters
  CHECK(lay.at("wpe").offset == 432);  // 27*16 = 432 is already a multiple of 16
  for (const auto& t : lay.tensors()) CHECK(t.offset % 16 == 0);

  Arena a(lay, {"param", "grad", "adam_m", "adam_v"});
  CHECK(a.section_floats() == lay.total_floats());
  CHECK(a.total_floats() == 4 * lay.total_floats());
  CHECK(reinterpret_cast<uintptr_t>(a.data()) % 256 == 0);
  CHECK(a.section("grad") == a.data() + lay.total_floats());
  TensorRef w = a.view("adam_v", "layer0.mlp_fc1");
  CHECK(w.data == a.section("adam_v") + lay.at("layer0.mlp_fc1").offset);
  CHECK(w.numel() == 1024);
  CHECK(w.shape() == std::vector<int64_t>{64, 16});
  for (size_t i = 0; i < a.total_floats(); ++i) REQUIRE(a.data()[i] == 0.0f);  // zero-filled
  w[3] = 2.0f;
  CHECK(a.section("adam_v")[lay.at("layer0.mlp_fc1").offset + 3] == 2.0f);
  a.zero_section("adam_v");
  CHECK(w[3] == 0.0f);
}

TEST_CASE("arena: unaligned sizes are padded and errors are precise", "[arena]") {
  Layout lay(8);
  lay.add("a", {3});
  lay.add("b", {5, 2});
  lay.add("s", {});  // a scalar
  CHECK(lay.at("b").offset == 8);
  CHECK(lay.at("s").offset == 24);
  CHECK(lay.at("s").numel == 1);
  CHECK(lay.total_floats() == 32);

  REQUIRE_ERROR_CONTAINS(lay.add("a", {1}), "duplicate tensor name 'a'");
  REQUIRE_ERROR_CONTAINS(lay.add("z", {2, 0}), "non-positive dimension in shape [2, 0]");
  REQUIRE_ERROR_CONTAINS(lay.at("c"), "no tensor named 'c' (known: a, b, s)");
  REQUIRE_ERROR_CONTAINS(Layout(12), "power of two");
  Arena ar(lay, {"param"});
  REQUIRE_ERROR_CONTAINS(ar.section("grad"), "no section 'grad' (sections: param)");
  REQUIRE_ERROR_CONTAINS(Arena(lay, {"p", "p"}), "duplicate section name 'p'");
}
