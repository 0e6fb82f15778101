// Unit tests for spak/runtime/checkpoint.h: weights files and exact-resume checkpoints.
#include "test_util.h"

#include "spak/runtime/checkpoint.h"
#include "spak/runtime/data.h"

using namespace spak::rt;

namespace {
Layout tiny_layout() {
  Layout lay;
  lay.add("wte", {5, 4});
  lay.add("layer0.mlp_fc1", {3, 4});
  return lay;
}
void fill(Arena& a, const std::string& section, float base) {
  float* p = a.section(section);
  for (size_t i = 0; i < a.section_floats(); ++i) p[i] = base + float(i);
}
}  // namespace

TEST_CASE("checkpoint: weights files round-trip and are validated", "[checkpoint]") {
  spak_test::TempDir dir;
  Arena a(tiny_layout(), {"param", "grad"});
  fill(a, "param", 0.5f);
  save_weights(dir.file("w.safetensors"), a, "param", {{"spak.model", "Tiny"}});

  Arena b(tiny_layout(), {"param"});
  auto meta = load_weights(dir.file("w.safetensors"), b);
  CHECK(meta.at("spak.format") == kWeightsFormat);
  CHECK(meta.at("spak.model") == "Tiny");
  for (const auto& t : b.layout().tensors())
    for (size_t i = 0; i < t.numel; ++i) REQUIRE(b.view("param", t)[i] == a.view("param", t)[i]);

  Layout other;
  other.add("wte", {6, 4});
  other.add("layer0.mlp_fc1", {3, 4});
  Arena c(other, {"param"});
  REQUIRE_ERROR_CONTAINS(load_weights(dir.file("w.safetensors"), c), "has shape [5, 4], expected [6, 4]");
  Layout more = tiny_layout();
  more.add("lm_head", {5, 4});
  Arena d(more, {"param"});
  REQUIRE_ERROR_CONTAINS(load_weights(dir.file("w.safetensors"), d), "has no tensor 'lm_head'");
}

TEST_CASE("checkpoint: resume restores weights, optimizer state, step, cursor and RNG", "[checkpoint]") {
  spak_test::TempDir dir;
  Arena a(tiny_layout(), {"param", "grad", "adam_m", "adam_v"});
  fill(a, "param", 1.0f);
  fill(a, "adam_m", 100.0f);
  fill(a, "adam_v", 200.0f);
  fill(a, "grad", 7.0f);
  PyRandom rng(42);
  for (int i = 0; i < 10; ++i) rng.gauss();
  rng.gauss();  // leave a cached Box-Muller value in the state
  TrainState st;
  st.step = 500;
  st.total_steps = 1000;
  st.data_cursor = 32040;
  st.rng_state = rng.state();
  st.extra["spak.model"] = "Tiny";
  save_checkpoint(dir.file("c.safetensors"), a, {"param", "adam_m", "adam_v"}, st);

  Arena b(tiny_layout(), {"param", "grad", "adam_m", "adam_v"});
  TrainState r = load_checkpoint(dir.file("c.safetensors"), b, {"param", "adam_m", "adam_v"});
  CHECK(r.step == 500);
  CHECK(r.total_steps == 1000);
  CHECK(r.data_cursor == 32040);
  CHECK(r.extra.at("spak.model") == "Tiny");
  CHECK(r.extra.count("spak.step") == 0);
  for (const char* s : {"param", "adam_m", "adam_v"})
    for (const auto& t : a.layout().tensors())  // padding between tensors is not saved
      for (size_t i = 0; i < t.numel; ++i) REQUIRE(b.view(s, t)[i] == a.view(s, t)[i]);
  CHECK(b.section("grad")[0] == 0.0f);  // gradients are not saved
  PyRandom resumed;
  resumed.set_state(r.rng_state);
  for (int i = 0; i < 50; ++i) REQUIRE(resumed.gauss() == rng.gauss());

  // A checkpoint is also a weights file.
  Arena w(tiny_layout(), {"param"});
  load_weights(dir.file("c.safetensors"), w);
  CHECK(w.section("param")[3] == a.section("param")[3]);
  // A weights file is not a checkpoint.
  save_weights(dir.file("w.safetensors"), a);
  REQUIRE_ERROR_CONTAINS(load_checkpoint(dir.file("w.safetensors"), b, {"param"}),
                         "is not a spak checkpoint (spak.format is 'spak-weights-v1'");
  // A checkpoint without optimizer state cannot resume an Adam run.
  save_checkpoint(dir.file("p.safetensors"), a, {"param"}, st);
  REQUIRE_ERROR_CONTAINS(load_checkpoint(dir.file("p.safetensors"), b, {"param", "adam_m"}),
                         "has no tensor 'adam_m/wte'");
  st.rng_state.resize(3);
  REQUIRE_ERROR_CONTAINS(save_checkpoint(dir.file("x.safetensors"), a, {"param"}, st), "RNG state has 3 words");
}

TEST_CASE("checkpoint: resuming a documents cursor continues with the same document", "[checkpoint]") {
  Documents docs = Documents::load(std::string(SPAK_SHARED_DIR) + "/data/names/names.txt");
  PyRandom rng(42);
  docs.shuffle(rng);
  for (int i = 0; i < 7; ++i) docs.next();
  uint64_t saved = docs.cursor();
  std::vector<int32_t> expected = docs.next();
  Documents again = Documents::load(std::string(SPAK_SHARED_DIR) + "/data/names/names.txt");
  PyRandom rng2(42);
  again.shuffle(rng2);
  again.set_cursor(saved);
  CHECK(again.next() == expected);
}
